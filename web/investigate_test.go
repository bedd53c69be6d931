package web_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/casebundle"
	"snowlight/web"
)

// TestSearchRoute: a search needs a case and a reason (recorded with the query), says what is wrong
// with a bad request, reads the description back, and links the hits' pictures.
func TestSearchRoute(t *testing.T) {
	p := newProduct(t, nil, nil)
	tok := p.Token(t, auth.Investigator)
	const q = "/api/v1/search/sightings?case=C-1&reason=witness+saw+a+red+top"
	for _, c := range []struct{ path, body, want string }{
		{"/api/v1/search/sightings", `{"example":"s1"}`, "case"},
		{q, `{}`, "say what to look for"},
		{q, `{"example":"s1","crop":"AAAA"}`, "not both"},
		{q, `{"colours":"red"}`, "is on (a top"},
		{q, `{"example":"s1","from":"2025-01-01T00:00:00Z","to":"2025-03-01T00:00:00Z"}`, "longer than 31 days"},
		{q, `{"example":"s1","limit":1000}`, "limit"},
		{q, `{"example":"s1","cameras":["nowhere"]}`, "unknown camera"},
	} {
		r := p.Do(t, "POST", c.path, tok, c.body)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, c.body)
		assert.Contains(t, string(r.Body), c.want, c.body)
	}

	r := p.Do(t, "POST", q, tok, `{"example":"s1","colours":"a red jacket and dark jeans"}`)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var res struct {
		Hits        []web.SearchHit
		Description web.DescriptionView
	}
	decode(t, r, &res)
	require.NotEmpty(t, res.Hits)
	assert.Equal(t, "s2", res.Hits[0].Sighting.ID, "the example's trajectory first; the example left out")
	assert.NotEmpty(t, res.Hits[0].Sighting.Snapshot.URL)
	assert.Equal(t, []string{"red"}, res.Description.Upper.Names)
	assert.True(t, res.Description.Lower.Dark)

	es := auditActions(t, p.Env, "t-investigator")
	require.GreaterOrEqual(t, len(es), 2)
	asked, found := es[len(es)-2], es[len(es)-1]
	assert.Equal(t, "search.sightings", asked.Action, "recorded before the search runs")
	assert.Equal(t, "C-1", asked.Case)
	assert.Equal(t, "search.result", found.Action, "and what it looked for and found")
	assert.Equal(t, "C-1", found.Case)
	assert.Equal(t, "s1", found.Details["example"])
	assert.Equal(t, "a red jacket and dark jeans", found.Details["colours"])
	assert.Equal(t, strconv.Itoa(len(res.Hits)), found.Details["hits"])

	r = p.Do(t, "POST", "/api/v1/search/describe", tok, `{"text":"navy hoodie"}`)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var d web.DescriptionView
	decode(t, r, &d)
	assert.Equal(t, web.TermView{Names: []string{"blue"}, Dark: true}, d.Upper)
}

// TestExportRoute: an export needs a reason and one subject, is recorded before it starts, runs in
// the background, and once done gives a link to a bundle that verifies with the server's public key.
func TestExportRoute(t *testing.T) {
	p := newProduct(t, nil, nil)
	tok := p.Token(t, auth.Investigator)
	for _, body := range []string{`{"person_id":"p-anna"}`, `{"reason":"court order 7/2025"}`,
		`{"reason":"court order 7/2025","person_id":"p-anna","sighting":"s1"}`} {
		r := p.Do(t, "POST", "/api/v1/cases/C-9/exports", tok, body)
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, body)
	}
	r := p.Do(t, "POST", "/api/v1/cases/C-9/exports", tok,
		`{"reason":"court order 7/2025","person_id":"p-anna","from":"2025-01-01T00:00:00Z","to":"2025-01-09T00:00:00Z"}`)
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Contains(t, string(r.Body), "longer than 7 days")
	r = p.Do(t, "POST", "/api/v1/cases/C-9/exports", tok, `{"reason":"court order 7/2025","person_id":"nobody"}`)
	assert.Equal(t, http.StatusNotFound, r.StatusCode, "nothing seen")

	r = p.Do(t, "POST", "/api/v1/cases/C-9/exports", tok, `{"reason":"court order 7/2025","person_id":"p-anna"}`)
	require.Equal(t, http.StatusAccepted, r.StatusCode, string(r.Body))
	var v web.ExportView
	decode(t, r, &v)
	assert.Equal(t, web.ExportRunning, v.Status)
	assert.Equal(t, "person/p-anna", v.Subject)
	es, err := p.Env.Audit.List(t.Context(), audit.Filter{Case: "C-9", Action: "case.export"})
	require.NoError(t, err)
	var targets []string
	for _, e := range es {
		targets = append(targets, e.Target)
		assert.Equal(t, "court order 7/2025", e.Reason)
	}
	assert.Equal(t, []string{"person/nobody", "person/p-anna"}, targets, "every export asked for is recorded before it runs")

	p.W.Exports.Wait()
	r = p.Do(t, "GET", "/api/v1/cases/C-9/exports/"+v.ID, tok, "")
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	decode(t, r, &v)
	require.Equal(t, web.ExportDone, v.Status, v.Error)
	require.NotEmpty(t, v.Bundle.URL)
	assert.Equal(t, http.StatusNotFound, p.Do(t, "GET", "/api/v1/cases/OTHER/exports/"+v.ID, tok, "").StatusCode, "another case's export")

	r = p.Do(t, "GET", "/api/v1/cases/C-9/exports", tok, "")
	assert.NotContains(t, string(r.Body), "/api/v1/objects/", "the list carries no download links")

	res, err := http.Get(p.Env.HTTP.URL + v.Bundle.URL)
	require.NoError(t, err)
	zipBytes, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	r = p.Do(t, "GET", "/api/v1/signing-key", "", "")
	require.Equal(t, http.StatusOK, r.StatusCode)
	var key web.SigningKeyView
	decode(t, r, &key)
	pub, err := casebundle.ParsePublicKey(key.PublicKey)
	require.NoError(t, err)
	m, err := casebundle.Verify(bytes.NewReader(zipBytes), int64(len(zipBytes)), casebundle.VerifyOptions{PublicKey: pub})
	require.NoError(t, err)
	assert.Equal(t, "C-9", m.Case)
	assert.Equal(t, v.Fingerprint, key.Fingerprint)
	digest, err := m.Digest()
	require.NoError(t, err)
	assert.Equal(t, v.ManifestSHA256, digest)
}

// TestPatrolAssignment: the patrol's unit sees the alert it is dispatched to, with the person's photo
// and the evidence of the alert's own camera only (the person's other camera is a trajectory query),
// and loses it when the alert is resolved; a patrol account without a unit is told so.
func TestPatrolAssignment(t *testing.T) {
	p := newProduct(t, nil, nil)
	w := raiseWalk(t, p) // a-walk at cam-1, with evidence from cam-1 and cam-2
	patrol := p.Token(t, auth.Patrol)
	get := func() (web.AssignmentView, []byte) {
		t.Helper()
		r := p.Do(t, "GET", "/api/v1/patrol/assignment", patrol, "")
		require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
		var a web.AssignmentView
		decode(t, r, &a)
		return a, r.Body
	}
	a, _ := get()
	assert.Equal(t, "u-near", a.Unit.ID)
	assert.Nil(t, a.Alert, "not sent anywhere yet")
	assert.Equal(t, http.StatusNotFound, p.Do(t, "GET", "/api/v1/patrol/assignment/photo", patrol, "").StatusCode)

	op := p.Token(t, auth.Operator)
	r := p.Do(t, "POST", "/api/v1/alerts/a-walk/confirm", op, `{}`)
	require.Equal(t, http.StatusOK, r.StatusCode, "confirm: %s", r.Body)
	r = p.Do(t, "POST", "/api/v1/alerts/a-walk/dispatch", op, `{"patrol":"u-near"}`)
	require.Equal(t, http.StatusOK, r.StatusCode, "dispatch: %s", r.Body)
	a, body := get()
	require.NotNil(t, a.Alert)
	assert.Equal(t, "a-walk", a.Alert.ID)
	assert.Equal(t, "Anna K", a.Alert.PersonName)
	require.NotNil(t, a.Latest)
	assert.Equal(t, "walk-cam-1", a.Latest.ID)
	assert.NotEmpty(t, a.Latest.Snapshot.URL)
	require.Len(t, a.Route, 1)
	assert.Equal(t, "cam-1", a.Route[0].Camera)
	assert.True(t, keyIn(body, w.snaps[0]))
	assert.False(t, keyIn(body, w.snaps[1]) || keyIn(body, w.faces[1]) || strings.Contains(string(body), "Harbour"),
		"the assignment shows the person at another camera than the alert's")
	r = p.Do(t, "GET", "/api/v1/patrol/assignment/photo", patrol, "")
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	for _, act := range []string{"ack", "on_scene", "resolve"} {
		r := p.Do(t, "POST", "/api/v1/alerts/a-walk/"+act, patrol, `{}`)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s: %s", act, r.Body)
	}
	a, _ = get()
	assert.Nil(t, a.Alert, "resolved: nothing to do")
	assert.Equal(t, http.StatusNotFound, p.Do(t, "GET", "/api/v1/patrol/assignment/photo", patrol, "").StatusCode)

	_, pw := p.AddUser(t, "spare-patrol", auth.Patrol, auth.Scope{})
	spare := p.Login(t, "spare-patrol", pw)
	r = p.Do(t, "GET", "/api/v1/patrol/assignment", spare, "")
	assert.Equal(t, http.StatusNotFound, r.StatusCode)
	assert.Contains(t, string(r.Body), "no patrol unit")
}

// TestSearchScope: an investigator whose scope names cameras searches those only, and a sighting
// outside them is not an example.
func TestSearchScope(t *testing.T) {
	p := newProduct(t, nil, map[auth.Role]auth.Scope{auth.Investigator: {Cameras: []string{"cam-2"}}})
	tok := p.Token(t, auth.Investigator)
	const q = "/api/v1/search/sightings?case=C-2&reason=district+two+only+please"
	r := p.Do(t, "POST", q, tok, `{"colours":"red top"}`)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var res struct{ Hits []web.SearchHit }
	decode(t, r, &res)
	require.NotEmpty(t, res.Hits)
	for _, h := range res.Hits {
		assert.Equal(t, "cam-2", h.Sighting.Camera)
	}
	r = p.Do(t, "POST", q, tok, `{"example":"s1"}`)
	assert.Equal(t, http.StatusNotFound, r.StatusCode, "s1 is at cam-1: %s", r.Body)
}
