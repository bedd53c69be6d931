package detectbench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/detect/infer"
)

func dataDir(t *testing.T, env, name string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	d, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", name))
	if _, err := os.Stat(d); err != nil {
		t.Skipf("%s not available (set %s or provide ../shared/%s)", name, env, name)
	}
	return d
}

// TestRunSmall runs the whole benchmark on two seconds of each video and one round of the C++ reference:
// every figure is produced from real work (the reference builds with g++ and finds what Go finds).
func TestRunSmall(t *testing.T) {
	busy := "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
	if _, err := os.Stat(busy); err != nil {
		t.Skip("vtest.avi not available (opencv-doc)")
	}
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ not installed")
	}
	// The busy video serves as its own "quiet" scene here: only the plumbing is under test.
	rt, err := infer.OpenONNXRuntime("", 1)
	require.NoError(t, err, "ONNX Runtime's library: run scripts/setup.sh or set %s", infer.LibraryEnv)
	o := Options{ModelsDir: dataDir(t, "SNOWLIGHT_MODELS", "models"), Busy: busy, Quiet: busy, FPS: 5,
		Duration: 2 * time.Second, RefFrames: 2, RefRounds: 1, Engines: []infer.Engine{rt, infer.NewOpenCV()}}
	rep, err := Run(context.Background(), o)
	require.NoError(t, err)
	// Both engines, gated and ungated, on the same frames: the same detections, every model timed on each.
	require.Len(t, rep.EngineScenes, 4)
	for _, s := range rep.EngineScenes {
		assert.Equal(t, 10, s.Frames, "%+v", s)
		assert.Positive(t, s.CPUPerCamSec, "%+v", s)
		assert.Positive(t, s.Same, "%+v", s)
		assert.Zero(t, s.Different, "%+v", s)
	}
	assert.Equal(t, []string{"onnxruntime", "opencv", "onnxruntime", "opencv"}, []string{rep.EngineScenes[0].Engine,
		rep.EngineScenes[1].Engine, rep.EngineScenes[2].Engine, rep.EngineScenes[3].Engine})
	require.Len(t, rep.ModelTimes, 5)
	for _, m := range rep.ModelTimes {
		assert.Positive(t, m.Ms["onnxruntime"], "%+v", m)
		assert.Positive(t, m.Ms["opencv"], "%+v", m)
	}
	require.Empty(t, rep.RefError, "reference")
	require.Len(t, rep.Scenes, 8, "scenes")
	require.GreaterOrEqual(t, len(rep.Stages), 9, "stages")
	require.Len(t, rep.Reference, 2, "reference rounds")
	require.Len(t, rep.Tracks, 8, "track comparisons")
	for _, s := range rep.Scenes {
		assert.Equal(t, 10, s.Frames, "scene %+v", s)
		assert.Positive(t, s.CPUPerCamSec, "scene %+v", s)
		assert.NotZero(t, s.Persons, "scene %+v", s)
		assert.NotZero(t, s.OSNet, "scene %+v", s)
		assert.Positive(t, s.AppearanceMs, "scene %+v", s)
		// Every person embedded on every frame, or fewer when scheduled; never more, and every
		// scheduled call has a reason.
		switch s.Appearance {
		case "every person":
			assert.Equal(t, s.Persons, s.OSNet, "scene %+v: every person's appearance must be embedded", s)
		case "scheduled":
			assert.LessOrEqual(t, s.OSNet, s.Persons, "scene %+v: more embedded than there were persons", s)
			assert.Equal(t, s.OSNet, s.Why.Embedded(), "scene %+v: schedule's reasons do not add up", s)
			assert.Equal(t, s.Persons, s.Why.Persons, "scene %+v: schedule's persons do not add up", s)
		}
	}
	for i, a := range rep.Tracks {
		assert.NotZero(t, a.Detections, "tracks %+v", a)
		assert.Positive(t, a.IDF1, "tracks %+v", a)
		assert.LessOrEqual(t, a.IDF1, 1.0, "tracks %+v", a)
		// Scheduled, then none, per scene and gating: the schedule must keep more of the identities
		// than dropping appearance does.
		if a.Appearance == "none" {
			assert.GreaterOrEqual(t, rep.Tracks[i-1].IDF1, a.IDF1, "scheduled appearance %+v keeps fewer identities than none %+v", rep.Tracks[i-1], a)
		}
		if a.Appearance == "scheduled" {
			assert.NotZero(t, a.Sightings, "tracks %+v: sightings' appearance not compared", a)
			assert.Positive(t, a.SightingCosineMin, "tracks %+v: sightings' appearance not compared", a)
			assert.LessOrEqual(t, a.SightingCosineMedian, 1+1e-6, "tracks %+v: sightings' appearance not compared", a)
		}
	}
	for _, s := range rep.Stages {
		if !strings.Contains(s.Name, "none") {
			assert.Positive(t, s.Ms, "stage %+v", s)
		}
	}
	for _, r := range rep.Reference {
		assert.Positive(t, r.GoMs, "reference %+v", r)
		assert.Positive(t, r.OpenCVMs, "reference %+v", r)
		assert.Equal(t, r.CVFound, r.GoFound, "reference %+v: Go and OpenCV must find the same on the same frames", r)
	}
	md := rep.Markdown()
	for _, w := range []string{"CPU ms per camera-second", "OSNet calls per frame", "IDF1", "YuNet", "YOLOX", "Go overhead",
		"same detections (IoU >= 0.9) as onnxruntime", "opencv / onnxruntime"} {
		assert.Contains(t, md, w, "markdown")
	}
	t.Logf("\n%s", md)
}
