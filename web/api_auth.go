package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"snowlight/audit"
	"snowlight/auth"
)

// everyone is every role: routes any logged-in user may call.
func everyone() []auth.Role { return auth.Roles() }

func (s *Server) builtinRoutes() []Route {
	return []Route{
		{Pattern: "POST /api/v1/login", Name: "auth.login", Policy: Policy{Public: true}, Handler: http.HandlerFunc(s.login)},
		{Pattern: "POST /api/v1/logout", Name: "auth.logout", Policy: Policy{Roles: everyone()}, Handler: http.HandlerFunc(s.logout)},
		{Pattern: "GET /api/v1/me", Name: "me", Policy: Policy{Roles: everyone()}, Handler: http.HandlerFunc(s.me)},
		{Pattern: "POST /api/v1/me/password", Name: "me.password", Policy: Policy{Roles: everyone()}, Handler: http.HandlerFunc(s.changePassword)},
		{Pattern: "GET /api/v1/users", Name: "users.list", Policy: Policy{Roles: []auth.Role{auth.Admin}}, Handler: http.HandlerFunc(s.listUsers)},
		{Pattern: "POST /api/v1/users", Name: "users.create", Policy: Policy{Roles: []auth.Role{auth.Admin}}, Handler: http.HandlerFunc(s.createUser)},
		{Pattern: "POST /api/v1/users/{id}/disable", Name: "users.disable", Policy: Policy{Roles: []auth.Role{auth.Admin}}, Handler: http.HandlerFunc(s.disableUser)},
		{Pattern: "GET /api/v1/audit", Name: "audit.read", Policy: Policy{Roles: []auth.Role{auth.Auditor, auth.Admin}, Audit: AuditAccess}, Handler: http.HandlerFunc(s.readAudit)},
		{Pattern: "GET /api/v1/audit/verify", Name: "audit.verify", Policy: Policy{Roles: []auth.Role{auth.Auditor, auth.Admin}, Audit: AuditAccess}, Handler: http.HandlerFunc(s.verifyAudit)},
	}
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// Session asks for a console session (cookies) instead of an API token.
	Session bool `json:"session"`
}

type loginResponse struct {
	Token   string    `json:"token,omitempty"`
	CSRF    string    `json:"csrf,omitempty"`
	Expires time.Time `json:"expires"`
	User    auth.User `json:"user"`
}

// login answers POST /api/v1/login. Machines get {"token"}, to send as "Authorization: Bearer"; the
// console asks for {"session": true} and gets an HttpOnly session cookie plus the CSRF token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := DecodeJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	if req.User == "" || req.Password == "" {
		WriteError(w, http.StatusBadRequest, `give "user" and "password"`)
		return
	}
	kind := auth.KindToken
	if req.Session {
		kind = auth.KindSession
	}
	client := s.clientAddr(r)
	iss, err := s.auth.Login(r.Context(), auth.LoginRequest{Name: req.User, Password: req.Password, Client: client, Kind: kind})
	if le, ok := errors.AsType[*auth.LockedError](err); ok {
		// Not audited: locked attempts cost nothing to send, and would let anyone flood the log.
		s.metrics.logins.WithLabelValues("locked").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(le.RetryAfter.Seconds()))))
		WriteError(w, http.StatusTooManyRequests, le.Error())
		return
	}
	if lf, ok := errors.AsType[*auth.LoginFailure](err); ok {
		s.metrics.logins.WithLabelValues("failed").Inc()
		name, nerr := auth.NormalizeName(req.User)
		if nerr != nil {
			name = "(invalid name)"
		}
		d := map[string]string{"client": client.String(), "reason": lf.Reason}
		if lf.Locked {
			d["locked"] = "true"
		}
		if _, aerr := s.audit.Append(r.Context(), audit.Record{Actor: "anonymous", Action: "auth.login.failed", Target: name, Details: d}); aerr != nil {
			Fail(w, r, aerr)
			return
		}
		WriteError(w, http.StatusUnauthorized, lf.Error())
		return
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	if ri := infoFrom(r.Context()); ri != nil {
		ri.user, ri.role = iss.User.Name, string(iss.User.Role)
	}
	if _, err := s.audit.Append(r.Context(), audit.Record{Actor: iss.User.Name, Role: string(iss.User.Role), Action: "auth.login",
		Target: iss.User.Name, Details: map[string]string{"client": client.String(), "kind": string(kind)}}); err != nil {
		Fail(w, r, err)
		return
	}
	resp := loginResponse{Expires: iss.Expires, User: iss.User}
	if kind == auth.KindToken {
		resp.Token = iss.Secret
	} else {
		resp.CSRF = auth.CSRFToken(iss.Secret)
		s.setCookies(w, r, iss.Secret, resp.CSRF, iss.Expires)
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) setCookies(w http.ResponseWriter, r *http.Request, session, csrf string, expires time.Time) {
	secure := r.TLS != nil || s.opts.SecureCookies
	maxAge := 0
	if session == "" {
		maxAge = -1 // delete
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: session, Path: "/", Expires: expires, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	// The CSRF token is readable by the console's own script (not HttpOnly); another site can neither
	// read it nor make the browser send it in a header.
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", Expires: expires, MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	if err := s.auth.Logout(r.Context(), p); err != nil {
		Fail(w, r, err)
		return
	}
	s.ended.notify()
	if p.Kind == auth.KindSession {
		s.setCookies(w, r, "", "", time.Time{})
	}
	if err := s.record(r, "auth.logout", p.User.Name, map[string]string{"kind": string(p.Kind)}); err != nil {
		Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type meResponse struct {
	User auth.User `json:"user"`
	// CSRF is the token to send in X-CSRF-Token, for a console that reloaded and lost it.
	CSRF string `json:"csrf,omitempty"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	resp := meResponse{User: p.User}
	if p.Kind == auth.KindSession {
		if ck, err := r.Cookie(SessionCookie); err == nil {
			resp.CSRF = auth.CSRFToken(ck.Value)
		}
	}
	WriteJSON(w, http.StatusOK, resp)
}

type passwordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// changePassword lets any user replace their own password; every session and token of theirs ends, so
// the client logs in again.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	var req passwordRequest
	if err := DecodeJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	err := s.auth.ChangePassword(r.Context(), p, s.clientAddr(r), req.Current, req.New)
	if le, ok := errors.AsType[*auth.LockedError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(le.RetryAfter.Seconds()))))
		WriteError(w, http.StatusTooManyRequests, le.Error())
		return
	}
	if errors.Is(err, auth.ErrBadCredentials) {
		WriteError(w, http.StatusForbidden, "the current password is wrong")
		return
	}
	if errors.Is(err, auth.ErrInvalid) {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	s.ended.notify()
	if p.Kind == auth.KindSession {
		s.setCookies(w, r, "", "", time.Time{})
	}
	if err := s.record(r, "user.password", p.User.Name, nil); err != nil {
		Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// record writes an audit entry for an action the handler just performed, as the request's principal and
// with its case if it has one.
func (s *Server) record(r *http.Request, action, target string, details map[string]string) error {
	_, err := s.audit.Append(r.Context(), AuditRecord(r, action, target, details))
	return err
}

// AuditRecord fills an audit record for a request: the principal as actor, the case and reason when the
// route required them, and the client address. Handlers append it after the change they record.
func AuditRecord(r *http.Request, action, target string, details map[string]string) audit.Record {
	rec := audit.Record{Action: action, Target: target, Details: details}
	if p, ok := auth.FromContext(r.Context()); ok {
		rec.Actor, rec.Role = p.User.Name, string(p.User.Role)
	}
	if c, ok := audit.FromContext(r.Context()); ok {
		rec.Case, rec.Reason = c.Number, c.Reason
	}
	return rec
}
