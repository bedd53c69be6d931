package webtest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"snowlight/auth"
	"snowlight/web"
)

// Expect is one row of the route x role matrix: who may use a route, stated independently of the route's
// own policy so that a policy change shows up as a failing test.
type Expect struct {
	Public  bool        // anyone, without logging in
	Allowed []auth.Role // roles that may use it; every other role must get 403
	// Path is the concrete path to request; by default the pattern's path with every {wildcard} set to
	// "1". The matrix adds case and reason query parameters so AuditCase routes are exercised.
	Path string
	// Body is sent (as JSON) with methods other than GET and HEAD; "{}" when empty.
	Body string
}

// Matrix maps route patterns ("GET /api/v1/users") to their rows.
type Matrix map[string]Expect

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// RoleMatrix requests every route the server registered, as nobody and as each role, with a fresh
// bearer token each time, and checks the status: 401 for nobody on a non-public route, 403 for a role
// not allowed, and for those allowed anything but 401, 403 or a server error. A route without a row, or
// a row without a route, fails the test.
func RoleMatrix(t *testing.T, e *Env, m Matrix) {
	t.Helper()
	for _, p := range m.Check(e.Server.Routes()) {
		t.Error(p)
	}
	for _, ri := range e.Server.Routes() {
		exp, ok := m[ri.Pattern]
		if !ok {
			continue
		}
		path := exp.Path
		if path == "" {
			path = strings.ReplaceAll(ri.Path, "{$}", "")
			path = wildcard.ReplaceAllString(path, "1")
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "case=MATRIX-1&reason=route+x+role+matrix+check"
		body := exp.Body
		if body == "" && ri.Method != http.MethodGet && ri.Method != http.MethodHead {
			body = "{}"
		}
		t.Run(ri.Pattern+"/anonymous", func(t *testing.T) {
			resp := e.Do(t, ri.Method, path, "", body)
			if exp.Public {
				if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500 {
					t.Errorf("public route: %d %s", resp.StatusCode, resp.Body)
				}
			} else if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous caller: got %d %s, want 401", resp.StatusCode, resp.Body)
			}
		})
		for _, role := range auth.Roles() {
			t.Run(ri.Pattern+"/"+string(role), func(t *testing.T) {
				resp := e.Do(t, ri.Method, path, e.Token(t, role), body)
				allowed := exp.Public || slices.Contains(exp.Allowed, role)
				switch {
				case allowed && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500):
					t.Errorf("%s may use it: got %d %s", role, resp.StatusCode, resp.Body)
				case !allowed && resp.StatusCode != http.StatusForbidden:
					t.Errorf("%s may not use it: got %d %s, want 403", role, resp.StatusCode, resp.Body)
				}
			})
		}
	}
}

// Check returns a problem for every route without a row and every row without a route.
func (m Matrix) Check(routes []web.RouteInfo) []string {
	var problems []string
	seen := map[string]bool{}
	for _, ri := range routes {
		seen[ri.Pattern] = true
		if _, ok := m[ri.Pattern]; !ok {
			problems = append(problems, fmt.Sprintf("route %q (%s) has no row in the role matrix: add one saying which roles may use it", ri.Pattern, ri.Name))
		}
	}
	for p := range m {
		if !seen[p] {
			problems = append(problems, fmt.Sprintf("role matrix row %q matches no registered route: remove it or fix the pattern", p))
		}
	}
	sort.Strings(problems)
	return problems
}
