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

	"github.com/stretchr/testify/assert"
)

// Expect is one row of the route x role matrix: who may use a route and what each of them learns
// from it, stated independently of the route's own policy and handler so that a change shows up as a
// failing test.
type Expect struct {
	Public  bool        // anyone, without logging in
	Allowed []auth.Role // roles that may use it; every other role must get 403
	// Path is the concrete path to request; by default the pattern's path with every {wildcard} set to
	// "1". The matrix adds case and reason query parameters so AuditCase routes are exercised.
	Path string
	// Body is sent (as JSON) with methods other than GET and HEAD; "{}" when empty.
	Body string
	// Sees names, per role, the markers (see Markers) its answer holds: the identities and places the
	// role may learn from this route. Every other marker must be absent, so a field shown to a role
	// that may not see it fails, and so does one that goes missing. A role not listed sees none.
	Sees map[auth.Role][]string
	// Unchecked, when set, says why the answers are not searched for markers.
	Unchecked string
}

// Matrix maps route patterns ("GET /api/v1/users") to their rows.
type Matrix map[string]Expect

// Markers are the identities and places of a test world, by name: each value a string that is in an
// answer exactly when the answer reveals that identity or place (a camera's name, a person's name, the
// object key in an evidence link, a unit's id).
type Markers map[string]string

// Join concatenates lists of markers, for rows that see several groups of them.
func Join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Target is the server under the matrix: its routes, a login per role (fresh when asked, for routes
// that end the login), and requests, which return the status and the body (what an event stream sent
// before the server or the target ended it).
type Target struct {
	Routes  []web.RouteInfo
	Token   func(t testing.TB, r auth.Role, fresh bool) string
	Request func(t testing.TB, method, path, token, body string) (int, []byte)
}

// Target is the Env as a matrix target.
func (e *Env) Target() Target {
	return Target{
		Routes: e.Server.Routes(),
		Token: func(t testing.TB, r auth.Role, fresh bool) string {
			t.Helper()
			e.mu.Lock()
			tok, ok := e.tokens[r]
			e.mu.Unlock()
			if ok && !fresh {
				return tok
			}
			tok = e.Token(t, r)
			if !fresh {
				e.mu.Lock()
				e.tokens[r] = tok
				e.mu.Unlock()
			}
			return tok
		},
		Request: func(t testing.TB, method, path, token, body string) (int, []byte) {
			t.Helper()
			r := e.Do(t, method, path, token, body)
			return r.StatusCode, r.Body
		},
	}
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// RoleMatrix requests every route the target registered, as nobody and as each role, and checks the
// status: 401 for nobody on a non-public route, 403 for a role not allowed, and for those allowed
// anything but 401, 403 or a server error. The answer of every allowed role is then searched for
// every marker: it must hold exactly those the row's Sees names for the role. A route without a row,
// or a row without a route, fails the test.
func RoleMatrix(t *testing.T, tg Target, m Matrix, markers Markers) {
	t.Helper()
	assert.Empty(t, m.Check(tg.Routes))
	assert.Empty(t, m.checkMarkers(markers))
	for _, ri := range tg.Routes {
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
		fresh := ri.Pattern == "POST /api/v1/logout"
		t.Run(ri.Pattern+"/anonymous", func(t *testing.T) {
			status, b := tg.Request(t, ri.Method, path, "", body)
			if exp.Public {
				assert.True(t, usable(status), "public route: %d %s", status, b)
				exp.checkAnswer(t, markers, "", b)
			} else {
				assert.Equal(t, http.StatusUnauthorized, status, "anonymous caller: %s", b)
			}
		})
		for _, role := range auth.Roles() {
			t.Run(ri.Pattern+"/"+string(role), func(t *testing.T) {
				status, b := tg.Request(t, ri.Method, path, tg.Token(t, role, fresh), body)
				if !exp.Public && !slices.Contains(exp.Allowed, role) {
					assert.Equal(t, http.StatusForbidden, status, "%s may not use it: %s", role, b)
				} else if assert.True(t, usable(status), "%s may use it: got %d %s", role, status, b) {
					exp.checkAnswer(t, markers, role, b)
				}
			})
		}
	}
}

// usable says whether an allowed caller got an answer: neither refused nor a server error.
func usable(status int) bool {
	return status != http.StatusUnauthorized && status != http.StatusForbidden && status < 500
}

// checkAnswer compares the markers an answer holds with those the row says the role sees.
func (exp Expect) checkAnswer(t *testing.T, markers Markers, role auth.Role, body []byte) {
	t.Helper()
	if exp.Unchecked != "" {
		return
	}
	var got []string
	for name, text := range markers {
		if strings.Contains(string(body), text) {
			got = append(got, name)
		}
	}
	want := slices.Clone(exp.Sees[role])
	slices.Sort(got)
	slices.Sort(want)
	want = slices.Compact(want)
	who := string(role)
	if who == "" {
		who = "anonymous"
	}
	assert.Empty(t, missing(want, got), "%s is shown more than %q\nanswer: %.2000s", who, want, body)
	assert.Empty(t, missing(got, want), "%s is not shown all of %q\nanswer: %.2000s", who, want, body)
}

// missing is what of want got lacks.
func missing(got, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
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

// checkMarkers returns a problem for every marker a row names that is not among the markers, and for
// every marker that is found in another's text (neither could be told apart).
func (m Matrix) checkMarkers(markers Markers) []string {
	var problems []string
	for pattern, exp := range m {
		for role, names := range exp.Sees {
			for _, n := range names {
				if _, ok := markers[n]; !ok {
					problems = append(problems, fmt.Sprintf("row %q: %s sees marker %q, which is not defined", pattern, role, n))
				}
			}
		}
	}
	for a, ta := range markers {
		for b, tb := range markers {
			if a != b && strings.Contains(tb, ta) {
				problems = append(problems, fmt.Sprintf("marker %q (%q) is part of marker %q (%q)", a, ta, b, tb))
			}
		}
	}
	sort.Strings(problems)
	return problems
}
