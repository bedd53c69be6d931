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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayScenario replays the rendered scenario's cameras (all of them when cams is empty) through the
// whole pipeline, with the scenario's enrolled people on the watch list, and scores the stored
// trajectories against the truth.
func replayScenario(t *testing.T, name string, fps float64, cams ...string) (*scoreReport, pipeline.ReplayStats) {
	t.Helper()
	spec, r := scenario(t, name)
	cfg, err := config.Load(writeConfig(t, r, fps, cams...))
	require.NoError(t, err)
	d := decode(t, cfg)
	recs, err := d.Recordings()
	require.NoError(t, err)
	policy := d.Watchlist
	dets := detectors(t, min(runtime.GOMAXPROCS(0), len(recs)))
	watch := enrol(t, dets[0], spec, policy)
	c := newCenter(t, cfg)
	// The center must see every camera's events in wall-time order, as live.
	var last time.Time
	var finals []tracks.Sighting // in the order the stitcher took them
	c.cfg.OnEvent = func(e center.Event) {
		assert.False(t, e.Frame.Before(last), "%s event of frame %v after one of frame %v", e.Kind, e.Frame, last)
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
	require.NoError(t, err)
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
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
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
			require.NoError(t, err, "SNOWLIGHT_REPLAY_FPS")
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
	assert.GreaterOrEqual(t, rep.recall(), 0.95, "link recall")
	assert.GreaterOrEqual(t, rep.precision(), 0.98, "link precision")
	// The truth cannot say whether two background passers-by are one person, so the stitcher must
	// not claim it on clothes and timing alone.
	assert.Empty(t, rep.unjudgedWeak, "links between background passers-by on clothes and timing alone")
	_, r := scenario(t, "city5")
	for _, p := range r.Truth.Persons {
		if p.Enrolled {
			assert.True(t, rep.identified[p.ID], "%s (enrolled) was never named", p.ID)
		}
	}
	assert.Empty(t, rep.wrongNames, "wrong names")
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
	assert.Equal(t, 3, rep.trueLinks, "true links")
	assert.Equal(t, 3, rep.found, "true links found")
	assert.Equal(t, rep.foundLinks, rep.correct, "stored links right, want all")
	for _, p := range []string{"kit", "biden", "obama", "rose"} {
		assert.True(t, rep.identified[p], "%s was never named", p)
	}
	assert.Empty(t, rep.wrongNames, "wrong names")
	assert.Equal(t, len(rep.sightings)-3, stats.Trajectories, "trajectories")
	assert.Equal(t, 3, stats.Linked, "linked")
	assert.Equal(t, 3, stats.Links, "links")
	for _, c := range stats.Cameras {
		assert.Equal(t, 124, c.Source.Frames, "camera %s: source frames", c.Camera)
		assert.Equal(t, 124, c.Edge.Frames, "camera %s: edge frames", c.Camera)
		assert.Equal(t, 124, c.Edge.Detected+c.Edge.Skipped, "camera %s: detected and skipped frames", c.Camera)
		assert.Zero(t, c.Edge.Errors, "camera %s: errors", c.Camera)
		// Every track reported as it started is reported as it ended, and re-reported every second
		// or so while in view (each pass lasts about 6 s).
		assert.Equal(t, c.Edge.Started, c.Edge.Ended, "camera %s: tracks started and ended", c.Camera)
		assert.GreaterOrEqual(t, c.Edge.Updated, 3*c.Edge.Started, "camera %s: updates, want 3 a track at least", c.Camera)
	}
}
