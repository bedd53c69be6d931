package web_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
)

// guardianLeaks are things of the test world a guardian of p-anna must never be shown: the other
// person, the staff and units, camera ids and areas, and the full frame (others are in it).
func guardianLeaks(p *product) []string {
	return []string{"Bob", "p-bob", "Jon K", "u-near", "u-far", "Unit 1", "t-operator", "t-patrol", "cam-1", "cam-2",
		"north", "south", "raised by rule", p.SnapKey, `"snapshot"`, `"clip"`, `"patrol"`, `"position"`, `"actor"`, `"note"`}
}

func assertNoLeaks(t *testing.T, body []byte, leaks []string) {
	t.Helper()
	for _, leak := range leaks {
		assert.NotContains(t, string(body), leak)
	}
}

// TestGuardiansSeeOnlyTheirPerson checks what a guardian is shown of their person, in the alert list,
// the detail, the stream and the guardian view: the status, the time, the camera's name and, once a
// person confirmed the match, their person's face; nothing about anybody else.
func TestGuardiansSeeOnlyTheirPerson(t *testing.T) {
	p := newProduct(t, nil, guardScope)
	anna := p.Token(t, auth.Guardian) // guards p-anna
	_, pw := p.AddUser(t, "bobs-guardian", auth.Guardian, auth.Scope{Persons: []string{"p-bob"}})
	bob := p.Login(t, "bobs-guardian", pw)
	op := p.Token(t, auth.Operator)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := openStream(t, p, ctx, anna, "")
	waitFor(t, func() bool { return p.W.Alerts.Subscribers() == 1 })

	assert.Equal(t, []string{"a-anna"}, listIDs(t, p, anna))
	assert.Equal(t, []string{"a-bob"}, listIDs(t, p, bob))
	r := p.Do(t, "GET", "/api/v1/alerts/a-bob", anna, "")
	wantStatus(t, r, http.StatusNotFound)
	assert.NotContains(t, string(r.Body), "Bob", "the refusal reveals the person")

	// Before a person confirmed the match the face may be a stranger's: no face yet.
	r = p.Do(t, "GET", "/api/v1/alerts", anna, "")
	wantStatus(t, r, http.StatusOK)
	assertNoLeaks(t, r.Body, append(guardianLeaks(p), `"face"`))
	var l alertList
	decode(t, r, &l)
	require.Len(t, l.Alerts, 1)
	assert.Equal(t, "Harbour", l.Alerts[0].CameraName)
	assert.Equal(t, "open", l.Alerts[0].Status)

	// Confirmed and dispatched: the guardian learns that, and sees the face; not the unit.
	for _, step := range []string{"confirm", "dispatch"} {
		wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-anna/"+step, op, `{"note":"seen by t-operator"}`), http.StatusOK)
	}
	for _, path := range []string{"/api/v1/alerts", "/api/v1/alerts/a-anna", "/api/v1/guardian"} {
		r = p.Do(t, "GET", path, anna, "")
		require.Equal(t, http.StatusOK, r.StatusCode, "%s: %s", path, r.Body)
		leaks := guardianLeaks(p)
		if path == "/api/v1/guardian" {
			// The guardian view is where the person was last seen: the camera's place is its point.
			leaks = slices.DeleteFunc(leaks, func(s string) bool { return s == `"position"` })
		}
		assertNoLeaks(t, r.Body, leaks)
		assert.Contains(t, string(r.Body), `"face":{"url":"/api/v1/objects/face/`, path)
		assert.Contains(t, string(r.Body), "Harbour", path)
	}
	d := alertDetail(t, p, anna, "a-anna")
	assert.Equal(t, "dispatched", d.Status)
	assert.Empty(t, d.Crops)
	assert.Empty(t, d.Sightings)
	assert.Empty(t, d.EnrolmentPhotos)
	assert.Nil(t, d.PatrolUnit)
	var steps []string
	for _, h := range d.History {
		steps = append(steps, h.Status)
	}
	assert.Equal(t, []string{"open", "confirmed", "dispatched"}, steps)

	// The stream says the same as the list: each event the projection, never another person's.
	var seen []string
	for len(seen) < 2 {
		ev := stream.next(t)
		seen = append(seen, ev.alert.Status)
		assert.Equal(t, "a-anna", ev.alert.ID)
		assert.Empty(t, ev.alert.Patrol)
		assert.Empty(t, ev.alert.Snapshot.URL)
		assert.Empty(t, ev.alert.Camera)
		assert.Equal(t, "Harbour", ev.alert.CameraName)
		assert.NotEmpty(t, ev.alert.Face.URL)
	}
	assert.Equal(t, []string{"confirmed", "dispatched"}, seen)

	// The guardian view: where and when the person was last seen, with their face, not the frame.
	r = p.Do(t, "GET", "/api/v1/guardian", anna, "")
	var g struct {
		Persons []struct {
			ID     string
			Latest *struct {
				ID, CameraName string
				Face           struct{ URL string }
				Score          float64
			}
			Alerts []struct{ ID string }
		}
	}
	decode(t, r, &g)
	require.Len(t, g.Persons, 1)
	assert.Equal(t, "p-anna", g.Persons[0].ID)
	require.NotNil(t, g.Persons[0].Latest)
	assert.Equal(t, "s2", g.Persons[0].Latest.ID)
	assert.NotEmpty(t, g.Persons[0].Latest.Face.URL)
	assert.Zero(t, g.Persons[0].Latest.Score)
	assert.True(t, slices.ContainsFunc(g.Persons[0].Alerts, func(a struct{ ID string }) bool { return a.ID == "a-anna" }))

	// The guardian cannot reach around the projection.
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-bob/photos/0", anna, ""), http.StatusForbidden)
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-anna/photos/0", anna, ""), http.StatusOK)
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-anna/trajectory", anna, ""), http.StatusForbidden)
	wantStatus(t, p.Do(t, "GET", "/api/v1/alerts/a-anna/path?case=K-1&reason=where+is+my+mother+now", anna, ""), http.StatusForbidden)
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-anna/resolve", anna, ""), http.StatusForbidden)
	r = p.Do(t, "GET", "/api/v1/guardian", bob, "")
	g.Persons = nil
	decode(t, r, &g)
	require.Len(t, g.Persons, 1)
	assert.Equal(t, "p-bob", g.Persons[0].ID)
	assert.Nil(t, g.Persons[0].Latest)
}
