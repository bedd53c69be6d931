package pipeline_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"snowlight/config"
	"snowlight/pipeline"
	"snowlight/watchlist"
)

// replayScenario replays the rendered scenario's cameras (all of them when cams is empty) through the
// whole pipeline, with the scenario's enrolled people on the watch list, and scores the stored
// trajectories against the truth.
func replayScenario(t *testing.T, name string, fps float64, cams ...string) (*scoreReport, pipeline.ReplayStats) {
	t.Helper()
	spec, r := scenario(t, name)
	cfg, err := config.Load(writeConfig(t, r, fps, cams...))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := pipeline.Recordings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := cfg.Watchlist.Policy()
	if err != nil {
		t.Fatal(err)
	}
	dets := detectors(t, min(runtime.GOMAXPROCS(0), len(recs)))
	watch := enrol(t, dets[0], spec, policy)
	c := newCenter(t, cfg)
	// The center must see every camera's events in wall-time order, as live.
	var last time.Time
	c.cfg.OnEvent = func(e pipeline.Event) {
		if e.Frame.Before(last) {
			t.Errorf("%s event of frame %v after one of frame %v", e.Kind, e.Frame, last)
		}
		last = e.Frame
	}
	gate := pipeline.GateConfig()
	stats, err := pipeline.Replay(context.Background(), pipeline.ReplayOptions{
		Recordings: recs,
		Detectors:  dets,
		Gate:       &gate,
		Edge: pipeline.EdgeConfig{
			Tracker:   pipeline.TrackerConfig(),
			WatchList: func() *watchlist.Matcher { return watch },
		},
		Center: c.cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return score(t, c.db, r.Truth, cams...), stats
}

// TestCity5Trajectories replays the six-camera city5 scenario (crossing paths, a person who vanishes
// for a camera and reappears, unknown people, real passers-by in one background) and checks the
// trajectories against truth.json: at least 95% of the true links found, at least 98% of the stored
// links right, every enrolled person named, and nobody named wrongly.
func TestCity5Trajectories(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the six-camera replay takes minutes")
	}
	if raceDetector {
		t.Skip("-race: the six-camera replay runs without the race detector in make test")
	}
	fps := 3.0
	if v := os.Getenv("SNOWLIGHT_REPLAY_FPS"); v != "" {
		var err error
		if fps, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatal(err)
		}
	}
	rep, stats := replayScenario(t, "city5", fps)
	t.Logf("replay at %g fps: %d frames, %d detected, elapsed %v\n%s", fps, stats.Frames(), detected(stats), stats.Elapsed, rep)
	if rep.recall() < 0.95 {
		t.Errorf("link recall %.3f, want at least 0.95", rep.recall())
	}
	if rep.precision() < 0.98 {
		t.Errorf("link precision %.3f, want at least 0.98", rep.precision())
	}
	_, r := scenario(t, "city5")
	for _, p := range r.Truth.Persons {
		if p.Enrolled && !rep.identified[p.ID] {
			t.Errorf("%s (enrolled) was never named", p.ID)
		}
	}
	for _, w := range rep.wrongNames {
		t.Error(w)
	}
}

func detected(s pipeline.ReplayStats) int {
	n := 0
	for _, c := range s.Cameras {
		n += c.Edge.Detected
	}
	return n
}

// TestReplayTwoCameras is the small replay that runs under the race detector: c4 and c5 at 2 fps.
// Kit walks c4 -> c5, Biden c5 -> c4, Tom c4 -> c5 (unknown); Obama and Rose pass c4 only.
func TestReplayTwoCameras(t *testing.T) {
	rep, stats := replayScenario(t, "city5", 2, "c4", "c5")
	t.Logf("%d frames, %d detected, elapsed %v\n%s", stats.Frames(), detected(stats), stats.Elapsed, rep)
	if rep.trueLinks != 3 || rep.found != 3 || rep.correct != rep.foundLinks {
		t.Errorf("found %d of %d true links, %d of %d stored links right, want all", rep.found, rep.trueLinks, rep.correct, rep.foundLinks)
	}
	for _, p := range []string{"kit", "biden", "obama", "rose"} {
		if !rep.identified[p] {
			t.Errorf("%s was never named", p)
		}
	}
	for _, w := range rep.wrongNames {
		t.Error(w)
	}
	if stats.Trajectories != len(rep.sightings)-3 || stats.Linked != 3 || stats.Links != 3 {
		t.Errorf("stats: %d trajectories, %d linked, %d links; want %d, 3, 3", stats.Trajectories, stats.Linked, stats.Links, len(rep.sightings)-3)
	}
	for _, c := range stats.Cameras {
		if c.Source.Frames != 124 || c.Edge.Frames != 124 || c.Edge.Detected+c.Edge.Skipped != 124 || c.Edge.Errors > 0 {
			t.Errorf("camera %s: %+v", c.Camera, c)
		}
		// Every track reported as it started is reported as it ended, and re-reported every second
		// or so while in view (each pass lasts about 6 s).
		if c.Edge.Started != c.Edge.Ended || c.Edge.Updated < 3*c.Edge.Started {
			t.Errorf("camera %s: %d started, %d updated, %d ended", c.Camera, c.Edge.Started, c.Edge.Updated, c.Edge.Ended)
		}
	}
}
