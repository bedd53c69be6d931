package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"snowlight/auth"
	"snowlight/config"
	"snowlight/objstore"
	"snowlight/web/webtest"
)

// TestRouteRoleMatrix requests every route of the whole server's route table (the product API, the
// built-in routes and whatever any package adds to the server) as nobody and as each role, and checks
// the status against a table kept here: 401 without logging in unless the route is public, 403 for a
// role the table does not allow, and for an allowed role anything but 401, 403 or a server error. A
// route without a row fails, so nothing reaches the server without someone deciding who may use it.
func TestRouteRoleMatrix(t *testing.T) {
	m := startMatrixServer(t)
	admin := []auth.Role{auth.Admin}
	all := auth.Roles()
	alertReaders := []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol, auth.Guardian}
	watchers := []auth.Role{auth.Admin, auth.Operator, auth.Investigator}
	investigators := []auth.Role{auth.Admin, auth.Investigator}
	steps := []auth.Role{auth.Admin, auth.Operator, auth.Patrol}
	checkers := []auth.Role{auth.Admin, auth.Operator, auth.Investigator}
	caseReaders := []auth.Role{auth.Admin, auth.Investigator, auth.Auditor}
	matrix := webtest.Matrix{
		"POST /api/v1/login":              {Public: true},
		"POST /api/v1/logout":             {Allowed: all},
		"GET /api/v1/me":                  {Allowed: all},
		"POST /api/v1/me/password":        {Allowed: all},
		"GET /api/v1/users":               {Allowed: admin},
		"POST /api/v1/users":              {Allowed: admin, Body: `{"name":"matrix-made","role":"patrol"}`},
		"POST /api/v1/users/{id}/disable": {Allowed: admin, Path: fmt.Sprintf("/api/v1/users/%d/disable", m.victim)},
		"GET /api/v1/audit":               {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /api/v1/audit/verify":        {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /healthz":                    {Public: true},
		"GET /metrics":                    {Allowed: admin},

		"GET /api/v1/alerts":                 {Allowed: alertReaders},
		"GET /api/v1/alerts/stream":          {Allowed: alertReaders},
		"GET /api/v1/alerts/{id}":            {Allowed: alertReaders},
		"GET /api/v1/alerts/{id}/path":       {Allowed: investigators},
		"POST /api/v1/alerts/{id}/confirm":   {Allowed: checkers},
		"POST /api/v1/alerts/{id}/dispatch":  {Allowed: []auth.Role{auth.Admin, auth.Operator}},
		"POST /api/v1/alerts/{id}/ack":       {Allowed: steps},
		"POST /api/v1/alerts/{id}/on_scene":  {Allowed: steps},
		"POST /api/v1/alerts/{id}/resolve":   {Allowed: steps},
		"POST /api/v1/alerts/{id}/dismiss":   {Allowed: checkers},
		"GET /api/v1/patrols":                {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol}},
		"POST /api/v1/patrols":               {Allowed: admin, Body: `{"id":"u-matrix","name":"Matrix unit"}`},
		"POST /api/v1/patrols/{id}/position": {Allowed: steps, Path: "/api/v1/patrols/u-near/position", Body: `{"position":{"lat":50.879,"lon":4.701}}`},

		"GET /api/v1/cameras":                        {Allowed: watchers},
		"POST /api/v1/cameras/{id}/whep":             {Allowed: watchers},
		"DELETE /api/v1/cameras/{id}/whep/{session}": {Allowed: watchers},
		"GET /api/v1/cameras/{id}/sightings":         {Allowed: investigators},
		"GET /api/v1/persons":                        {Allowed: watchers},
		"POST /api/v1/persons":                       {Allowed: watchers},
		"GET /api/v1/persons/{id}":                   {Allowed: watchers},
		"DELETE /api/v1/persons/{id}":                {Allowed: watchers, Path: "/api/v1/persons/nobody"},
		"GET /api/v1/persons/{id}/photos/{n}":        {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Guardian}, Path: "/api/v1/persons/p-matrix/photos/0"},
		"GET /api/v1/persons/{id}/trajectory":        {Allowed: investigators},
		"GET /api/v1/sightings/{id}/trajectory":      {Allowed: investigators},
		"GET /api/v1/guardian":                       {Allowed: []auth.Role{auth.Guardian}},

		"POST /api/v1/cases/{case}/holds":   {Allowed: investigators},
		"POST /api/v1/cases/{case}/release": {Allowed: investigators},
		"GET /api/v1/cases/{case}/holds":    {Allowed: caseReaders},
		"GET /api/v1/holds":                 {Allowed: caseReaders},

		"GET /api/v1/objects/{key...}": {Public: true, Path: m.link},
		"GET /api/v1/openapi.json":     {Public: true},
		"GET /{$}":                     {Public: true},
		"GET /assets/{file...}":        {Public: true, Path: "/assets/app.js"},
	}
	routes := m.s.web.Routes()
	for _, p := range matrix.Check(routes) {
		t.Error(p)
	}
	wildcard := regexp.MustCompile(`\{[^}]*\}`)
	for _, ri := range routes {
		exp, ok := matrix[ri.Pattern]
		if !ok {
			continue
		}
		path := exp.Path
		if path == "" {
			path = wildcard.ReplaceAllString(strings.ReplaceAll(ri.Path, "{$}", ""), "1")
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "case=MATRIX-1&reason=route+x+role+matrix"
		body := exp.Body
		if body == "" && ri.Method != http.MethodGet && ri.Method != http.MethodHead {
			body = "{}"
		}
		t.Run(ri.Pattern+"/anonymous", func(t *testing.T) {
			status, b := m.request(t, ri.Method, path, "", body)
			switch {
			case exp.Public && (status == 401 || status == 403 || status >= 500):
				t.Errorf("public route: %d %s", status, b)
			case !exp.Public && status != 401:
				t.Errorf("anonymous caller: %d %s, want 401", status, b)
			}
		})
		for _, role := range auth.Roles() {
			t.Run(ri.Pattern+"/"+string(role), func(t *testing.T) {
				token := m.token(t, role, ri.Pattern == "POST /api/v1/logout")
				status, b := m.request(t, ri.Method, path, token, body)
				allowed := exp.Public || slices.Contains(exp.Allowed, role)
				switch {
				case allowed && (status == 401 || status == 403 || status >= 500):
					t.Errorf("%s may use it: %d %s", role, status, b)
				case !allowed && status != 403:
					t.Errorf("%s may not use it: %d %s, want 403", role, status, b)
				}
			})
		}
	}
}

// matrixServer is a whole server without cameras: the route table does not depend on them.
type matrixServer struct {
	s      *Server
	base   string
	link   string // a signed link to a stored object
	victim int64  // a user the admin may disable
	pw     map[auth.Role]string
	names  map[auth.Role]string
	tokens map[auth.Role]string
	http   *http.Client
}

func startMatrixServer(t *testing.T) *matrixServer {
	t.Helper()
	secret := strings.Repeat("s", 32)
	text := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
areas: [{id: city, level: city, supervisor: {name: duty officer}}]
patrols: [{id: u-near, name: Near unit, area: city, position: {lat: 50.879, lon: 4.701}, receiver: {webhook: "http://127.0.0.1:9/hook", secret: %q}}]
`, t.TempDir(), secret)
	cfg, err := config.Parse(strings.NewReader(text), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	m := &matrixServer{s: s, base: "http://" + s.Addr(), pw: map[auth.Role]string{}, names: map[auth.Role]string{},
		tokens: map[auth.Role]string{}, http: &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for _, r := range auth.Roles() {
		pw, err := auth.RandomPassword()
		if err != nil {
			t.Fatal(err)
		}
		name, sc := "m-"+string(r), auth.Scope{}
		switch r {
		case auth.Operator:
			sc.Cameras = []string{auth.AllCameras}
		case auth.Guardian:
			sc.Persons = []string{"p-matrix"}
		case auth.Patrol:
			name = "u-near" // a patrol account reports for the unit of its name
		}
		if _, err := s.Auth().AddUser(ctx, auth.NewUser{Name: name, Role: r, Password: pw, Scope: sc}); err != nil {
			t.Fatal(err)
		}
		m.pw[r], m.names[r] = pw, name
	}
	victim, err := s.Auth().AddUser(ctx, auth.NewUser{Name: "matrix-victim", Role: auth.Patrol, Password: m.pw[auth.Patrol]})
	if err != nil {
		t.Fatal(err)
	}
	m.victim = victim.ID
	info, err := objstore.PutContent(ctx, s.objects, "snapshot", "jpg", []byte("\xff\xd8\xff\xe0 matrix"), "image/jpeg", objstore.Meta{Camera: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if m.link, err = s.objects.PresignGet(ctx, info.Key, time.Hour); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server run: %v", err)
		}
		s.Close()
	})
	return m
}

// token logs the role's account in through the API; fresh gives a token of its own (for logout).
func (m *matrixServer) token(t *testing.T, r auth.Role, fresh bool) string {
	t.Helper()
	if tok, ok := m.tokens[r]; ok && !fresh {
		return tok
	}
	status, b := m.request(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":%q,"password":%q}`, m.names[r], m.pw[r]))
	var lr struct{ Token string }
	if status != http.StatusOK || json.Unmarshal([]byte(b), &lr) != nil || lr.Token == "" {
		t.Fatalf("login %s: %d %s", r, status, b)
	}
	if !fresh {
		m.tokens[r] = lr.Token
	}
	return lr.Token
}

// request sends one request; an event stream is answered as soon as its headers arrive.
func (m *matrixServer) request(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := m.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "(event stream)"
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}
