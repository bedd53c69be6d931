// Package web is the HTTP side of the product: a route table in which every route states its policy
// (who may call it, whether it needs a case number and is audited, how it is scoped), the middleware
// every request passes (security headers, authentication, CSRF, body limits, access logs, panic
// recovery, JSON errors), the account and audit API, and the health and metrics endpoints.
//
// Other parts add routes as Route values passed to New; handlers read the caller with auth.FromContext
// and the case of an audited request with audit.FromContext.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"snowlight/audit"
	"snowlight/auth"
)

// Options configures a Server.
type Options struct {
	Auth  *auth.Service // required
	Audit *audit.Log    // required
	Log   *slog.Logger  // slog.Default() when nil
	// Registry gets the server's metrics and is what /metrics serves; a new registry when nil.
	Registry *prometheus.Registry
	// OpsSeparate serves /healthz and /metrics only from OpsHandler, for a listen address that only
	// the monitoring network reaches, where both are public. Otherwise the main handler serves them
	// too: /healthz to anyone, /metrics to admins only.
	OpsSeparate bool
	// Health reports whether the process can serve (e.g. the database answers); always healthy when nil.
	Health func(context.Context) error
	// MaxBodyBytes limits request bodies (1 MiB when zero); Route.MaxBodyBytes overrides it per route.
	MaxBodyBytes int64
	// SecureCookies marks cookies Secure even on plain HTTP, for a TLS-terminating proxy in front;
	// requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// TrustedProxies may set X-Forwarded-For; the client address of other requests is the peer's.
	TrustedProxies []netip.Prefix
	// TrustedOrigins may send state-changing requests from another origin (e.g. "https://console.city").
	TrustedOrigins []string
	// MediaSources are added to the CSP's img-src and media-src, for example the object store's origin
	// that presigned snapshot and clip URLs point to.
	MediaSources []string
	// Recheck is how often a request that stays open (an alert stream, a live view) checks that its
	// login still holds [2 s]; it also checks at once when this server ends a login.
	Recheck time.Duration
}

// Server is the HTTP server's handlers and their route table.
type Server struct {
	opts    Options
	log     *slog.Logger
	auth    *auth.Service
	audit   *audit.Log
	metrics *metrics
	csp     string
	origins *http.CrossOriginProtection

	main, ops       http.Handler
	routes, opsList []RouteInfo

	ended endedLogins
}

// New builds the server from the built-in routes (login, logout, me, users, audit, health, metrics)
// and the given ones. It fails if any route lacks a policy or conflicts with another.
func New(opts Options, routes ...Route) (*Server, error) {
	if opts.Auth == nil || opts.Audit == nil {
		return nil, errors.New("web: Options.Auth and Options.Audit are required")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Recheck <= 0 {
		opts.Recheck = 2 * time.Second
	}
	var err error
	s := &Server{opts: opts, log: opts.Log, auth: opts.Auth, audit: opts.Audit, origins: http.NewCrossOriginProtection(),
		ended: endedLogins{ch: make(chan struct{})}}
	for _, o := range opts.TrustedOrigins {
		if err := s.origins.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("web: trusted origin: %w", err)
		}
	}
	s.origins.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusForbidden, "cross-origin request refused: use the console served by this server")
	}))
	if s.csp, err = contentSecurityPolicy(opts.MediaSources); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m

	mainRoutes := append(s.builtinRoutes(), routes...)
	opsRoutes := s.opsRoutes(Policy{Public: true})
	if !opts.OpsSeparate {
		mainRoutes = append(mainRoutes, s.opsRoutes(Policy{Roles: []auth.Role{auth.Admin}})...)
	}
	if s.main, s.routes, err = s.build(mainRoutes); err != nil {
		return nil, err
	}
	if s.ops, s.opsList, err = s.build(opsRoutes); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) build(routes []Route) (http.Handler, []RouteInfo, error) {
	mux := http.NewServeMux()
	infos := make([]RouteInfo, 0, len(routes))
	for _, rt := range routes {
		info, err := rt.validate()
		if err != nil {
			return nil, nil, fmt.Errorf("web: %w", err)
		}
		if err := register(mux, rt.Pattern, s.guard(rt, info)); err != nil {
			return nil, nil, fmt.Errorf("web: %w", err)
		}
		infos = append(infos, info)
	}
	return s.outer(dispatch(mux)), infos, nil
}

// Handler is the main listener's handler.
func (s *Server) Handler() http.Handler { return s.main }

// OpsHandler serves /healthz and /metrics to anyone, for a separate listen address.
func (s *Server) OpsHandler() http.Handler { return s.ops }

// Routes lists the main handler's routes.
func (s *Server) Routes() []RouteInfo { return append([]RouteInfo(nil), s.routes...) }

// Serve serves h on ln until ctx is cancelled, then shuts down, giving requests in flight a few seconds.
// Handlers' contexts derive from ctx, so long-lived streams end with it.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		return fmt.Errorf("shut down http on %s: %w", ln.Addr(), err)
	}
	return nil
}

func contentSecurityPolicy(media []string) (string, error) {
	csp := "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	if len(media) == 0 {
		return csp, nil
	}
	src := []string{"'self'"}
	for _, m := range media {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" ||
			u.RawQuery != "" || u.User != nil || strings.ContainsAny(m, " ;,'") {
			return "", fmt.Errorf("web: media source %q: want an origin such as https://minio.example:9000", m)
		}
		src = append(src, u.Scheme+"://"+u.Host)
	}
	return csp + "; img-src " + strings.Join(src, " ") + "; media-src " + strings.Join(src, " "), nil
}
