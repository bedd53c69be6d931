package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"snowlight/auth"
)

// Route is one entry of the route table: what it matches, who may call it, and what answers.
type Route struct {
	// Pattern is a net/http ServeMux pattern that starts with a method: "GET /api/v1/alerts/{id}".
	Pattern string
	// Name names the route in metrics, access logs and audit entries ("alerts.get"); the pattern when
	// empty.
	Name   string
	Policy Policy
	// Handler answers. It finds the caller with auth.FromContext and, on AuditCase routes, the case with
	// audit.FromContext.
	Handler http.Handler
	// MaxBodyBytes overrides Options.MaxBodyBytes for this route (e.g. photo uploads).
	MaxBodyBytes int64
}

// Policy says who may use a route. The zero Policy admits nobody, and New refuses a route that has it:
// every route states its rule.
type Policy struct {
	// Public routes need no login (the login route itself, health checks, console assets). They never
	// see a principal, so they cannot act for anyone.
	Public bool
	// Roles lists the roles admitted; the others get 403.
	Roles []auth.Role
	// Audit says what is recorded before the handler runs.
	Audit AuditMode
	// Action is the audit action; the route's Name when empty.
	Action string
	// Scope, when set, runs after the role check and refuses (403) requests for things outside the
	// caller's scope, e.g. a camera an operator is not assigned (see CameraInPath, PersonInPath).
	Scope ScopeFunc
}

// AuditMode says how a route is audited.
type AuditMode int

const (
	// AuditNone records nothing automatically (handlers that change state record what they changed).
	AuditNone AuditMode = iota
	// AuditAccess records every call: who, when, which path and query.
	AuditAccess
	// AuditCase is for identity-revealing actions: the request must carry a case number and a reason
	// (query parameters case and reason, or headers X-Snowlight-Case and X-Snowlight-Reason), or it is
	// refused with 400; the call is recorded with them before the handler runs.
	AuditCase
)

func (m AuditMode) String() string {
	switch m {
	case AuditNone:
		return "none"
	case AuditAccess:
		return "access"
	case AuditCase:
		return "case"
	}
	return fmt.Sprintf("AuditMode(%d)", int(m))
}

// ScopeFunc reports whether the principal may make this request.
type ScopeFunc func(r *http.Request, p auth.Principal) bool

// CameraInPath scopes a route to the camera named by the path wildcard param. area maps a camera to its
// area (for operators scoped by area); nil when areas are not configured.
func CameraInPath(param string, area func(camera string) string) ScopeFunc {
	return func(r *http.Request, p auth.Principal) bool {
		cam := r.PathValue(param)
		a := ""
		if area != nil {
			a = area(cam)
		}
		return p.CanSeeCamera(cam, a)
	}
}

// PersonInPath scopes a route to the watch-list person named by the path wildcard param.
func PersonInPath(param string) ScopeFunc {
	return func(r *http.Request, p auth.Principal) bool { return p.CanSeePerson(r.PathValue(param)) }
}

// RouteInfo describes a registered route, for tests and documentation.
type RouteInfo struct {
	Pattern, Method, Path, Name string
	Policy                      Policy
}

func (rt Route) validate() (RouteInfo, error) {
	method, path, ok := strings.Cut(rt.Pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") || strings.ToUpper(method) != method {
		return RouteInfo{}, fmt.Errorf("route %q: pattern must be \"METHOD /path\"", rt.Pattern)
	}
	if rt.Handler == nil {
		return RouteInfo{}, fmt.Errorf("route %s: no handler", rt.Pattern)
	}
	p := rt.Policy
	switch {
	case !p.Public && len(p.Roles) == 0:
		return RouteInfo{}, fmt.Errorf("route %s: no policy: set Policy.Roles, or Policy.Public for a route anyone may call", rt.Pattern)
	case p.Public && (len(p.Roles) > 0 || p.Scope != nil || p.Audit != AuditNone):
		return RouteInfo{}, fmt.Errorf("route %s: a public route has no roles, scope or audit (it has no principal)", rt.Pattern)
	case p.Audit < AuditNone || p.Audit > AuditCase:
		return RouteInfo{}, fmt.Errorf("route %s: unknown audit mode %d", rt.Pattern, p.Audit)
	}
	for _, r := range p.Roles {
		if _, err := auth.ParseRole(string(r)); err != nil {
			return RouteInfo{}, fmt.Errorf("route %s: %w", rt.Pattern, err)
		}
	}
	name := rt.Name
	if name == "" {
		name = rt.Pattern
	}
	return RouteInfo{Pattern: rt.Pattern, Method: method, Path: path, Name: name, Policy: p}, nil
}

// register adds the route to mux, turning ServeMux's panic on a conflicting pattern into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route %s: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

func (p Policy) admits(r auth.Role) bool { return slices.Contains(p.Roles, r) }
