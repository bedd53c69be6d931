package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"snowlight/auth"
	"snowlight/web"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type alertList struct{ Alerts []web.AlertView }

func listIDs(t *testing.T, p *product, token string) []string {
	t.Helper()
	r := p.Do(t, "GET", "/api/v1/alerts", token, "")
	wantStatus(t, r, http.StatusOK)
	var l alertList
	decode(t, r, &l)
	var ids []string
	for _, a := range l.Alerts {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestAlertLifecycleThroughTheAPI(t *testing.T) {
	p := newProduct(t, nil, nil)
	op := p.Token(t, auth.Operator)
	patrol := p.Token(t, auth.Patrol)

	// Most urgent first: the critical alert before the high one.
	assert.Equal(t, []string{"a-anna", "a-bob"}, listIDs(t, p, op), "the operator's alerts")
	// A patrol sees only what is dispatched to its unit: nothing yet.
	assert.Empty(t, listIDs(t, p, patrol), "the patrol's alerts before any dispatch")
	wantStatus(t, p.Do(t, "GET", "/api/v1/alerts/a-anna", patrol, ""), http.StatusNotFound)

	// A biometric match cannot be dispatched before a person confirms it.
	r := p.Do(t, "POST", "/api/v1/alerts/a-anna/dispatch", op, "")
	wantStatus(t, r, http.StatusConflict)
	assert.Contains(t, string(r.Body), "confirmed by a human") // the alert engine's own words
	r = p.Do(t, "POST", "/api/v1/alerts/a-anna/confirm", op, `{"note":"faces match"}`)
	wantStatus(t, r, http.StatusOK)
	var v web.AlertView
	decode(t, r, &v)
	assert.Equal(t, web.StatusConfirmed, v.Status)
	assert.Equal(t, 1, v.Confirmations)
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-anna/confirm", op, ""), http.StatusConflict)

	// Dispatch goes to the nearest available unit, whose patrol now sees and works the alert.
	r = p.Do(t, "POST", "/api/v1/alerts/a-anna/dispatch", op, "")
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &v)
	require.Equal(t, web.StatusDispatched, v.Status)
	assert.Equal(t, "u-near", v.Patrol)
	assert.Equal(t, []string{"a-anna"}, listIDs(t, p, patrol), "the patrol's alerts after dispatch")
	for _, step := range []struct{ action, status string }{{"ack", web.StatusAcked}, {"on_scene", web.StatusOnScene}, {"resolve", web.StatusResolved}} {
		r = p.Do(t, "POST", "/api/v1/alerts/a-anna/"+step.action, patrol, "")
		wantStatus(t, r, http.StatusOK)
		decode(t, r, &v)
		require.Equal(t, step.status, v.Status, step.action)
	}
	// A patrol cannot dismiss, and cannot act on an alert of another unit.
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-bob/dismiss", patrol, ""), http.StatusForbidden)
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-bob/ack", patrol, ""), http.StatusNotFound)

	// Two-person confirmation: the same person twice is refused, a second person completes it.
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-bob/confirm", op, ""), http.StatusOK)
	r = p.Do(t, "POST", "/api/v1/alerts/a-bob/confirm", op, "")
	wantStatus(t, r, http.StatusConflict)
	assert.Contains(t, string(r.Body), "different person", "second confirmation by the same person")
	r = p.Do(t, "POST", "/api/v1/alerts/a-bob/confirm", p.Token(t, auth.Investigator), "")
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &v)
	assert.Equal(t, web.StatusConfirmed, v.Status)
	assert.Equal(t, 2, v.Confirmations)
	for _, c := range []struct{ body, want string }{
		{`{"patrol":"u-near","note":"x"}`, "unit"}, // patrol only on dispatch: this is dismiss
		{`{"note":"` + strings.Repeat("n", 2001) + `"}`, "too long"},
		{`{"notes":"x"}`, "unknown field"},
	} {
		r := p.Do(t, "POST", "/api/v1/alerts/a-bob/dismiss", op, c.body)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, "%s: %s", c.body, r.Body)
		assert.Contains(t, string(r.Body), c.want, c.body)
	}
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/nope/confirm", op, ""), http.StatusNotFound)

	// Every step is in the audit log with who did it.
	var got []string
	for _, e := range auditActions(t, p.Env, "t-operator") {
		if strings.HasPrefix(e.Action, "alert.") {
			got = append(got, e.Action+" "+e.Target+" "+e.Details["to"])
		}
	}
	want := []string{"alert.confirm a-anna confirmed", "alert.dispatch a-anna dispatched", "alert.confirm a-bob open"}
	assert.Equal(t, want, got, "the operator's audited steps")
	var history []string
	d := alertDetail(t, p, op, "a-anna")
	for _, h := range d.History {
		history = append(history, h.Status+" by "+h.Actor)
	}
	assert.Equal(t, []string{"open by system", "confirmed by t-operator", "dispatched by t-operator", "acknowledged by t-patrol",
		"on_scene by t-patrol", "resolved by t-patrol"}, history)
}

func alertDetail(t *testing.T, p *product, token, id string) web.AlertDetail {
	t.Helper()
	r := p.Do(t, "GET", "/api/v1/alerts/"+id, token, "")
	wantStatus(t, r, http.StatusOK)
	var d web.AlertDetail
	decode(t, r, &d)
	return d
}

func TestAlertDetailEvidence(t *testing.T) {
	p := newProduct(t, nil, nil)
	op := p.Token(t, auth.Operator)
	d := alertDetail(t, p, op, "a-anna")
	require.Len(t, d.EnrolmentPhotos, 1)
	assert.Equal(t, "/api/v1/persons/p-anna/photos/0", d.EnrolmentPhotos[0].URL)
	if assert.Len(t, d.Crops, 1) {
		assert.True(t, strings.HasPrefix(d.Crops[0].Image.URL, web.ObjectsPath+"/face/"), "crop %+v", d.Crops[0])
		assert.Equal(t, 0.64, d.Crops[0].Similarity)
	}
	assert.True(t, strings.HasPrefix(d.Snapshot.URL, web.ObjectsPath+"/snapshot/"), "snapshot %+v", d.Snapshot)
	assert.Equal(t, web.ClipPreparing, d.Clip.State)
	// Keys stay on the server: only links leave it.
	r := p.Do(t, "GET", "/api/v1/alerts/a-anna", op, "")
	assert.NotContains(t, string(r.Body), `"key"`, "an object key in the answer")
	// The snapshot link serves the stored bytes.
	r = p.Do(t, "GET", d.Snapshot.URL, "", "")
	wantStatus(t, r, http.StatusOK)
	assert.Equal(t, p.Snap, r.Body, "the snapshot's bytes")
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"))
	// The enrolment photo is served to those who may see the person.
	r = p.Do(t, "GET", d.EnrolmentPhotos[0].URL, op, "")
	wantStatus(t, r, http.StatusOK)
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"), "the photo's type")
	// Opening an alert is recorded.
	found := false
	for _, e := range auditActions(t, p.Env, "t-operator") {
		found = found || e.Action == "alerts.get" && e.Target == "/api/v1/alerts/a-anna"
	}
	assert.True(t, found, "alert view not audited")
}

// sse reads one server-sent events stream.
type sse struct {
	resp *http.Response
	sc   *bufio.Scanner
}

type sseEvent struct {
	id, typ string
	alert   web.AlertView
}

func openStream(t *testing.T, p *product, ctx context.Context, token, lastID string) *sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.HTTP.URL+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	return startStream(t, p, req)
}

// startStream sends a prepared stream request and checks that the stream opened.
func startStream(t *testing.T, p *product, req *http.Request) *sse {
	t.Helper()
	resp, err := p.HTTP.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode, "the stream's status")
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return &sse{resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event, skipping comments and the retry line.
func (s *sse) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "" && ev.id != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &ev.alert), "event data %q", line)
		}
	}
	require.Fail(t, "stream ended", "%v", s.sc.Err())
	return ev
}

func TestAlertStreamLiveResumeAndScope(t *testing.T) {
	p := newProduct(t, nil, guardScope)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	op := openStream(t, p, ctx, p.Token(t, auth.Operator), "")
	guard := openStream(t, p, ctx, p.Token(t, auth.Guardian), "")
	waitFor(t, func() bool { return p.W.Alerts.Subscribers() == 2 })

	p.W.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-3", Rule: "watchlist_hit", Severity: "high", Camera: "cam-1", PersonID: "p-bob"}})
	p.W.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-4", Rule: "safe_zone_exit", Severity: "critical", Camera: "cam-2", PersonID: "p-anna",
		Snapshot: web.Media{Key: p.SnapKey}}})
	e1, e2 := op.next(t), op.next(t)
	assert.Equal(t, "a-3", e1.alert.ID)
	assert.Equal(t, "alert", e1.typ)
	assert.Equal(t, "a-4", e2.alert.ID)
	assert.True(t, strings.HasPrefix(e2.alert.Snapshot.URL, web.ObjectsPath), "event snapshot not linked: %+v", e2.alert.Snapshot)
	// The guardian of p-anna never hears of p-bob's alert.
	assert.Equal(t, "a-4", guard.next(t).alert.ID, "the guardian's first event")
	// A client that reconnects with its last id gets what it missed, then live events.
	_, err := p.W.Alerts.Act(ctx, web.AlertAction{ID: "a-3", Action: web.ActDismiss, Actor: "x"})
	require.NoError(t, err)
	again := openStream(t, p, ctx, p.Token(t, auth.Operator), e1.id)
	r1, r2 := again.next(t), again.next(t)
	assert.Equal(t, e2.id, r1.id, "the first event after resuming")
	assert.Equal(t, "a-3", r2.alert.ID)
	assert.Equal(t, "update", r2.typ)
	assert.Equal(t, web.StatusDismissed, r2.alert.Status)
	r := p.Do(t, "GET", "/api/v1/alerts/stream", p.Token(t, auth.Operator), "", "Last-Event-ID", "x")
	assert.Equal(t, http.StatusBadRequest, r.StatusCode, "bad Last-Event-ID: %s", r.Body)
	// Streams end with their requests: no subscription is left behind.
	cancel()
	waitFor(t, func() bool { return p.W.Alerts.Subscribers() == 0 })
}

// waitFor polls cond on the test's goroutine (require.Eventually would call it on another, where the
// helpers some conditions call may not stop the test).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			require.Fail(t, "condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPatrolsAPI(t *testing.T) {
	p := newProduct(t, nil, nil)
	admin, patrol := p.Token(t, auth.Admin), p.Token(t, auth.Patrol)
	r := p.Do(t, "POST", "/api/v1/patrols", admin, `{"id":"u-3","name":"Bike 3","area":"north","position":{"lat":52.02,"lon":4.36},"account":"rider"}`)
	wantStatus(t, r, http.StatusCreated)
	for _, c := range []struct{ body, want string }{
		{`{"id":"u-3","name":"again"}`, "exists"},
		{`{"id":"a b","name":"x"}`, "id"},
		{`{"id":"u-4"}`, "name"},
		{`{"id":"u-4","name":"x","status":"asleep"}`, "status"},
		{`{"id":"u-4","name":"x","position":{"lat":91,"lon":0}}`, "lat"},
	} {
		r := p.Do(t, "POST", "/api/v1/patrols", admin, c.body)
		assert.GreaterOrEqual(t, r.StatusCode, 400, "%s: %s", c.body, r.Body)
		assert.Less(t, r.StatusCode, 500, "%s: %s", c.body, r.Body)
		assert.Contains(t, string(r.Body), c.want, c.body)
	}
	// A patrol reports its own unit's position, not another's.
	r = p.Do(t, "POST", "/api/v1/patrols/u-near/position", patrol, `{"position":{"lat":52.012,"lon":4.351},"status":"busy"}`)
	wantStatus(t, r, http.StatusOK)
	var u web.PatrolView
	decode(t, r, &u)
	assert.Equal(t, "busy", u.Status)
	if assert.NotNil(t, u.Position) {
		assert.Equal(t, 52.012, u.Position.Lat)
	}
	assert.WithinDuration(t, t0, u.Updated, 0)
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-far/position", patrol, `{"position":{"lat":52.0,"lon":4.3}}`), http.StatusForbidden)
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-far/position", admin, `{"position":{"lat":52.0,"lon":4.3}}`), http.StatusOK)
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-none/position", admin, `{"position":{"lat":52.0,"lon":4.3}}`), http.StatusNotFound)
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-far/position", admin, `{"position":{"lat":0,"lon":0}}`), http.StatusBadRequest)
	var l struct{ Patrols []web.PatrolView }
	r = p.Do(t, "GET", "/api/v1/patrols", p.Token(t, auth.Operator), "")
	decode(t, r, &l)
	assert.Len(t, l.Patrols, 3, "%s", r.Body)
}
