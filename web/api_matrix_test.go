package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"snowlight/auth"
	"snowlight/web"
	"snowlight/web/fake"
	"snowlight/web/webtest"
)

// endedStream is an alert service whose event streams end at once, so a matrix request to the stream
// route returns instead of waiting for events.
type endedStream struct{ web.Alerts }

func (endedStream) Subscribe(ctx context.Context, after int64, maxReplay int) (<-chan web.AlertEvent, error) {
	ch := make(chan web.AlertEvent)
	close(ch)
	return ch, nil
}

// TestProductRouteRoleMatrix checks every product route (and the built-in ones, which share the
// server) against every role.
func TestProductRouteRoleMatrix(t *testing.T) {
	p := newProduct(t, func(o *web.APIOptions) {
		o.Live = fake.NewLive() // no cameras: every offer reaches the handler and finds none
		o.Alerts = endedStream{o.Alerts}
	}, nil)
	admin := []auth.Role{auth.Admin}
	all := auth.Roles()
	alertReaders := []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol, auth.Guardian}
	watchers := []auth.Role{auth.Admin, auth.Operator, auth.Investigator}
	investigators := []auth.Role{auth.Admin, auth.Investigator}
	holdReaders := []auth.Role{auth.Admin, auth.Investigator, auth.Auditor}
	victim, _ := p.AddUser(t, "matrix-victim", auth.Patrol, auth.Scope{})
	link, err := p.W.Media.PresignGet(context.Background(), p.SnapKey, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	webtest.RoleMatrix(t, p.Env, webtest.Matrix{
		// Built in.
		"POST /api/v1/login":              {Public: true},
		"POST /api/v1/logout":             {Allowed: all},
		"GET /api/v1/me":                  {Allowed: all},
		"POST /api/v1/me/password":        {Allowed: all},
		"GET /api/v1/users":               {Allowed: admin},
		"POST /api/v1/users":              {Allowed: admin, Body: `{"name":"matrix-made","role":"patrol"}`},
		"POST /api/v1/users/{id}/disable": {Allowed: admin, Path: "/api/v1/users/" + strconv.FormatInt(victim.ID, 10) + "/disable"},
		"GET /api/v1/audit":               {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /api/v1/audit/verify":        {Allowed: []auth.Role{auth.Auditor, auth.Admin}},
		"GET /healthz":                    {Public: true},
		"GET /metrics":                    {Allowed: admin},

		// Alerts: everyone but the auditor reads (filtered to what each may see); each step has its roles.
		"GET /api/v1/alerts":                         {Allowed: alertReaders},
		"GET /api/v1/alerts/stream":                  {Allowed: alertReaders},
		"GET /api/v1/alerts/{id}":                    {Allowed: alertReaders},
		"GET /api/v1/alerts/{id}/path":               {Allowed: investigators},
		"POST /api/v1/alerts/{id}/confirm":           {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator}},
		"POST /api/v1/alerts/{id}/dispatch":          {Allowed: []auth.Role{auth.Admin, auth.Operator}},
		"POST /api/v1/alerts/{id}/ack":               {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}},
		"POST /api/v1/alerts/{id}/on_scene":          {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}},
		"POST /api/v1/alerts/{id}/resolve":           {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}},
		"POST /api/v1/alerts/{id}/dismiss":           {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator}},
		"GET /api/v1/patrols":                        {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Patrol}},
		"POST /api/v1/patrols":                       {Allowed: admin, Body: `{"id":"u-matrix","name":"Matrix unit"}`},
		"POST /api/v1/patrols/{id}/position":         {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Patrol}, Path: "/api/v1/patrols/u-near/position", Body: `{"position":{"lat":52.01,"lon":4.35}}`},
		"GET /api/v1/cameras":                        {Allowed: watchers},
		"POST /api/v1/cameras/{id}/whep":             {Allowed: watchers},
		"DELETE /api/v1/cameras/{id}/whep/{session}": {Allowed: watchers},
		"GET /api/v1/cameras/{id}/sightings":         {Allowed: investigators},
		"GET /api/v1/persons":                        {Allowed: watchers},
		"POST /api/v1/persons":                       {Allowed: watchers},
		"GET /api/v1/persons/{id}":                   {Allowed: watchers},
		"DELETE /api/v1/persons/{id}":                {Allowed: watchers, Path: "/api/v1/persons/nobody"},
		"GET /api/v1/persons/{id}/photos/{n}":        {Allowed: []auth.Role{auth.Admin, auth.Operator, auth.Investigator, auth.Guardian}, Path: "/api/v1/persons/p-anna/photos/0"},
		"GET /api/v1/persons/{id}/trajectory":        {Allowed: investigators},
		"GET /api/v1/sightings/{id}/trajectory":      {Allowed: investigators},
		"POST /api/v1/cases/{case}/holds":            {Allowed: investigators, Body: `{"reason":"route x role matrix check","items":[{"kind":"trajectory","id":"s1"}]}`},
		"POST /api/v1/cases/{case}/release":          {Allowed: investigators, Body: `{"reason":"route x role matrix check"}`},
		"GET /api/v1/cases/{case}/holds":             {Allowed: holdReaders},
		"GET /api/v1/holds":                          {Allowed: holdReaders},
		"GET /api/v1/guardian":                       {Allowed: []auth.Role{auth.Guardian}},
		"GET /api/v1/objects/{key...}":               {Public: true, Path: link},
		"GET /api/v1/openapi.json":                   {Public: true},
		"GET /{$}":                                   {Public: true},
		"GET /assets/{file...}":                      {Public: true, Path: "/assets/app.js"},
	})
}
