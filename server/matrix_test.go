package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/objstore"
	"snowlight/web/webtest"
)

// TestRouteRoleMatrix requests every route of the whole server's route table (the product API, the
// built-in routes and whatever any package adds to the server) as nobody and as each role, and checks
// the status against a table kept here (401 without logging in unless the route is public, 403 for a
// role the table does not allow) and the identities and places in each allowed role's answer. A
// route without a row fails, so nothing reaches the server without someone deciding who may use it
// and what it shows. The world (scopeWorld) is the real alert engine and store: an alert raised at
// market that moved to corner; the operator is assigned corner and its area, the guardian the alert's
// person, the patrol account reports for the unit near corner.
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

	w := m.world
	markers := webtest.Markers{
		"corner": `"corner"`, "Corner": "Corner", "market": `"market"`, "Market": "Market",
		"p-anna": `"p-anna"`, "Anna K": "Anna K", "u-near": `"u-near"`, "Near unit": "Near unit", "u-far": `"u-far"`, "Far unit": "Far unit",
		"face@market": w.market[0], "body@market": w.market[1], "face@corner": w.corner[0], "body@corner": w.corner[1],
	}
	corner, market := []string{"corner", "Corner"}, []string{"market", "Market"}
	anna := []string{"p-anna", "Anna K"}
	atMarket := []string{"face@market", "body@market"}
	atCorner := []string{"face@corner", "body@corner"}
	both := webtest.Join(corner, market, []string{"p-anna"}, atMarket, atCorner)
	// The alert's view: at corner, with the snapshot and first face taken at market, where it began.
	view := map[auth.Role][]string{
		auth.Admin: webtest.Join(corner, anna, atMarket), auth.Investigator: webtest.Join(corner, anna, atMarket),
		auth.Operator: webtest.Join(corner, anna), auth.Guardian: {"Corner", "p-anna", "Anna K"},
	}
	units := []string{"u-near", "Near unit", "u-far", "Far unit"}
	unit := []string{"u-near", "Near unit"}
	matrix := webtest.Matrix{
		"POST /api/v1/login":  {Public: true},
		"POST /api/v1/logout": {Allowed: all},
		"GET /api/v1/me": {Allowed: all, Sees: map[auth.Role][]string{
			auth.Operator: {"corner"}, auth.Guardian: {"p-anna"}, auth.Patrol: {"u-near"}}},
		"POST /api/v1/me/password":        {Allowed: all},
		"GET /api/v1/users":               {Allowed: admin, Sees: map[auth.Role][]string{auth.Admin: {"corner", "p-anna", "u-near"}}},
		"POST /api/v1/users":              {Allowed: admin, Body: `{"name":"matrix-made","role":"patrol"}`},
		"POST /api/v1/users/{id}/disable": {Allowed: admin, Path: fmt.Sprintf("/api/v1/users/%d/disable", m.victim)},
		"GET /api/v1/audit":               {Allowed: []auth.Role{auth.Auditor, auth.Admin}, Unchecked: "the audit log holds whatever was recorded, for auditors and admins"},
		"GET /api/v1/audit/verify":        {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /healthz":                    {Public: true},
		"GET /metrics":                    {Allowed: admin},

		"GET /api/v1/alerts": {Allowed: alertReaders, Sees: view},
		// From the beginning: the raising event shows the alert at market, which the operator of
		// corner is not sent.
		"GET /api/v1/alerts/stream": {Allowed: alertReaders, Path: "/api/v1/alerts/stream?last_event_id=0", Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(corner, market, anna, atMarket), auth.Investigator: webtest.Join(corner, market, anna, atMarket),
			auth.Operator: webtest.Join(corner, anna), auth.Guardian: {"Corner", "Market", "p-anna", "Anna K"}}},
		"GET /api/v1/alerts/{id}": {Allowed: alertReaders, Path: "/api/v1/alerts/" + w.alert, Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(both, anna), auth.Investigator: webtest.Join(both, anna),
			auth.Operator: webtest.Join(corner, anna, atCorner), auth.Guardian: {"Corner", "p-anna", "Anna K"}}},
		"GET /api/v1/alerts/{id}/path": {Allowed: investigators, Path: "/api/v1/alerts/" + w.alert + "/path", Sees: map[auth.Role][]string{
			auth.Admin: both, auth.Investigator: both}},
		"POST /api/v1/alerts/{id}/confirm":  {Allowed: checkers},
		"POST /api/v1/alerts/{id}/dispatch": {Allowed: []auth.Role{auth.Admin, auth.Operator}},
		"POST /api/v1/alerts/{id}/ack":      {Allowed: steps},
		"POST /api/v1/alerts/{id}/on_scene": {Allowed: steps},
		"POST /api/v1/alerts/{id}/resolve":  {Allowed: steps},
		"POST /api/v1/alerts/{id}/dismiss":  {Allowed: checkers},
		"GET /api/v1/patrols": {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol}, Sees: map[auth.Role][]string{
			auth.Admin: units, auth.Operator: units, auth.Investigator: units, auth.Patrol: units}},
		"POST /api/v1/patrols": {Allowed: admin, Body: `{"id":"u-matrix","name":"Matrix unit"}`},
		"POST /api/v1/patrols/{id}/position": {Allowed: steps, Path: "/api/v1/patrols/u-near/position", Body: `{"position":{"lat":50.879,"lon":4.701}}`,
			Sees: map[auth.Role][]string{auth.Admin: unit, auth.Operator: unit, auth.Patrol: unit}},

		"GET /api/v1/cameras": {Allowed: watchers, Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(corner, market), auth.Investigator: webtest.Join(corner, market), auth.Operator: corner}},
		"POST /api/v1/cameras/{id}/whep":             {Allowed: watchers, Path: "/api/v1/cameras/corner/whep"},
		"DELETE /api/v1/cameras/{id}/whep/{session}": {Allowed: watchers, Path: "/api/v1/cameras/corner/whep/1"},
		"GET /api/v1/cameras/{id}/sightings": {Allowed: investigators, Path: "/api/v1/cameras/market/sightings", Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(market, []string{"p-anna"}, atMarket), auth.Investigator: webtest.Join(market, []string{"p-anna"}, atMarket)}},
		"GET /api/v1/persons":                 {Allowed: watchers},
		"POST /api/v1/persons":                {Allowed: watchers},
		"GET /api/v1/persons/{id}":            {Allowed: watchers},
		"DELETE /api/v1/persons/{id}":         {Allowed: watchers, Path: "/api/v1/persons/nobody"},
		"GET /api/v1/persons/{id}/photos/{n}": {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Guardian}, Path: "/api/v1/persons/p-anna/photos/0"},
		"GET /api/v1/persons/{id}/trajectory": {Allowed: investigators, Path: "/api/v1/persons/p-anna/trajectory", Sees: map[auth.Role][]string{
			auth.Admin: both, auth.Investigator: both}},
		"GET /api/v1/sightings/{id}/trajectory": {Allowed: investigators, Path: "/api/v1/sightings/market-1/trajectory", Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(market, []string{"p-anna"}, atMarket), auth.Investigator: webtest.Join(market, []string{"p-anna"}, atMarket)}},
		// The person is not enrolled (that takes the models): the guardian's view is empty here; the web
		// package's matrix covers it.
		"GET /api/v1/guardian": {Allowed: []auth.Role{auth.Guardian}},

		"POST /api/v1/cases/{case}/holds":   {Allowed: investigators},
		"POST /api/v1/cases/{case}/release": {Allowed: investigators},
		"GET /api/v1/cases/{case}/holds":    {Allowed: caseReaders},
		"GET /api/v1/holds":                 {Allowed: caseReaders},

		"POST /api/v1/search/sightings":         {Allowed: investigators, Body: `{"colours":"red top, dark trousers"}`},
		"POST /api/v1/search/describe":          {Allowed: investigators, Body: `{"text":"red top"}`},
		"POST /api/v1/cases/{case}/exports":     {Allowed: investigators, Body: `{"reason":"route x role matrix","sighting":"nobody"}`},
		"GET /api/v1/cases/{case}/exports":      {Allowed: caseReaders},
		"GET /api/v1/cases/{case}/exports/{id}": {Allowed: investigators},
		"GET /api/v1/signing-key":               {Public: true},
		"GET /api/v1/patrol/assignment":         {Allowed: []auth.Role{auth.Patrol}, Sees: map[auth.Role][]string{auth.Patrol: {"u-near", "Near unit"}}},
		"GET /api/v1/patrol/assignment/photo":   {Allowed: []auth.Role{auth.Patrol}},

		"GET /api/v1/objects/{key...}": {Public: true, Path: m.link},
		"GET /api/v1/openapi.json":     {Public: true},
		"GET /{$}":                     {Public: true},
		"GET /assets/{file...}":        {Public: true, Path: "/assets/app.js"},
	}
	webtest.RoleMatrix(t, m.target(), matrix, markers)
}

// matrixServer is the scope world with an account per role.
type matrixServer struct {
	world  *scopeWorld
	link   string // a signed link to a stored object
	victim int64  // a user the admin may disable
	pw     map[auth.Role]string
	names  map[auth.Role]string
	tokens map[auth.Role]string
}

func startMatrixServer(t *testing.T) *matrixServer {
	t.Helper()
	ctx := t.Context()
	w := newScopeWorld(t)
	m := &matrixServer{world: w, pw: map[auth.Role]string{}, names: map[auth.Role]string{}, tokens: map[auth.Role]string{}}
	for _, r := range auth.Roles() {
		pw, err := auth.RandomPassword()
		require.NoError(t, err)
		name, sc := "m-"+string(r), auth.Scope{}
		switch r {
		case auth.Operator:
			sc = auth.Scope{Cameras: []string{"corner"}, Areas: []string{"east"}}
		case auth.Guardian:
			sc.Persons = []string{"p-anna"}
		case auth.Patrol:
			name = "u-near" // a patrol account reports for the unit of its name
		}
		_, err = w.s.Auth().AddUser(ctx, auth.NewUser{Name: name, Role: r, Password: pw, Scope: sc})
		require.NoError(t, err)
		m.pw[r], m.names[r] = pw, name
	}
	victim, err := w.s.Auth().AddUser(ctx, auth.NewUser{Name: "matrix-victim", Role: auth.Patrol, Password: m.pw[auth.Patrol]})
	require.NoError(t, err)
	m.victim = victim.ID
	info, err := objstore.PutContent(ctx, w.s.objects, "snapshot", "jpg", []byte("\xff\xd8\xff\xe0 matrix"), "image/jpeg", objstore.Meta{Camera: "c1"})
	require.NoError(t, err)
	m.link, err = w.s.objects.PresignGet(ctx, info.Key, time.Hour)
	require.NoError(t, err)
	return m
}

// target logs each role in through the API once (argon2 at its real cost), afresh only for logout.
func (m *matrixServer) target() webtest.Target {
	return webtest.Target{
		Routes: m.world.s.web.Routes(),
		Token: func(t testing.TB, r auth.Role, fresh bool) string {
			t.Helper()
			if tok, ok := m.tokens[r]; ok && !fresh {
				return tok
			}
			tok := m.world.login(t, m.names[r], m.pw[r])
			if !fresh {
				m.tokens[r] = tok
			}
			return tok
		},
		Request: m.world.request,
	}
}
