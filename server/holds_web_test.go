package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/config"
	"snowlight/tracks"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCaseHoldRoutes drives the case-hold routes of a real server (SQLite store, retention.Holds, the
// audit log) over HTTP: a hold of a stored sighting's trajectory, the case's list, a release, the
// refusals, and the audit entries the hold service writes with the case and the reason.
func TestCaseHoldRoutes(t *testing.T) {
	ctx := t.Context()
	cfg, err := config.Parse(strings.NewReader("listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\n"), func(string) string { return "" })
	require.NoError(t, err)
	s, err := New(ctx, Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s.web.Handler())
	t.Cleanup(ts.Close)

	enter := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"cam-a-1", "cam-a-2"} {
		require.NoError(t, s.db.SaveSighting(ctx, tracks.Sighting{ID: id, Camera: "cam-a", Enter: enter, Exit: enter.Add(8 * time.Second), Final: true}))
	}
	token := func(name string, role auth.Role) string {
		pw, err := auth.RandomPassword()
		require.NoError(t, err)
		_, err = s.auth.AddUser(ctx, auth.NewUser{Name: name, Role: role, Password: pw})
		require.NoError(t, err)
		var out struct{ Token string }
		holdCall(t, ts.URL, "POST", "/api/v1/login", "", `{"user":"`+name+`","password":"`+pw+`"}`, http.StatusOK, &out)
		return out.Token
	}
	inv, auditor, operator := token("ines", auth.Investigator), token("aude", auth.Auditor), token("otto", auth.Operator)

	var placed struct {
		Holds []struct {
			Item struct{ Kind, ID string }
			Via  string
		}
	}
	holdCall(t, ts.URL, "POST", "/api/v1/cases/K-7/holds", inv,
		`{"reason":"robbery at the market, keep the path","items":[{"kind":"trajectory","id":"cam-a-1"},{"kind":"sighting","id":"cam-a-2"}]}`,
		http.StatusCreated, &placed)
	var got []string
	for _, h := range placed.Holds {
		got = append(got, h.Item.Kind+"/"+h.Item.ID+"<"+h.Via)
	}
	assert.Equal(t, "trajectory/cam-a-1< sighting/cam-a-1<trajectory/cam-a-1 sighting/cam-a-2<", strings.Join(got, " "), "held")
	var list struct{ Holds []json.RawMessage }
	holdCall(t, ts.URL, "GET", "/api/v1/cases/K-7/holds", auditor, "", http.StatusOK, &list)
	assert.Len(t, list.Holds, 3, "the case's holds")

	// Refusals: roles, a missing item (nothing held), a release of what the case does not hold.
	holdCall(t, ts.URL, "POST", "/api/v1/cases/K-7/holds", operator, `{"reason":"an operator may not hold","items":[{"kind":"sighting","id":"cam-a-1"}]}`, http.StatusForbidden, nil)
	holdCall(t, ts.URL, "POST", "/api/v1/cases/K-7/holds", auditor, `{"reason":"an auditor may not hold","items":[{"kind":"sighting","id":"cam-a-1"}]}`, http.StatusForbidden, nil)
	holdCall(t, ts.URL, "POST", "/api/v1/cases/K-8/holds", inv, `{"reason":"keep what does not exist","items":[{"kind":"sighting","id":"cam-a-1"},{"kind":"alert","id":"a-none"}]}`, http.StatusNotFound, nil)
	holdCall(t, ts.URL, "POST", "/api/v1/cases/K-7/release", inv, `{"reason":"release what is not held","items":[{"kind":"alert","id":"a-none"}]}`, http.StatusNotFound, nil)
	holdCall(t, ts.URL, "GET", "/api/v1/cases/K-8/holds", inv, "", http.StatusOK, &list)
	assert.Empty(t, list.Holds, "a refused hold held items")

	var rel struct{ Released []json.RawMessage }
	holdCall(t, ts.URL, "POST", "/api/v1/cases/K-7/release", inv, `{"reason":"suspect convicted, evidence archived"}`, http.StatusOK, &rel)
	assert.Len(t, rel.Released, 3, "holds released")
	holdCall(t, ts.URL, "GET", "/api/v1/holds", auditor, "", http.StatusOK, &list)
	assert.Empty(t, list.Holds, "holds active after the release")
	holdCall(t, ts.URL, "GET", "/api/v1/holds?all=1", auditor, "", http.StatusOK, &list)
	assert.Len(t, list.Holds, 3, "holds in the full list")

	es, err := s.audit.List(ctx, audit.Filter{Case: "K-7", Limit: audit.MaxPage})
	require.NoError(t, err)
	var trail []string
	for _, e := range es {
		if e.Action == "case.hold" || e.Action == "case.release" {
			trail = append(trail, e.Actor+" "+e.Action+" "+e.Target+": "+e.Reason)
		}
	}
	want := []string{"ines case.hold 2 items: robbery at the market, keep the path", "ines case.release case/K-7: suspect convicted, evidence archived"}
	assert.Equal(t, strings.Join(want, "\n"), strings.Join(trail, "\n"), "audit trail of case K-7")
	rep, err := s.audit.Verify(context.Background(), audit.Head{})
	assert.NoError(t, err, "audit chain")
	assert.True(t, rep.OK(), "audit chain: %+v", rep)
}

// holdCall sends one request and checks its status, decoding the answer into out when given.
func holdCall(t *testing.T, base, method, path, token, body string, status int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, path, b)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
}
