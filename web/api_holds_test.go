package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type holdsPage struct {
	Case     string
	Holds    []web.HoldView
	Released []web.HoldView
	Next     int64
}

// TestCaseHoldsAPI follows a case: hold a trajectory (named by its second sighting) and an alert, list
// the case's holds and everyone's, release the trajectory, and see the release in the full list.
func TestCaseHoldsAPI(t *testing.T) {
	p := newProduct(t, nil, nil)
	inv := p.Token(t, auth.Investigator)
	auditor := p.Token(t, auth.Auditor)

	r := p.Do(t, "POST", "/api/v1/cases/C-2025-7/holds", inv,
		`{"reason":"missing person inquiry, keep the path","items":[{"kind":"trajectory","id":"s2"},{"kind":"alert","id":"a-anna"}]}`)
	wantStatus(t, r, http.StatusCreated)
	var placed holdsPage
	decode(t, r, &placed)
	var got []string
	for _, h := range placed.Holds {
		got = append(got, h.Item.Kind+"/"+h.Item.ID+"<"+h.Via)
		assert.Equal(t, "C-2025-7", h.Case, "hold %+v", h)
		assert.Equal(t, "t-investigator", h.By, "hold %+v", h)
		assert.Equal(t, "missing person inquiry, keep the path", h.Reason, "hold %+v", h)
		assert.False(t, h.At.IsZero(), "hold %+v", h)
		assert.Nil(t, h.Released, "hold %+v", h)
	}
	require.Equal(t, []string{"trajectory/s1<", "sighting/s1<trajectory/s1", "sighting/s2<trajectory/s1", "alert/a-anna<"}, got, "held")
	// Holding again changes nothing.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/holds", inv, `{"reason":"missing person inquiry, again","items":[{"kind":"alert","id":"a-anna"}]}`)
	wantStatus(t, r, http.StatusCreated)
	var again holdsPage
	decode(t, r, &again)
	if assert.Len(t, again.Holds, 1, "held again: %s", r.Body) {
		assert.Equal(t, placed.Holds[3].ID, again.Holds[0].ID, "held again")
		assert.Equal(t, placed.Holds[3].Reason, again.Holds[0].Reason, "held again")
	}

	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/cases/C-2025-7/holds", auditor, 4},
		{"/api/v1/cases/C-2025-7/holds?limit=2", inv, 2},
		{"/api/v1/cases/C-OTHER/holds", inv, 0},
		{"/api/v1/holds", auditor, 4},
		{"/api/v1/holds?after=" + jsonInt(placed.Holds[1].ID), inv, 2},
	} {
		r := p.Do(t, "GET", c.path, c.token, "")
		wantStatus(t, r, http.StatusOK)
		var pg holdsPage
		decode(t, r, &pg)
		if assert.Len(t, pg.Holds, c.want, "%s: %s", c.path, r.Body) && strings.Contains(c.path, "limit=2") {
			assert.Equal(t, pg.Holds[1].ID, pg.Next, "%s: next", c.path)
		}
	}

	// A trajectory is released by any of its sightings, with the sightings it listed.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/release", inv, `{"reason":"path no longer needed for the case","items":[{"kind":"trajectory","id":"s1"}]}`)
	wantStatus(t, r, http.StatusOK)
	var rel holdsPage
	decode(t, r, &rel)
	require.Len(t, rel.Released, 3, "released %s", r.Body)
	require.NotNil(t, rel.Released[0].Released, "released %s", r.Body)
	assert.Equal(t, "t-investigator", rel.Released[0].Released.By)
	r = p.Do(t, "GET", "/api/v1/cases/C-2025-7/holds", inv, "")
	var active holdsPage
	decode(t, r, &active)
	if assert.Len(t, active.Holds, 1, "active after release: %s", r.Body) {
		assert.Equal(t, web.HoldAlert, active.Holds[0].Item.Kind)
	}
	r = p.Do(t, "GET", "/api/v1/holds?all=1", inv, "")
	var all holdsPage
	decode(t, r, &all)
	if assert.Len(t, all.Holds, 4, "all holds: %s", r.Body) && assert.NotNil(t, all.Holds[0].Released, "all holds: %s", r.Body) {
		assert.Equal(t, "path no longer needed for the case", all.Holds[0].Released.Reason)
	}
	// Releasing what the case no longer holds changes nothing.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/release", inv, `{"reason":"path no longer needed for the case","items":[{"kind":"trajectory","id":"s1"}]}`)
	wantStatus(t, r, http.StatusNotFound)
	// The whole case.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/release", inv, `{"reason":"case closed by the prosecutor"}`)
	wantStatus(t, r, http.StatusOK)
	var closed holdsPage
	decode(t, r, &closed)
	if assert.Len(t, closed.Released, 1, "released the case: %s", r.Body) {
		assert.Equal(t, "a-anna", closed.Released[0].Item.ID)
	}

	// Reading holds is recorded, with who read which case.
	es, err := p.Audit.List(context.Background(), audit.Filter{Actor: "t-auditor", Action: "holds.case"})
	require.NoError(t, err)
	if assert.Len(t, es, 1, "audit of the auditor's look at the case") {
		assert.Equal(t, "/api/v1/cases/C-2025-7/holds", es[0].Target)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestCaseHoldsAPIRefuses checks that bad requests are refused with a message that says what to fix,
// and hold nothing.
func TestCaseHoldsAPIRefuses(t *testing.T) {
	p := newProduct(t, nil, nil)
	inv := p.Token(t, auth.Investigator)
	many := `{"reason":"too many items in one go","items":[` + strings.TrimSuffix(strings.Repeat(`{"kind":"sighting","id":"s1"},`, 1001), ",") + `]}`
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"no reason", "POST", "/api/v1/cases/C-1/holds", `{"items":[{"kind":"sighting","id":"s1"}]}`, 400, "give a reason"},
		{"short reason", "POST", "/api/v1/cases/C-1/holds", `{"reason":"because","items":[{"kind":"sighting","id":"s1"}]}`, 400, "reason too short"},
		{"no items", "POST", "/api/v1/cases/C-1/holds", `{"reason":"keep the evidence for trial"}`, 400, "name what to hold"},
		{"empty items", "POST", "/api/v1/cases/C-1/holds", `{"reason":"keep the evidence for trial","items":[]}`, 400, "name what to hold"},
		{"unknown kind", "POST", "/api/v1/cases/C-1/holds", `{"reason":"keep the evidence for trial","items":[{"kind":"camera","id":"cam-1"}]}`, 400, "kind \\\"camera\\\": want sighting, trajectory or alert"},
		{"bad id", "POST", "/api/v1/cases/C-1/holds", `{"reason":"keep the evidence for trial","items":[{"kind":"sighting","id":"a/b"}]}`, 400, "not a valid id"},
		{"too many", "POST", "/api/v1/cases/C-1/holds", many, 400, "at most 1000 items"},
		{"unknown field", "POST", "/api/v1/cases/C-1/holds", `{"reason":"keep the evidence for trial","items":[],"forever":true}`, 400, "unknown field"},
		{"long case", "POST", "/api/v1/cases/" + strings.Repeat("C", 300) + "/holds", `{"reason":"keep the evidence for trial","items":[{"kind":"sighting","id":"s1"}]}`, 400, "case number"},
		{"no such sighting", "POST", "/api/v1/cases/C-1/holds", `{"reason":"keep the evidence for trial","items":[{"kind":"sighting","id":"s1"},{"kind":"sighting","id":"s-none"}]}`, 404, "s-none"},
		{"release unheld", "POST", "/api/v1/cases/C-1/release", `{"reason":"case closed by the court"}`, 404, "holds nothing"},
		{"release short reason", "POST", "/api/v1/cases/C-1/release", `{"reason":"done"}`, 400, "reason too short"},
		{"bad all", "GET", "/api/v1/holds?all=maybe", "", 400, "all must be 1 or 0"},
		{"bad limit", "GET", "/api/v1/cases/C-1/holds?limit=0", "", 400, "limit must be"},
		{"bad after", "GET", "/api/v1/holds?after=-3", "", 400, "after must be"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := p.Do(t, c.method, c.path, inv, c.body)
			assert.Equal(t, c.status, r.StatusCode, "%s", r.Body)
			assert.Contains(t, string(r.Body), c.msg)
		})
	}
	r := p.Do(t, "GET", "/api/v1/holds?all=1", inv, "")
	assert.Contains(t, string(r.Body), `"holds":[]`, "refused requests held something")
	// Without JSON the request is refused before anything is read.
	req, _ := http.NewRequest("POST", p.HTTP.URL+"/api/v1/cases/C-1/holds", strings.NewReader(`reason=x`))
	req.Header.Set("Authorization", "Bearer "+inv)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r = p.Send(t, req)
	assert.Equal(t, http.StatusUnsupportedMediaType, r.StatusCode, "a form body: %s", r.Body)
}
