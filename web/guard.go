package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"snowlight/audit"
	"snowlight/auth"
)

// Names of the cookies and headers the console and API clients use.
const (
	SessionCookie = "snowlight_session"
	// CSRFCookie holds the session's anti-forgery token where the console's script can read it; the
	// script sends it back in CSRFHeader with every state-changing request.
	CSRFCookie = "snowlight_csrf"
	CSRFHeader = "X-CSRF-Token"
	// CaseHeader and ReasonHeader carry the case of an AuditCase request when the query cannot.
	CaseHeader   = "X-Snowlight-Case"
	ReasonHeader = "X-Snowlight-Reason"
)

// guard enforces a route's policy before its handler runs: authentication, CSRF for cookie sessions,
// role, scope, and the case requirement and audit entry.
func (s *Server) guard(rt Route, info RouteInfo) http.Handler {
	limit := rt.MaxBodyBytes
	if limit <= 0 {
		limit = s.opts.MaxBodyBytes
	}
	pol := rt.Policy
	action := pol.Action
	if action == "" {
		action = info.Name
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		if ri != nil {
			ri.route = info.Name
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if pol.Public {
			rt.Handler.ServeHTTP(w, r)
			return
		}
		p, secret, err := s.authenticate(r)
		if errors.Is(err, auth.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="snowlight"`)
			WriteError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if err != nil {
			Fail(w, r, err)
			return
		}
		if ri != nil {
			ri.user, ri.role = p.User.Name, string(p.User.Role)
		}
		if p.Kind == auth.KindSession && !safeMethod(r.Method) && !auth.ValidCSRF(secret, r.Header.Get(CSRFHeader)) {
			WriteError(w, http.StatusForbidden, "missing or wrong "+CSRFHeader+" header: reload the console and try again")
			return
		}
		if !pol.admits(p.User.Role) {
			WriteError(w, http.StatusForbidden, fmt.Sprintf("your role (%s) may not do this", p.User.Role))
			return
		}
		if pol.Scope != nil && !pol.Scope(r, p) {
			WriteError(w, http.StatusForbidden, "this is outside the cameras, areas or persons assigned to you")
			return
		}
		ctx := context.WithValue(auth.NewContext(r.Context(), p), loginKey{}, login{s, p})
		var c audit.Case
		if pol.Audit == AuditCase {
			if c, err = caseOf(r); err != nil {
				WriteError(w, http.StatusBadRequest, err.Error())
				return
			}
			ctx = audit.NewContext(ctx, c)
		}
		if pol.Audit != AuditNone {
			rec := audit.Record{Actor: p.User.Name, Role: string(p.User.Role), Action: action, Target: r.URL.Path,
				Case: c.Number, Reason: c.Reason, Details: s.requestDetails(r, pol.Audit == AuditCase)}
			if _, err := s.audit.Append(ctx, rec); err != nil {
				// Fail closed: an identity-revealing action that cannot be recorded does not happen.
				Fail(w, r, err)
				return
			}
		}
		rt.Handler.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authenticate finds the caller: a bearer token in Authorization, else the session cookie. It also
// returns the secret presented (the session id is needed to check the CSRF token).
func (s *Server) authenticate(r *http.Request) (auth.Principal, string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return auth.Principal{}, "", auth.ErrUnauthenticated
		}
		tok = strings.TrimSpace(tok)
		p, err := s.auth.Authenticate(r.Context(), tok, auth.KindToken)
		return p, tok, err
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return auth.Principal{}, "", auth.ErrUnauthenticated
	}
	p, err := s.auth.Authenticate(r.Context(), ck.Value, auth.KindSession)
	return p, ck.Value, err
}

func caseOf(r *http.Request) (audit.Case, error) {
	q := r.URL.Query()
	num, reason := q.Get("case"), q.Get("reason")
	if num == "" {
		num = r.Header.Get(CaseHeader)
	}
	if reason == "" {
		reason = r.Header.Get(ReasonHeader)
	}
	return audit.ParseCase(num, reason)
}

// requestDetails is what an automatic audit entry records about the request besides its path. On
// AuditCase routes the case and reason have their own fields and leave the query.
func (s *Server) requestDetails(r *http.Request, caseRoute bool) map[string]string {
	d := map[string]string{"method": r.Method, "client": s.clientAddr(r).String()}
	q := r.URL.Query()
	if caseRoute {
		q.Del("case")
		q.Del("reason")
	}
	if len(q) > 0 {
		d["query"] = q.Encode()
	}
	return d
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// clientAddr is the address of the client: the peer, or, when the peer is a trusted proxy, the
// right-most address in X-Forwarded-For that is not itself a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if !s.trusted(a) {
		return a
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return a
		}
		a = h.Unmap()
		if !s.trusted(a) {
			return a
		}
	}
	return a
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
