package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/config"
	"snowlight/ingest"
	"snowlight/web"
)

// TestCameraCredentialsNeverLeak puts canary passwords in the configuration's camera URLs: one camera
// that accepts it and streams, one that rejects its (wrong) canary and goes offline. Neither canary may
// appear in anything the server logged, in any API answer (cameras, alerts with their details and
// history, the alert stream, patrols, audit, /metrics, /healthz), in the cameras' status lines, or in
// the configuration's own error messages.
func TestCameraCredentialsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the server on two RTSP cameras for a few seconds")
	}
	const user, good, wrong = "cam-admin", "CANARY-7f3a9c-pass", "CANARY-b41e_wrong.pw~"
	canaries := []string{good, wrong, url.QueryEscape(good), url.QueryEscape(wrong), url.PathEscape(wrong)}
	r := scene(t, "alerts")
	in := newInbox(t)
	f := startFeed(t, r, feedOptions{user: user, pass: good})
	require.NoError(t, f.sim.AddFile("gate-b", r.VideoPath("gate")))
	// No models: the canary is about credentials, not recognition, and the classical detectors at
	// one frame in two seconds cost little.
	d := deployment{listen: "127.0.0.1:0", dataDir: t.TempDir(), feed: f, cameras: []string{"gate", "gate-b"}, fps: 0.5,
		user: user, pass: good, passFor: map[string]string{"gate-b": wrong}, inbox: in, offline: 3 * time.Second}
	cfg := d.config(t, r.Truth)
	p := startProduct(t, cfg, r.Truth)
	admin := login(t, p.base, p.users[auth.Admin])

	// gate streams with the right canary; gate-b is refused and raises a camera-offline alert.
	var offline web.AlertView
	deadline := time.Now().Add(60 * time.Second)
	for offline.ID == "" {
		var list struct{ Alerts []web.AlertView }
		admin.getJSON(t, "/api/v1/alerts", &list)
		for _, a := range list.Alerts {
			if a.Rule == "camera_offline" && a.Camera == "gate-b" {
				offline = a
			}
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "no offline alert for the camera with the wrong password", "cameras: %+v", cameras(p.srv))
		}
		time.Sleep(250 * time.Millisecond)
	}
	var states []string
	for _, st := range cameras(p.srv) {
		states = append(states, st.Camera+"="+string(st.State))
	}
	require.Contains(t, states, "gate=online", "its canary accepted")
	require.NotContains(t, states, "gate-b=online", "its canary refused")

	// Everything a user, an operator or a scraper can read.
	var seen []string
	get := func(path string) {
		status, b := admin.do(t, "GET", path, "")
		assert.Less(t, status, 500, "GET %s: %s", path, b)
		seen = append(seen, "GET "+path+": "+string(b))
	}
	for _, path := range []string{"/api/v1/cameras", "/api/v1/alerts", "/api/v1/alerts/" + offline.ID, "/api/v1/patrols",
		"/api/v1/audit", "/api/v1/me", "/metrics", "/healthz", "/api/v1/openapi.json"} {
		get(path)
	}
	// The stream from its beginning, as a console that reconnects with Last-Event-ID 0 gets it.
	seen = append(seen, "stream: "+readStream(t, p.base, admin.token, "/api/v1/alerts/stream?last_event_id=0", 2*time.Second))
	// A live view asked of the refused camera: its error message.
	status, b := admin.do(t, "POST", "/api/v1/cameras/gate-b/whep", "v=0\r\n")
	seen = append(seen, "whep: "+string(b))
	assert.GreaterOrEqual(t, status, 400, "WHEP offer for a refused camera: %s", b)
	for _, st := range cameras(p.srv) {
		seen = append(seen, ingest.StatusLine(st), st.URL, st.LastError)
	}
	// The configuration's own complaints about a URL carrying a canary.
	for _, bad := range []string{
		"cameras: [{id: c1, url: \"http://" + user + ":" + good + "@127.0.0.1/x\"}]",
		"cameras: [{id: c1, url: \"rtsp://" + user + ":" + good + "@\"}]",
		"cameras: [{id: c1, url: \"rtsp://" + user + ":" + good + "@127.0.0.1/x\", transport: carrier-pigeon}]",
	} {
		_, err := config.Parse(strings.NewReader(bad), func(string) string { return "" })
		if !assert.Error(t, err, "config %s: accepted", bad) {
			continue
		}
		seen = append(seen, "config error: "+err.Error())
	}
	logs := p.logs.String()
	// Not require.Contains: it would print the whole log.
	require.True(t, strings.Contains(logs, "gate-b"), "the server's log never names gate-b: the grep below would prove nothing")
	require.True(t, strings.Contains(logs, "rtsp://"), "the server's log has no camera URL: the grep below would prove nothing")
	seen = append(seen, "log: "+logs)
	for _, s := range seen {
		for _, c := range canaries {
			if i := strings.Index(s, c); i >= 0 {
				assert.Fail(t, "camera password leaked", "%q: ...%s...", c, s[max(0, i-200):min(len(s), i+len(c)+50)])
			}
		}
	}
	t.Logf("checked %d answers, error messages and %d bytes of log; offline alert: %s", len(seen), len(logs), offline.Title)
}

// readStream reads an event stream for a while and returns what came.
func readStream(t *testing.T, base, token, path string, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // ends with the context's deadline
	assert.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, b)
	assert.NotEmpty(t, b, "GET %s: nothing came", path)
	return string(b)
}
