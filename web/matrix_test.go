package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web"
	"snowlight/web/webtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleRoutes stand for the routes other parts add: an identity-revealing query that needs a case, a
// camera scoped to operators' assignments, and a guardian's view of the person they guard.
func sampleRoutes() []web.Route {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		c, _ := audit.FromContext(r.Context())
		web.WriteJSON(w, http.StatusOK, map[string]string{"user": p.User.Name, "case": c.Number, "reason": c.Reason})
	})
	return []web.Route{
		{Pattern: "GET /api/v1/sample/persons/{id}/trajectory", Name: "sample.trajectory", Handler: echo,
			Policy: web.Policy{Roles: []auth.Role{auth.Investigator, auth.Admin}, Audit: web.AuditCase}},
		{Pattern: "GET /api/v1/sample/cameras/{id}", Name: "sample.camera", Handler: echo,
			Policy: web.Policy{Roles: []auth.Role{auth.Operator, auth.Investigator, auth.Admin}, Scope: web.CameraInPath("id", nil)}},
		{Pattern: "GET /api/v1/sample/guarded/{id}", Name: "sample.guarded", Handler: echo,
			Policy: web.Policy{Roles: []auth.Role{auth.Guardian, auth.Admin}, Scope: web.PersonInPath("id")}},
	}
}

// TestRouteRoleMatrix checks every route the server registers against every role. A route added without
// a row here fails.
func TestRouteRoleMatrix(t *testing.T) {
	e := webtest.New(t, webtest.Config{Routes: sampleRoutes(),
		Scopes: map[auth.Role]auth.Scope{auth.Guardian: {Persons: []string{"1"}}}})
	victim, _ := e.AddUser(t, "matrix-victim", auth.Patrol, auth.Scope{})
	admin := []auth.Role{auth.Admin}
	all := auth.Roles()
	webtest.RoleMatrix(t, e.Target(), webtest.Matrix{
		"POST /api/v1/login":              {Public: true},
		"POST /api/v1/logout":             {Allowed: all},
		"GET /api/v1/me":                  {Allowed: all},
		"POST /api/v1/me/password":        {Allowed: all},
		"GET /api/v1/users":               {Allowed: admin},
		"POST /api/v1/users":              {Allowed: admin, Body: `{"name":"matrix-made","role":"patrol"}`},
		"POST /api/v1/users/{id}/disable": {Allowed: admin, Path: fmt.Sprintf("/api/v1/users/%d/disable", victim.ID)},
		"GET /api/v1/audit":               {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /api/v1/audit/verify":        {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /healthz":                    {Public: true},
		"GET /metrics":                    {Allowed: admin},

		"GET /api/v1/sample/persons/{id}/trajectory": {Allowed: []auth.Role{auth.Investigator, auth.Admin}},
		"GET /api/v1/sample/cameras/{id}":            {Allowed: []auth.Role{auth.Operator, auth.Investigator, auth.Admin}},
		"GET /api/v1/sample/guarded/{id}":            {Allowed: []auth.Role{auth.Guardian, auth.Admin}},
	}, nil)
}

func TestNewRefusesRoutesWithoutAClearPolicy(t *testing.T) {
	ok := http.NotFoundHandler()
	e := webtest.New(t, webtest.Config{})
	for _, c := range []struct {
		name string
		r    web.Route
		want string
	}{
		{"no policy", web.Route{Pattern: "GET /x", Handler: ok}, "no policy"},
		{"public with roles", web.Route{Pattern: "GET /x", Handler: ok, Policy: web.Policy{Public: true, Roles: []auth.Role{auth.Admin}}}, "public route"},
		{"public audited", web.Route{Pattern: "GET /x", Handler: ok, Policy: web.Policy{Public: true, Audit: web.AuditCase}}, "public route"},
		{"no method", web.Route{Pattern: "/x", Handler: ok, Policy: web.Policy{Public: true}}, "METHOD /path"},
		{"no handler", web.Route{Pattern: "GET /x", Policy: web.Policy{Public: true}}, "no handler"},
		{"unknown role", web.Route{Pattern: "GET /x", Handler: ok, Policy: web.Policy{Roles: []auth.Role{"chief"}}}, "unknown role"},
		{"duplicate of a built-in", web.Route{Pattern: "GET /api/v1/me", Handler: ok, Policy: web.Policy{Public: true}}, "conflicts"},
	} {
		_, err := web.New(web.Options{Auth: e.Auth, Audit: e.Audit}, c.r)
		assert.ErrorContains(t, err, c.want, c.name)
	}
}

func TestMatrixNoticesMissingAndStaleRows(t *testing.T) {
	e := webtest.New(t, webtest.Config{Routes: sampleRoutes()})
	m := webtest.Matrix{"GET /api/v1/gone": {Public: true}}
	problems := m.Check(e.Server.Routes())
	require.Len(t, problems, len(e.Server.Routes())+1, "one for each route and one for the stale row")
	assert.Contains(t, problems[0], `role matrix row "GET /api/v1/gone" matches no registered route`)
	assert.Contains(t, problems[len(problems)-1], "has no row in the role matrix")
}
