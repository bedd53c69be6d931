package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const canary = "Canary-Pa55word-7f3a"

const valid = `
listen: 127.0.0.1:9090
time_zone: Europe/Berlin
engine: onnxruntime
alerts:
  rules:
    - {kind: loitering, cameras: [cam-1], schedule: "22:00-06:00"}
areas:
  - {id: city, level: city}
  - {id: riverside, level: district, parent: city}
  - {id: market-st, level: street, parent: riverside}
cameras:
  - id: cam-1
    url: rtsp://admin:` + canary + `@10.0.0.5:554/stream1
    position: {lat: 52.52, lon: 13.40}
    area: market-st
    zones:
      - {id: door, polygon: [[0,0],[100,0],[100,100]], dwell: 2m}
    neighbours:
      - {camera: cam-2, min: 10s, max: 2m}
  - id: cam-2
    url: rtsps://10.0.0.6/live
    username: viewer
    password: env:CAM2_PASSWORD
    transport: udp
    position: {lat: 52.521, lon: 13.401}
patrols:
  - id: unit-7
    area: market-st
    position: {lat: 52.5, lon: 13.4}
    receiver: {webhook: "https://patrol.example/hook", secret: "file:SECRETFILE"}
guardians:
  - id: daughter
    persons: [p-1]
    receiver: {webhook: "https://family.example/hook", secret: "0123456789abcdef0123456789abcdef"}
watchlist:
  categories:
    suspect: {threshold: 0.6, max_expiry: 336h}
    at-risk: {margin: 0}
`

func parse(t *testing.T, y string) (*Config, error) {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "hook.secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("hook-"+canary+"-0123456789abcdef\n"), 0o600))
	y = strings.ReplaceAll(y, "SECRETFILE", secretFile)
	env := map[string]string{"CAM2_PASSWORD": "cam2-" + canary}
	return Parse(strings.NewReader(y), func(k string) string { return env[k] })
}

func TestValidConfig(t *testing.T) {
	c, err := parse(t, valid)
	require.NoError(t, err)
	require.Len(t, c.Cameras, 2)
	cam := c.Cameras[0]
	// Credentials are split from the URL.
	assert.Equal(t, "rtsp://10.0.0.5:554/stream1", cam.URL)
	assert.Equal(t, "admin", cam.Username)
	assert.Equal(t, canary, cam.Password.Reveal())
	assert.Equal(t, "rtsp://admin:"+canary+"@10.0.0.5:554/stream1", cam.URLWithCredentials())
	// Secret references are resolved.
	assert.Equal(t, "cam2-"+canary, c.Cameras[1].Password.Reveal())
	require.Len(t, c.Patrols, 1)
	assert.Equal(t, "hook-"+canary+"-0123456789abcdef", c.Patrols[0].Receiver.Secret.Reveal())
	// Defaults.
	assert.Equal(t, "tcp", cam.Transport)
	assert.Equal(t, 5.0, cam.DetectFPS)
	assert.Equal(t, 5*time.Second, c.Alerts.PreRoll)
	assert.Equal(t, "Europe/Berlin", c.Location().String())
	assert.Len(t, c.Alerts.Rules.Content, 1)
	// Durations.
	require.Len(t, cam.Zones, 1)
	require.Len(t, cam.Neighbours, 1)
	assert.Equal(t, 2*time.Minute, cam.Zones[0].Dwell)
	assert.Equal(t, 2*time.Minute, cam.Neighbours[0].MaxTransit)
	// Nothing that prints or serialises the config may carry a credential.
	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	j, err := json.Marshal(c)
	require.NoError(t, err)
	for name, s := range map[string]string{"yaml": string(y), "json": string(j), "%v": fmt.Sprintf("%v", c),
		"%+v": fmt.Sprintf("%+v", *c), "%#v": fmt.Sprintf("%#v", *c)} {
		assert.NotContains(t, s, canary, "%s output leaks a credential", name)
	}
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"http camera url", "rtsps://10.0.0.6/live", "http://169.254.169.254/latest", `cameras[1].url: scheme "http"`},
		{"file camera url", "rtsps://10.0.0.6/live", "file:///etc/passwd", `cameras[1].url: scheme "file"`},
		{"traversal id", "id: cam-1", "id: ../../etc", `cameras[0].id: "../../etc" must be`},
		{"duplicate id", "id: cam-2", "id: cam-1", `cameras[1].id: duplicate id "cam-1"`},
		{"unknown neighbour", "camera: cam-2", "camera: cam-9", `cameras[0].neighbours[0].camera: unknown camera "cam-9"`},
		{"inverted window", "min: 10s, max: 2m", "min: 5m, max: 2m", "cameras[0].neighbours[0]: transit window"},
		{"latitude", "lat: 52.52,", "lat: 152.52,", "cameras[0].position"},
		{"nan", "lat: 52.52,", "lat: .nan,", "cameras[0].position"},
		{"threshold", "threshold: 0.6", "threshold: 1.5", "watchlist.categories.suspect.threshold"},
		{"negative max expiry", "max_expiry: 336h", "max_expiry: -1h", "watchlist.categories.suspect.max_expiry"},
		{"unknown category", "at-risk: {margin: 0}", "vip: {margin: 0}", `watchlist.categories.vip: unknown watch-list category "vip"`},
		{"category twice", "at-risk: {margin: 0}", "at-risk: {margin: 0}\n    at_risk: {margin: 0.1}", "the same category as watchlist.categories.at-risk"},
		{"unknown key", "listen:", "lisen:", "field lisen not found"},
		{"missing env", "env:CAM2_PASSWORD", "env:NOPE", "cameras[1].password: environment variable NOPE is not set"},
		{"unsigned webhook", `secret: "file:SECRETFILE"`, `secret: ""`, "patrols[0].receiver.secret: at least 32 characters"},
		{"webhook with creds", "https://patrol.example/hook", "https://u:p@patrol.example/hook", "patrols[0].receiver.webhook"},
		{"area cycle", "{id: city, level: city}", "{id: city, level: city, parent: market-st}", "its own ancestor"},
		{"huge polygon coordinate", "[100,100]]", "[100,1e300]]", "zones[0].polygon[2]"},
		{"transport", "transport: udp", "transport: carrier-pigeon", "cameras[1].transport"},
		{"engine", "engine: onnxruntime", "engine: tensorflow", `engine: "tensorflow" is not onnxruntime, opencv or auto`},
		{"time zone", "time_zone: Europe/Berlin", "time_zone: Mars/Olympus_Mons", "time_zone"},
		{"rules not a list", `  rules:
    - {kind: loitering, cameras: [cam-1], schedule: "22:00-06:00"}`, "  rules: {kind: loitering}", "alerts.rules"},
		{"guardian without persons", "persons: [p-1]", "persons: []", "guardians[0].persons"},
		{"short webhook secret", "0123456789abcdef0123456789abcdef", "short", "guardians[0].receiver.secret"},
		{"detect fps", "area: market-st\n    zones", "area: market-st\n    detect_fps: 100000\n    zones", "cameras[0].detect_fps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, valid, tc.from, "the test edits a line the valid config lacks")
			_, err := parse(t, strings.Replace(valid, tc.from, tc.to, 1))
			require.ErrorContains(t, err, tc.want)
			assert.NotContains(t, err.Error(), canary, "the error leaks a credential")
		})
	}
}

func TestOversizedFileRefused(t *testing.T) {
	_, err := Parse(strings.NewReader(strings.Repeat("#", MaxFileSize+1)), os.Getenv)
	require.Error(t, err, "oversized config accepted")
}

func FuzzParse(f *testing.F) {
	f.Add(valid)
	f.Add("cameras: [{id: a, url: 'rtsp://h/x', position: {lat: 1, lon: 2}}]")
	f.Fuzz(func(t *testing.T, y string) {
		c, err := Parse(strings.NewReader(y), func(string) string { return "" })
		if err != nil {
			return
		}
		for _, cam := range c.Cameras {
			require.Regexp(t, `^rtsps?://`, cam.URL, "accepted camera URL")
		}
	})
}

// A camera replayed from a recording needs no URL; its recording needs a file and a start time, and a
// relative file is found beside the configuration file.
func TestRecordingCamera(t *testing.T) {
	const rec = `
cameras:
  - id: c1
    position: {lat: 50.879, lon: 4.7}
    detect_fps: 4
    recording: {file: c1.mp4, start: 2024-05-01T08:00:00Z}
    neighbours: [{camera: c2, min: 3s, max: 30s}]
  - id: c2
    url: rtsp://10.0.0.7/live
    position: {lat: 50.879, lon: 4.7003}
    recording: {file: /videos/c2.mkv, start: "2024-05-01T08:00:02.5Z"}
`
	dir := t.TempDir()
	path := filepath.Join(dir, "replay.yaml")
	require.NoError(t, os.WriteFile(path, []byte(rec), 0o600))
	c, err := Load(path)
	require.NoError(t, err)
	want := []Recording{
		{File: filepath.Join(dir, "c1.mp4"), Start: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)},
		{File: "/videos/c2.mkv", Start: time.Date(2024, 5, 1, 8, 0, 2, 5e8, time.UTC)},
	}
	require.Len(t, c.Cameras, len(want))
	for i, w := range want {
		r := c.Cameras[i].Recording
		if assert.NotNil(t, r, "camera %d", i) {
			assert.Equal(t, w.File, r.File, "camera %d", i)
			assert.WithinDuration(t, w.Start, r.Start, 0, "camera %d", i)
		}
	}
	assert.Empty(t, c.Cameras[0].URL)
	assert.Equal(t, 4.0, c.Cameras[0].DetectFPS)
	assert.Equal(t, 5.0, c.Cameras[1].DetectFPS)

	for _, tc := range []struct{ name, from, to, want string }{
		{"no start", "start: 2024-05-01T08:00:00Z}", "}", `cameras[0].recording.start: "" is not`},
		{"no file", "file: c1.mp4, ", "", "cameras[0].recording.file: required"},
		{"bad start", "start: 2024-05-01T08:00:00Z}", "start: yesterday}", `cameras[0].recording.start: "yesterday" is not`},
		{"neither url nor recording", "    recording: {file: c1.mp4, start: 2024-05-01T08:00:00Z}\n", "", `cameras[0].url: scheme ""`},
		{"unknown key", "recording: {file:", "recording: {path: x, file:", "field path not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, rec, tc.from, "the test edits a line the config lacks")
			_, err := parse(t, strings.Replace(rec, tc.from, tc.to, 1))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
