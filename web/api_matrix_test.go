package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/web"
	"snowlight/web/fake"
	"snowlight/web/webtest"
)

// replayedStream is an alert service whose event streams replay the log and end, so a matrix
// request to the stream route returns with what it sent each role.
type replayedStream struct{ web.Alerts }

func (s replayedStream) Subscribe(ctx context.Context, after int64, maxReplay int) (<-chan web.AlertEvent, error) {
	all, err := s.Alerts.Subscribe(ctx, after, maxReplay)
	if err != nil {
		return nil, err
	}
	out := make(chan web.AlertEvent, 64)
	defer close(out)
	for {
		select {
		case ev := <-all:
			out <- ev
		default:
			return out, nil
		}
	}
}

// TestProductRouteRoleMatrix checks every product route (and the built-in ones, which share the
// server) against every role: who may call it, and which identities and places each role's answer
// holds. The world has two cameras in two areas, two persons, two units and an alert whose evidence
// comes from both cameras; the operator is assigned the first camera and its area, the guardian the
// first person, the patrol account reports for the first unit.
func TestProductRouteRoleMatrix(t *testing.T) {
	p := newProduct(t, func(o *web.APIOptions) {
		o.Live = fake.NewLive() // no cameras: every offer reaches the handler and finds none
		o.Alerts = replayedStream{o.Alerts}
	}, map[auth.Role]auth.Scope{auth.Operator: {Cameras: []string{"cam-1"}, Areas: []string{"north"}}, auth.Guardian: {Persons: []string{"p-anna"}}})
	w := raiseWalk(t, p)
	admin := []auth.Role{auth.Admin}
	all := auth.Roles()
	alertReaders := []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol, auth.Guardian}
	watchers := []auth.Role{auth.Admin, auth.Operator, auth.Investigator}
	investigators := []auth.Role{auth.Admin, auth.Investigator}
	holdReaders := []auth.Role{auth.Admin, auth.Investigator, auth.Auditor}
	victim, _ := p.AddUser(t, "matrix-victim", auth.Patrol, auth.Scope{})
	link, err := p.W.Media.PresignGet(context.Background(), p.SnapKey, time.Hour)
	require.NoError(t, err)

	// Identities and places, and the evidence of each camera (links carry the object key). The world's
	// shared snapshot is taken as seen at either camera, so it is no marker.
	markers := webtest.Markers{
		"cam-1": `"cam-1"`, "Market St": "Market St", "cam-2": `"cam-2"`, "Harbour": "Harbour",
		"p-anna": `"p-anna"`, "Anna K": "Anna K", "p-bob": `"p-bob"`, "Bob S": "Bob S", "Jon K": "Jon K",
		"u-near": `"u-near"`, "Unit 1": "Unit 1", "u-far": `"u-far"`, "Unit 2": "Unit 2", "t-operator": "t-operator",
		"snap@cam-1": w.snaps[0], "face@cam-1": w.faces[0], "snap@cam-2": w.snaps[1], "face@cam-2": w.faces[1],
	}
	cam1 := []string{"cam-1", "Market St"}
	cam2 := []string{"cam-2", "Harbour"}
	evidence1 := []string{"snap@cam-1", "face@cam-1"}
	evidence2 := []string{"snap@cam-2", "face@cam-2"}
	anna, bob := []string{"p-anna", "Anna K"}, []string{"p-bob", "Bob S"}
	units := []string{"u-near", "Unit 1", "u-far", "Unit 2"}
	// The alerts: a-anna at cam-2 (south), a-bob and a-walk at cam-1; the operator sees the two at
	// cam-1, the guardian the two about her person (camera names and person only, no face before a
	// person confirmed the match).
	alerts := map[auth.Role][]string{
		auth.Admin:        webtest.Join(cam1, cam2, anna, bob, evidence1),
		auth.Investigator: webtest.Join(cam1, cam2, anna, bob, evidence1),
		auth.Operator:     webtest.Join(cam1, anna, bob, evidence1),
		auth.Guardian:     {"Market St", "Harbour", "p-anna", "Anna K"},
	}
	walkPath := webtest.Join(cam1, cam2, []string{"p-anna"}, evidence1, evidence2)
	webtest.RoleMatrix(t, p.Target(), webtest.Matrix{
		// Built in.
		"POST /api/v1/login":  {Public: true},
		"POST /api/v1/logout": {Allowed: all},
		// Each user's own scope.
		"GET /api/v1/me":                  {Allowed: all, Sees: map[auth.Role][]string{auth.Operator: {"t-operator", "cam-1"}, auth.Guardian: {"p-anna"}}},
		"POST /api/v1/me/password":        {Allowed: all},
		"GET /api/v1/users":               {Allowed: admin, Sees: map[auth.Role][]string{auth.Admin: {"t-operator", "cam-1", "p-anna"}}},
		"POST /api/v1/users":              {Allowed: admin, Body: `{"name":"matrix-made","role":"patrol"}`},
		"POST /api/v1/users/{id}/disable": {Allowed: admin, Path: "/api/v1/users/" + strconv.FormatInt(victim.ID, 10) + "/disable"},
		"GET /api/v1/audit":               {Allowed: []auth.Role{auth.Auditor, auth.Admin}, Unchecked: "the audit log holds whatever was recorded, for auditors and admins"},
		"GET /api/v1/audit/verify":        {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /healthz":                    {Public: true},
		"GET /metrics":                    {Allowed: admin},

		// Alerts: everyone but the auditor reads (filtered to what each may see); each step has its roles.
		"GET /api/v1/alerts":        {Allowed: alertReaders, Sees: alerts},
		"GET /api/v1/alerts/stream": {Allowed: alertReaders, Path: "/api/v1/alerts/stream?last_event_id=0", Sees: alerts},
		"GET /api/v1/alerts/{id}": {Allowed: alertReaders, Path: "/api/v1/alerts/a-walk", Sees: map[auth.Role][]string{
			auth.Admin:        webtest.Join(cam1, cam2, anna, evidence1, evidence2),
			auth.Investigator: webtest.Join(cam1, cam2, anna, evidence1, evidence2),
			auth.Operator:     webtest.Join(cam1, anna, evidence1),
			auth.Guardian:     {"Market St", "p-anna", "Anna K"},
		}},
		"GET /api/v1/alerts/{id}/path": {Allowed: investigators, Path: "/api/v1/alerts/a-walk/path", Sees: map[auth.Role][]string{
			auth.Admin: walkPath, auth.Investigator: walkPath}},
		"POST /api/v1/alerts/{id}/confirm":  {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator}},
		"POST /api/v1/alerts/{id}/dispatch": {Allowed: []auth.Role{auth.Admin, auth.Operator}},
		"POST /api/v1/alerts/{id}/ack":      {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}},
		"POST /api/v1/alerts/{id}/on_scene": {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}},
		"POST /api/v1/alerts/{id}/resolve":  {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}},
		"POST /api/v1/alerts/{id}/dismiss":  {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator}},
		// Units are staff: every watcher and patrol sees them all, to dispatch and to coordinate.
		"GET /api/v1/patrols": {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol}, Sees: map[auth.Role][]string{
			auth.Admin: units, auth.Operator: units, auth.Investigator: units, auth.Patrol: units}},
		"POST /api/v1/patrols": {Allowed: admin, Body: `{"id":"u-matrix","name":"Matrix unit"}`},
		"POST /api/v1/patrols/{id}/position": {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}, Path: "/api/v1/patrols/u-near/position",
			Body: `{"position":{"lat":52.01,"lon":4.35}}`, Sees: map[auth.Role][]string{
				auth.Admin: {"u-near", "Unit 1"}, auth.Operator: {"u-near", "Unit 1"}, auth.Patrol: {"u-near", "Unit 1"}}},
		"GET /api/v1/cameras": {Allowed: watchers, Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(cam1, cam2), auth.Investigator: webtest.Join(cam1, cam2), auth.Operator: cam1}},
		"POST /api/v1/cameras/{id}/whep":             {Allowed: watchers, Path: "/api/v1/cameras/cam-1/whep"},
		"DELETE /api/v1/cameras/{id}/whep/{session}": {Allowed: watchers, Path: "/api/v1/cameras/cam-1/whep/1"},
		"GET /api/v1/cameras/{id}/sightings": {Allowed: investigators, Path: "/api/v1/cameras/cam-2/sightings", Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(cam2, []string{"p-anna"}, evidence2), auth.Investigator: webtest.Join(cam2, []string{"p-anna"}, evidence2)}},
		// The watch list: who is on it, for those who keep it.
		"GET /api/v1/persons": {Allowed: watchers, Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(anna, bob, []string{"Jon K"}), auth.Operator: webtest.Join(anna, bob, []string{"Jon K"}), auth.Investigator: webtest.Join(anna, bob, []string{"Jon K"})}},
		"POST /api/v1/persons": {Allowed: watchers},
		"GET /api/v1/persons/{id}": {Allowed: watchers, Path: "/api/v1/persons/p-anna", Sees: map[auth.Role][]string{
			auth.Admin: webtest.Join(anna, []string{"Jon K"}), auth.Operator: webtest.Join(anna, []string{"Jon K"}), auth.Investigator: webtest.Join(anna, []string{"Jon K"})}},
		"DELETE /api/v1/persons/{id}":         {Allowed: watchers, Path: "/api/v1/persons/nobody"},
		"GET /api/v1/persons/{id}/photos/{n}": {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Guardian}, Path: "/api/v1/persons/p-anna/photos/0"},
		"GET /api/v1/persons/{id}/trajectory": {Allowed: investigators, Path: "/api/v1/persons/p-anna/trajectory", Sees: map[auth.Role][]string{
			auth.Admin: walkPath, auth.Investigator: walkPath}},
		"GET /api/v1/sightings/{id}/trajectory": {Allowed: investigators, Path: "/api/v1/sightings/walk-cam-1/trajectory", Sees: map[auth.Role][]string{
			auth.Admin: walkPath, auth.Investigator: walkPath}},
		"POST /api/v1/cases/{case}/holds":   {Allowed: investigators, Body: `{"reason":"route x role matrix check","items":[{"kind":"trajectory","id":"s1"}]}`},
		"POST /api/v1/cases/{case}/release": {Allowed: investigators, Body: `{"reason":"route x role matrix check"}`},
		"GET /api/v1/cases/{case}/holds":    {Allowed: holdReaders},
		"GET /api/v1/holds":                 {Allowed: holdReaders},
		// Where the guardian's person was last seen, with her face, and her alerts.
		"GET /api/v1/guardian": {Allowed: []auth.Role{auth.Guardian}, Sees: map[auth.Role][]string{
			auth.Guardian: {"p-anna", "Anna K", "Harbour", "Market St", "face@cam-2"}}},
		// Sightings like an example, from every camera: what a trajectory query shows.
		"POST /api/v1/search/sightings": {Allowed: investigators, Body: `{"example":"s1","colours":"red top"}`, Sees: map[auth.Role][]string{
			auth.Admin: walkPath, auth.Investigator: walkPath}},
		"POST /api/v1/search/describe":          {Allowed: investigators, Body: `{"text":"red top, dark trousers"}`},
		"POST /api/v1/cases/{case}/exports":     {Allowed: investigators, Body: `{"reason":"route x role matrix check","person_id":"p-anna"}`},
		"GET /api/v1/cases/{case}/exports":      {Allowed: holdReaders},
		"GET /api/v1/cases/{case}/exports/{id}": {Allowed: investigators},
		"GET /api/v1/signing-key":               {Public: true},
		// The patrol's own unit; no alert is dispatched to it in this world.
		"GET /api/v1/patrol/assignment":       {Allowed: []auth.Role{auth.Patrol}, Sees: map[auth.Role][]string{auth.Patrol: {"u-near", "Unit 1"}}},
		"GET /api/v1/patrol/assignment/photo": {Allowed: []auth.Role{auth.Patrol}},
		"GET /api/v1/objects/{key...}":        {Public: true, Path: link},
		"GET /api/v1/openapi.json":            {Public: true},
		"GET /{$}":                            {Public: true},
		"GET /assets/{file...}":               {Public: true, Path: "/assets/app.js"},
	}, markers)
}
