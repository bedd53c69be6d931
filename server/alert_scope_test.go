package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/auth"
	"snowlight/config"
	"snowlight/objstore"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// scopeWorld is a server with two cameras and two patrol units in two areas and an alert about a
// person who was seen at market and then at corner: the alert was raised at market and moved to
// corner, so its evidence comes from both cameras. It serves the API without running the pipeline.
type scopeWorld struct {
	s      *Server
	url    string
	alert  string
	market []string // object keys captured by market: face, body
	corner []string
}

// apiServer builds a server from the configuration's YAML (listen and data_dir are added) and serves
// its API on a local address, without running the pipeline.
func apiServer(t *testing.T, yaml string) (*Server, string) {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %q\n%s", t.TempDir(), yaml)), func(string) string { return "" })
	require.NoError(t, err)
	s, err := New(t.Context(), Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s.web.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func newScopeWorld(t *testing.T) *scopeWorld {
	t.Helper()
	ctx := t.Context()
	s, url := apiServer(t, `areas: [{id: city, level: city}, {id: east, level: district, parent: city}, {id: west, level: district, parent: city}]
cameras:
  - {id: corner, name: Corner, url: "rtsp://127.0.0.1:9/corner", area: east, position: {lat: 50.88, lon: 4.70}}
  - {id: market, name: Market, url: "rtsp://127.0.0.1:9/market", area: west, position: {lat: 50.87, lon: 4.69}}
patrols:
  - {id: u-near, name: Near unit, area: east, position: {lat: 50.881, lon: 4.701}}
  - {id: u-far, name: Far unit, area: west, position: {lat: 50.86, lon: 4.68}}
`)
	w := &scopeWorld{s: s, url: url}

	person := &alerts.Person{ID: "p-anna", Name: "Anna K", Category: watchlist.Suspect}
	now := time.Now()
	var id string
	for i, cam := range []string{"market", "corner"} {
		var keys []string
		for _, kind := range []string{"face", "body"} {
			info, err := objstore.PutContent(ctx, s.objects, kind, "jpg", []byte(fmt.Sprintf("\xff\xd8\xff %s at %s", kind, cam)), "image/jpeg", objstore.Meta{Camera: cam})
			require.NoError(t, err)
			keys = append(keys, info.Key)
		}
		at := now.Add(time.Duration(i*6-8) * time.Minute)
		sg := tracks.Sighting{ID: cam + "-1", Camera: cam, Enter: at.Add(-time.Minute), Exit: at, Final: true,
			Face: &tracks.Snapshot{Time: at, Ref: keys[0]}, Body: &tracks.Snapshot{Time: at, Ref: keys[1]},
			Evidence: tracks.Evidence{PersonID: person.ID, FaceFrames: 3}}
		require.NoError(t, s.db.SaveSighting(ctx, sg))
		c, _ := s.dep.Camera(cam)
		a, _, err := s.engine.Raise(ctx, alerts.Trigger{Kind: alerts.WatchlistHit, At: at, Person: person,
			Place:    alerts.Place{Camera: cam, CameraName: c.Name, Area: c.Area},
			Detail:   "Anna K identified at " + c.Name,
			Evidence: alerts.Evidence{Sightings: []string{sg.ID}, FaceCrops: []string{keys[0]}, Scores: []float32{0.7}, Snapshot: keys[1]}})
		require.NoError(t, err)
		id = a.ID
		if cam == "market" {
			w.market = keys
		} else {
			w.corner = keys
		}
	}
	w.alert = id
	return w
}

// login logs a user in through the API and returns the token.
func (w *scopeWorld) login(t testing.TB, name, password string) string {
	t.Helper()
	status, b := w.request(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":%q,"password":%q}`, name, password))
	var lr struct{ Token string }
	require.Equal(t, http.StatusOK, status, string(b))
	require.NoError(t, json.Unmarshal(b, &lr))
	return lr.Token
}

// token adds a user and logs them in.
func (w *scopeWorld) token(t *testing.T, name string, r auth.Role, sc auth.Scope) string {
	t.Helper()
	pw, err := auth.RandomPassword()
	require.NoError(t, err)
	_, err = w.s.auth.AddUser(t.Context(), auth.NewUser{Name: name, Role: r, Password: pw, Scope: sc})
	require.NoError(t, err)
	return w.login(t, name, pw)
}

// request sends one request and returns the status and the body; an event stream is read for a
// second, which brings what it replays.
func (w *scopeWorld) request(t testing.TB, method, path, token, body string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.url+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		time.AfterFunc(time.Second, cancel)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestAlertDetailScopedToTheCallersCameras reproduces the leak found in review against the real
// alert engine and store: an operator assigned the camera corner opens the alert of a person who
// came from market. The answer holds nothing of market (not its sightings, faces, snapshot, the
// raising step's note, nor the person's path), while an admin sees all of it, and the path is a
// trajectory query for investigators with a case.
func TestAlertDetailScopedToTheCallersCameras(t *testing.T) {
	w := newScopeWorld(t)
	op := w.token(t, "olga", auth.Operator, auth.Scope{Cameras: []string{"corner"}})
	status, b := w.request(t, "GET", "/api/v1/alerts/"+w.alert, op, "")
	body := string(b)
	require.Equal(t, http.StatusOK, status, body)
	for _, leak := range append([]string{"market", "Market", `"path"`}, w.market...) {
		assert.NotContains(t, body, leak, "operator of corner")
	}
	for _, want := range []string{"corner-1", w.corner[0]} {
		assert.Contains(t, body, want, "operator of corner")
	}

	admin := w.token(t, "ada", auth.Admin, auth.Scope{})
	status, b = w.request(t, "GET", "/api/v1/alerts/"+w.alert, admin, "")
	body = string(b)
	require.Equal(t, http.StatusOK, status, body)
	for _, want := range append([]string{"market-1", "corner-1", "identified at Market"}, w.market[0], w.market[1], w.corner[0]) {
		assert.Contains(t, body, want, "admin")
	}

	status, _ = w.request(t, "GET", "/api/v1/alerts/"+w.alert+"/path?case=K-9&reason=operator+wants+the+path", op, "")
	assert.Equal(t, http.StatusForbidden, status)
	inv := w.token(t, "ines", auth.Investigator, auth.Scope{})
	status, b = w.request(t, "GET", "/api/v1/alerts/"+w.alert+"/path?case=K-9&reason=where+did+the+suspect+come+from", inv, "")
	require.Equal(t, http.StatusOK, status, string(b))
	var path struct{ Sightings []struct{ ID string } }
	require.NoError(t, json.Unmarshal(b, &path))
	require.Len(t, path.Sightings, 2)
	assert.Equal(t, "market-1", path.Sightings[0].ID)
	assert.Equal(t, "corner-1", path.Sightings[1].ID)
}
