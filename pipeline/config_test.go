package pipeline_test

import (
	"strings"
	"testing"
	"time"

	"snowlight/config"
	"snowlight/pipeline"
)

// The deployment file maps onto the stages: neighbours onto the stitcher's topology, recordings
// onto replay. (Its watch-list categories are config.Watchlist.Policy's.)
func TestFromConfig(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(`
topology: {learn: true}
cameras:
  - {id: a, position: {lat: 50.879, lon: 4.7}, detect_fps: 2, recording: {file: /v/a.mp4, start: 2024-05-01T08:00:00Z},
     neighbours: [{camera: b, min: 5s, max: 40s}]}
  - {id: b, url: rtsp://10.0.0.1/s, position: {lat: 50.88, lon: 4.7}}
`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	topo, err := pipeline.Topology(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, ok := topo.Window("a", "b"); !ok || lo != 5*time.Second || hi != 40*time.Second {
		t.Errorf("window a -> b: %v %v %v", lo, hi, ok)
	}
	if _, _, ok := topo.Window("b", "a"); ok {
		t.Error("b -> a is not configured")
	}
	if c, ok := topo.Camera("b"); !ok || c.Position.Lat != 50.88 {
		t.Errorf("camera b: %+v", c)
	}
	recs, err := pipeline.Recordings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Camera != "a" || recs[0].File != "/v/a.mp4" || recs[0].FPS != 2 ||
		!recs[0].Start.Equal(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("recordings %+v", recs)
	}
	cfg.Cameras[0].Recording = nil
	if _, err := pipeline.Recordings(cfg); err == nil {
		t.Error("no recordings accepted")
	}
}
