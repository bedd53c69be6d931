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
		if h.Case != "C-2025-7" || h.By != "t-investigator" || h.Reason != "missing person inquiry, keep the path" || h.At.IsZero() || h.Released != nil {
			t.Errorf("hold %+v", h)
		}
	}
	if want := "trajectory/s1< sighting/s1<trajectory/s1 sighting/s2<trajectory/s1 alert/a-anna<"; strings.Join(got, " ") != want {
		t.Errorf("held %q, want %q", strings.Join(got, " "), want)
	}
	// Holding again changes nothing.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/holds", inv, `{"reason":"missing person inquiry, again","items":[{"kind":"alert","id":"a-anna"}]}`)
	wantStatus(t, r, http.StatusCreated)
	var again holdsPage
	decode(t, r, &again)
	if len(again.Holds) != 1 || again.Holds[0].ID != placed.Holds[3].ID || again.Holds[0].Reason != placed.Holds[3].Reason {
		t.Errorf("held again: %s", r.Body)
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
		if len(pg.Holds) != c.want {
			t.Errorf("%s: %d holds, want %d: %s", c.path, len(pg.Holds), c.want, r.Body)
		}
		if strings.Contains(c.path, "limit=2") && pg.Next != pg.Holds[1].ID {
			t.Errorf("%s: next %d, want %d", c.path, pg.Next, pg.Holds[1].ID)
		}
	}

	// A trajectory is released by any of its sightings, with the sightings it listed.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/release", inv, `{"reason":"path no longer needed for the case","items":[{"kind":"trajectory","id":"s1"}]}`)
	wantStatus(t, r, http.StatusOK)
	var rel holdsPage
	decode(t, r, &rel)
	if len(rel.Released) != 3 || rel.Released[0].Released == nil || rel.Released[0].Released.By != "t-investigator" {
		t.Fatalf("released %s", r.Body)
	}
	r = p.Do(t, "GET", "/api/v1/cases/C-2025-7/holds", inv, "")
	var active holdsPage
	decode(t, r, &active)
	if len(active.Holds) != 1 || active.Holds[0].Item.Kind != web.HoldAlert {
		t.Errorf("active after release: %s", r.Body)
	}
	r = p.Do(t, "GET", "/api/v1/holds?all=1", inv, "")
	var all holdsPage
	decode(t, r, &all)
	if len(all.Holds) != 4 || all.Holds[0].Released == nil || all.Holds[0].Released.Reason != "path no longer needed for the case" {
		t.Errorf("all holds: %s", r.Body)
	}
	// Releasing what the case no longer holds changes nothing.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/release", inv, `{"reason":"path no longer needed for the case","items":[{"kind":"trajectory","id":"s1"}]}`)
	wantStatus(t, r, http.StatusNotFound)
	// The whole case.
	r = p.Do(t, "POST", "/api/v1/cases/C-2025-7/release", inv, `{"reason":"case closed by the prosecutor"}`)
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &rel)
	if len(rel.Released) != 1 || rel.Released[0].Item.ID != "a-anna" {
		t.Errorf("released the case: %s", r.Body)
	}

	// Reading holds is recorded, with who read which case.
	es, err := p.Audit.List(context.Background(), audit.Filter{Actor: "t-auditor", Action: "holds.case"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Target != "/api/v1/cases/C-2025-7/holds" {
		t.Errorf("audit of the auditor's look at the case: %+v", es)
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
			if r.StatusCode != c.status || !contains(string(r.Body), c.msg) {
				t.Errorf("got %d %s, want %d with %q", r.StatusCode, r.Body, c.status, c.msg)
			}
		})
	}
	r := p.Do(t, "GET", "/api/v1/holds?all=1", inv, "")
	if !contains(string(r.Body), `"holds":[]`) {
		t.Errorf("refused requests held something: %s", r.Body)
	}
	// Without JSON the request is refused before anything is read.
	req, _ := http.NewRequest("POST", p.HTTP.URL+"/api/v1/cases/C-1/holds", strings.NewReader(`reason=x`))
	req.Header.Set("Authorization", "Bearer "+inv)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := p.Send(t, req); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %d %s", r.StatusCode, r.Body)
	}
}
