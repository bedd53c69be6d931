package deploy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/alerts/rules"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/geo"
	"snowlight/media"
	"snowlight/retention"
	"snowlight/store"
	"snowlight/tracks/stitch"
	"snowlight/watchlist"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(text), func(name string) string { return "secret-of-" + name + "-0123456789abcdef0123456789" })
	require.NoError(t, err, text)
	return cfg
}

const deployment = `
listen: 127.0.0.1:9090
time_zone: Europe/Vienna
topology: {learn: true}
cameras:
  - {id: a, name: Gate, area: d1, position: {lat: 50.879, lon: 4.7}, detect_fps: 2,
     recording: {file: /v/a.mp4, start: 2024-05-01T08:00:00Z},
     zones: [{id: door, polygon: [[0, 0], [100, 0], [100, 100]], dwell: 2m}],
     neighbours: [{camera: b, min: 5s, max: 40s}]}
  - {id: b, url: "rtsp://10.0.0.1/s", username: admin, password: env:CAM_PW, transport: udp, position: {lat: 50.88, lon: 4.7}}
areas:
  - {id: city, level: city, supervisor: {name: duty officer, webhook: "https://hooks.example/city", secret: env:CITY}}
  - {id: d1, level: district, parent: city}
patrols:
  - {id: u1, name: Unit 1, area: d1, position: {lat: 50.8795, lon: 4.7}, receiver: {webhook: "https://hooks.example/u1", secret: env:U1}}
  - {id: u2, area: d1, position: {lat: 50.88, lon: 4.701}}
guardians:
  - {id: g1, persons: [p1, p2], receiver: {webhook: "https://hooks.example/g1", secret: env:G1}}
watchlist:
  categories: {suspect: {threshold: 0.6, max_expiry: 336h}, missing: {learn_from_confirmations: true}, at_risk: {local_templates: false}}
alerts:
  cooldown: 5m
  two_person_confirm: true
  ack_timeout: 30s
  pre_roll: 3s
  post_roll: 7s
  offline_after: 20s
  rules:
    - {kind: loitering, cameras: [a], zones: [door], schedule: "22:00-06:00"}
    - {kind: watchlist_hit, categories: [suspect], off: true}
retention: {unlisted: 24h, alerts: 720h, interval: 30m}
roads:
  - {id: main, points: [{lat: 50.879, lon: 4.699}, {lat: 50.881, lon: 4.699}]}
`

// TestDecode: each part of the file becomes the value its stage takes.
func TestDecode(t *testing.T) {
	d, err := deploy.Decode(parse(t, deployment))
	require.NoError(t, err)

	assert.Equal(t, "Europe/Vienna", d.Location.String())
	require.Len(t, d.Cameras, 2)
	a, b := d.Cameras[0], d.Cameras[1]
	assert.Equal(t, "Gate", a.Name)
	assert.Equal(t, []rules.Zone{{ID: "door", Polygon: [][2]float64{{0, 0}, {100, 0}, {100, 100}}, Dwell: 2 * time.Minute}}, a.Zones)
	assert.Equal(t, &media.Recording{Camera: "a", File: "/v/a.mp4", Start: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC), FPS: 2}, a.Recording)
	assert.Empty(t, a.URL(), "a recorded camera has no URL")
	assert.Equal(t, "rtsp://admin:secret-of-CAM_PW-0123456789abcdef0123456789@10.0.0.1/s", b.URL())
	assert.Equal(t, "udp", b.Transport)
	assert.NotContains(t, fmt.Sprintf("%+v %#v", b, d), "secret-of", "printing a deployment shows no credential")
	got, ok := d.Camera("b")
	assert.True(t, ok)
	assert.Equal(t, b.ID, got.ID)
	_, ok = d.Camera("z")
	assert.False(t, ok)

	assert.Equal(t, []rules.Camera{
		{ID: "a", Name: "Gate", Area: "d1", Position: geo.LatLon{Lat: 50.879, Lon: 4.7}, Zones: a.Zones},
		{ID: "b", Position: geo.LatLon{Lat: 50.88, Lon: 4.7}},
	}, d.RuleCameras())
	require.Len(t, d.Rules, 2)
	assert.Equal(t, alerts.Loitering, d.Rules[0].Kind)
	assert.False(t, d.Rules[0].Schedule.Always())
	assert.True(t, d.Rules[1].Off)
	assert.Equal(t, []watchlist.Category{watchlist.Suspect}, d.Rules[1].Categories)

	topo, err := d.Topology()
	require.NoError(t, err)
	lo, hi, ok := topo.Window("a", "b")
	assert.True(t, ok)
	assert.Equal(t, [2]time.Duration{5 * time.Second, 40 * time.Second}, [2]time.Duration{lo, hi})
	_, _, ok = topo.Window("b", "a")
	assert.False(t, ok, "b -> a is not configured")
	other, err := d.Topology()
	require.NoError(t, err)
	assert.NotSame(t, topo, other, "a topology learns: every stitcher gets its own")
	assert.Equal(t, []store.CameraPosition{{ID: "a", Position: a.Position}, {ID: "b", Position: b.Position}}, d.CameraPositions())

	assert.Equal(t, dispatch.Areas{
		"city": {ID: "city", Level: dispatch.City, Supervisor: "duty officer", Receiver: "area:city"},
		"d1":   {ID: "d1", Level: dispatch.District, Parent: "city"},
	}, d.Areas)
	assert.Equal(t, []dispatch.Unit{
		{ID: "u1", Name: "Unit 1", Area: "d1", Position: geo.LatLon{Lat: 50.8795, Lon: 4.7}, Status: dispatch.Available, Receiver: "patrol:u1"},
		{ID: "u2", Area: "d1", Position: geo.LatLon{Lat: 50.88, Lon: 4.701}, Status: dispatch.Available},
	}, d.Units)
	assert.Len(t, d.Receivers, 3)
	assert.Equal(t, "https://hooks.example/u1", d.Receivers["patrol:u1"].URL)
	assert.Equal(t, []byte("secret-of-U1-0123456789abcdef0123456789"), d.Receivers["patrol:u1"].Secret)
	assert.Equal(t, alerts.GuardianMap{"p1": {"guardian:g1"}, "p2": {"guardian:g1"}}, d.Alerts.Guardians)

	assert.Equal(t, 5*time.Minute, d.Alerts.Cooldown)
	assert.True(t, d.Alerts.TwoPersonRule)
	assert.Equal(t, 30*time.Second, d.Alerts.AckTimeout)
	assert.Equal(t, "http://127.0.0.1:9090", d.Alerts.BaseURL)
	assert.NotNil(t, d.Alerts.Plan.Router, "routes over the roads")
	assert.Equal(t, [3]time.Duration{3 * time.Second, 7 * time.Second, 20 * time.Second}, [3]time.Duration{d.PreRoll, d.PostRoll, d.OfflineAfter})
	assert.Equal(t, retention.Policy{Unlisted: 24 * time.Hour, Alerts: 720 * time.Hour}, d.Retention)
	assert.Equal(t, 30*time.Minute, d.RetentionEvery)

	// The file overrides what it names; everything else is watchlist.DefaultPolicy's.
	def := watchlist.DefaultPolicy()
	assert.InDelta(t, 0.6, d.Watchlist.Threshold[watchlist.Suspect], 1e-6)
	assert.Equal(t, 14*24*time.Hour, d.Watchlist.MaxExpiry[watchlist.Suspect])
	assert.Equal(t, def.Margin[watchlist.Suspect], d.Watchlist.Margin[watchlist.Suspect])
	assert.Equal(t, def.Threshold[watchlist.AtRisk], d.Watchlist.Threshold[watchlist.AtRisk])
	assert.Equal(t, map[watchlist.Category]bool{watchlist.Missing: true}, d.Watchlist.LearnFromConfirmations)
	assert.Equal(t, map[watchlist.Category]bool{watchlist.AtRisk: false, watchlist.Missing: true, watchlist.Suspect: true},
		d.Watchlist.LocalTemplates)

	recs, err := d.Recordings()
	require.NoError(t, err)
	assert.Equal(t, []media.Recording{*a.Recording}, recs)
}

// TestDecodeDefaults: a file that names nothing decodes to the defaults.
func TestDecodeDefaults(t *testing.T) {
	d, err := deploy.Decode(config.Default())
	require.NoError(t, err)
	assert.Equal(t, time.UTC, d.Location)
	assert.Empty(t, d.Rules, "every trigger alerts")
	assert.Nil(t, d.Alerts.Plan.Router, "as the crow flies")
	assert.Equal(t, watchlist.DefaultPolicy(), d.Watchlist)
	_, err = d.Recordings()
	assert.ErrorContains(t, err, "no camera in the configuration has a recording")
	topo, err := d.Topology()
	require.NoError(t, err)
	_, ok := topo.Camera("a")
	assert.False(t, ok)
	var _ *stitch.Topology = topo
}

// TestDecodeRefuses: what the file's checks cannot see, the stages refuse, named by the field.
func TestDecodeRefuses(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"rule of an unknown shape", "alerts: {rules: [{kind: loitering, cameras: x}]}", "alerts.rules:"},
		{"rule schedule", "alerts: {rules: [{schedule: 25:00-26:00}]}", "alerts.rules:"},
		{"latitude and longitude swapped", "roads: [{points: [{lat: 52.518, lon: 13.4}, {lat: 13.4, lon: 52.518}]}]", "road 0: points 0 and 1 are 5557 km apart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deploy.Decode(parse(t, tc.yaml))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
