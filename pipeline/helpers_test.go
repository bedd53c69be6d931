package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/center"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/detect"
	"snowlight/detect/infer"
	"snowlight/internal/shareddata"
	"snowlight/objstore"
	"snowlight/store"
	"snowlight/testvideos"
	"snowlight/tracks/stitch"
	"snowlight/watchlist"
)

// scenario renders a built-in scenario once (cached by spec hash, shared with other packages' tests).
func scenario(t testing.TB, name string) (*testvideos.Spec, *testvideos.Rendered) {
	t.Helper()
	shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval") // the photos the scenario composites
	if os.Getenv("SNOWLIGHT_EVAL") == "" {
		t.Setenv("SNOWLIGHT_EVAL", shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval"))
	}
	spec, err := testvideos.BuiltinScenario(name)
	require.NoError(t, err)
	r, err := testvideos.RenderCached(context.Background(), spec, "", testvideos.RenderOptions{})
	require.NoError(t, err)
	return spec, r
}

// writeConfig writes a deployment configuration for the rendered scenario's cameras (all of them
// when cams is empty): positions, neighbours and transit windows from the truth, each camera's video
// as its recording, detected at fps.
func writeConfig(t testing.TB, r *testvideos.Rendered, fps float64, cams ...string) string {
	t.Helper()
	want := map[string]bool{}
	for _, c := range cams {
		want[c] = true
	}
	var b strings.Builder
	b.WriteString("cameras:\n")
	for _, c := range r.Truth.Cameras {
		if len(cams) > 0 && !want[c.ID] {
			continue
		}
		fmt.Fprintf(&b, "  - id: %s\n    detect_fps: %g\n", c.ID, fps)
		if c.Position != nil {
			fmt.Fprintf(&b, "    position: {lat: %.6f, lon: %.6f}\n", c.Position.Lat, c.Position.Lon)
		}
		fmt.Fprintf(&b, "    recording: {file: %q, start: %s}\n", r.VideoPath(c.ID), r.Truth.Start.Format(time.RFC3339Nano))
		var ns []string
		for _, n := range c.Neighbours {
			if len(cams) == 0 || want[n.Camera] {
				ns = append(ns, fmt.Sprintf("{camera: %s, min: %gs, max: %gs}", n.Camera, n.Transit[0], n.Transit[1]))
			}
		}
		if len(ns) > 0 {
			fmt.Fprintf(&b, "    neighbours: [%s]\n", strings.Join(ns, ", "))
		}
	}
	path := filepath.Join(t.TempDir(), "replay.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// detectConfig is the product's detection configuration on the real models and its default engine,
// ONNX Runtime (which scripts/setup.sh installs).
func detectConfig(t testing.TB) detect.Config {
	t.Helper()
	cfg := detect.DefaultConfig(shareddata.Dir(t, "SNOWLIGHT_MODELS", "models"))
	var err error
	cfg.Engine, err = infer.OpenONNXRuntime("", 1)
	require.NoError(t, err, "ONNX Runtime's library: run scripts/setup.sh or set %s", infer.LibraryEnv)
	return cfg
}

// detectors loads n perception pipelines with appearance embedding on.
func detectors(t testing.TB, n int) []*detect.Pipeline {
	t.Helper()
	cfg := detectConfig(t)
	var out []*detect.Pipeline
	for range n {
		p, err := detect.NewPipeline(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { p.Close() })
		out = append(out, p)
	}
	return out
}

// enrol puts the scenario's enrolled people on a watch list from their enrolment photos (never the
// rendered ones), each under their truth id and category.
func enrol(t testing.TB, p *detect.Pipeline, spec *testvideos.Spec, policy watchlist.Policy) *watchlist.Matcher {
	t.Helper()
	var ids []watchlist.Person
	for _, person := range spec.Persons {
		var photos []detect.PhotoInput
		for _, path := range spec.EnrolPhotos(person.ID) {
			ph, err := detect.ReadPhotoFile(path, detect.DefaultEnrolmentRules().Limits.MaxBytes)
			require.NoError(t, err)
			photos = append(photos, ph)
		}
		if len(photos) == 0 {
			continue
		}
		cat, err := watchlist.ParseCategory(person.Category)
		require.NoError(t, err)
		id, err := p.Enrol(context.Background(), person.Name, cat, photos, detect.DefaultEnrolmentRules())
		require.NoError(t, err)
		id.ID = person.ID
		ids = append(ids, id)
	}
	m, err := watchlist.NewMatcher(ids, policy, p.EmbeddingModel(), time.Now())
	require.NoError(t, err)
	return m
}

// centerParts are a center's parts over a fresh SQLite store and local object directory.
type centerParts struct {
	db      *store.DB
	objects *objstore.Dir
	cfg     center.Config
}

func newCenter(t testing.TB, cfg *config.Config) *centerParts {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	d := decode(t, cfg)
	require.NoError(t, db.SetCameras(ctx, d.CameraPositions()))
	objects, err := objstore.OpenDir(filepath.Join(dir, "objects"), objstore.DirOptions{})
	require.NoError(t, err)
	topo, err := d.Topology()
	require.NoError(t, err)
	st, err := stitch.New(stitch.DefaultConfig(), topo)
	require.NoError(t, err)
	return &centerParts{db: db, objects: objects, cfg: center.Config{Store: db, Objects: objects, Stitcher: st}}
}

// decode decodes a configuration as serve and replay do.
func decode(t testing.TB, cfg *config.Config) *deploy.Deployment {
	t.Helper()
	d, err := deploy.Decode(cfg)
	require.NoError(t, err)
	return d
}

// twoCameras is a configuration of two recorded cameras c1 and c2, 20 m apart, a person taking 3 to
// 30 s from one to the other.
func twoCameras(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`
cameras:
  - {id: c1, position: {lat: 50.879, lon: 4.7}, recording: {file: c1.mp4, start: 2024-05-01T08:00:00Z},
     neighbours: [{camera: c2, min: 3s, max: 30s}]}
  - {id: c2, position: {lat: 50.879, lon: 4.7003}, recording: {file: c2.mp4, start: 2024-05-01T08:00:00Z},
     neighbours: [{camera: c1, min: 3s, max: 30s}]}
`), func(string) string { return "" })
	require.NoError(t, err)
	return cfg
}
