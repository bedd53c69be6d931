package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"snowlight/center"
	"snowlight/config"
	"snowlight/pipeline"
	"snowlight/tracks"
	"snowlight/tracks/stitch"
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
	d := decode(t, cfg)
	recs, err := d.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	policy := d.Watchlist
	dets := detectors(t, min(runtime.GOMAXPROCS(0), len(recs)))
	watch := enrol(t, dets[0], spec, policy)
	c := newCenter(t, cfg)
	// The center must see every camera's events in wall-time order, as live.
	var last time.Time
	var finals []tracks.Sighting // in the order the stitcher took them
	c.cfg.OnEvent = func(e center.Event) {
		if e.Frame.Before(last) {
			t.Errorf("%s event of frame %v after one of frame %v", e.Kind, e.Frame, last)
		}
		last = e.Frame
		if e.Sighting != nil && e.Sighting.Final {
			finals = append(finals, *e.Sighting)
		}
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
	rep := score(t, c.db, r.Truth, cams...)
	if path := os.Getenv("SNOWLIGHT_STITCH_DUMP"); path != "" {
		writeStitchDump(t, path, cfg, finals, rep)
	}
	return rep, stats
}

// stitchDump is what the stitcher was given in a replay, with the truth about it, so that stitching
// can be studied and tuned without running detection again (SNOWLIGHT_STITCH_DUMP=FILE).
type stitchDump struct {
	Cameras []stitch.Camera `json:"cameras"`
	// Sightings are the final sightings in the order the stitcher took them.
	Sightings []tracks.Sighting `json:"sightings"`
	// Truth maps a sighting to the person it shows and that person's pass (-1: nobody listed).
	Truth map[string]dumpTruth `json:"truth"`
	// TrueLinks are consecutive passes of one person on different cameras.
	TrueLinks  [][2]int        `json:"true_links"`
	Background map[string]bool `json:"background"` // cameras whose video has passers-by of its own
}

type dumpTruth struct {
	Person string `json:"person"`
	Pass   int    `json:"pass"`
	Rank   int    `json:"rank"` // the pass's place among the person's passes
}

func writeStitchDump(t *testing.T, path string, cfg *config.Config, finals []tracks.Sighting, rep *scoreReport) {
	t.Helper()
	d := stitchDump{Sightings: finals, Truth: map[string]dumpTruth{}, TrueLinks: rep.truePairs, Background: rep.background}
	for _, c := range cfg.Cameras {
		sc := stitch.Camera{ID: c.ID, Position: c.Position}
		for _, n := range c.Neighbours {
			sc.Neighbours = append(sc.Neighbours, stitch.Neighbour{Camera: n.Camera, Min: n.MinTransit, Max: n.MaxTransit})
		}
		d.Cameras = append(d.Cameras, sc)
	}
	for _, s := range rep.sightings {
		d.Truth[s.s.ID] = dumpTruth{Person: s.person, Pass: s.pass, Rank: rep.rank[s.pass]}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("stitcher input written to %s", path)
}

// TestCity5Trajectories replays the six-camera city5 scenario (crossing paths, a person who vanishes
// for a camera and reappears, unknown people, real passers-by in one background) and checks the
// trajectories against truth.json: at least 95% of the true links found, at least 98% of the stored
// links right, no link between passers-by the truth cannot name unless a face vouches for it, every
// enrolled person named, and nobody named wrongly; then searches the stored sightings by example and
// by a witness's description (checkSearch). SNOWLIGHT_REPLAY_FPS sets the detection rate, or
// several ("3 2") to replay at each.
func TestCity5Trajectories(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the six-camera replay takes minutes")
	}
	if raceDetector {
		t.Skip("-race: the six-camera replay runs without the race detector in make test")
	}
	rates := []float64{3}
	if v := os.Getenv("SNOWLIGHT_REPLAY_FPS"); v != "" {
		rates = nil
		for _, f := range strings.Fields(v) {
			fps, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("SNOWLIGHT_REPLAY_FPS: %v", err)
			}
			rates = append(rates, fps)
		}
	}
	for _, fps := range rates {
		t.Run(fmt.Sprintf("%gfps", fps), func(t *testing.T) { city5(t, fps) })
	}
}

func city5(t *testing.T, fps float64) {
	rep, stats := replayScenario(t, "city5", fps)
	t.Logf("replay at %g fps: %d frames, %d detected, elapsed %v\n%s", fps, stats.Frames(), detected(stats), stats.Elapsed, rep)
	if rep.recall() < 0.95 {
		t.Errorf("link recall %.3f, want at least 0.95", rep.recall())
	}
	if rep.precision() < 0.98 {
		t.Errorf("link precision %.3f, want at least 0.98", rep.precision())
	}
	// The truth cannot say whether two background passers-by are one person, so the stitcher must
	// not claim it on clothes and timing alone.
	for _, l := range rep.unjudgedWeak {
		t.Error(l)
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
	checkSearch(t, rep.db, r.Truth, rep)
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
