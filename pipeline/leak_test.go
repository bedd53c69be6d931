//go:build matprofile

package pipeline_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect"
	"snowlight/pipeline"
	"snowlight/watchlist"
)

// TestNoMatLeaks replays a camera through the whole edge (decoded frames, detector, JPEG crops of the
// best views) and checks that every gocv Mat it made is closed again. Run with:
// go test -tags matprofile -run TestNoMatLeaks ./pipeline/
func TestNoMatLeaks(t *testing.T) {
	spec, r := scenario(t, "city5")
	cfg := twoCameras(t)
	cfg.Cameras[0].Recording.File = r.VideoPath("c4")
	cfg.Cameras[1].Recording.File = r.VideoPath("c5")
	cfg.Cameras[0].DetectFPS, cfg.Cameras[1].DetectFPS = 1, 1
	recs, err := decode(t, cfg).Recordings()
	require.NoError(t, err)
	before := gocv.MatProfile.Count()
	p, err := detect.NewPipeline(detectConfig(t))
	require.NoError(t, err)
	dets := []*detect.Pipeline{p}
	watch := enrol(t, p, spec, watchlist.DefaultPolicy())
	c := newCenter(t, cfg)
	gate := pipeline.GateConfig()
	st, err := pipeline.Replay(context.Background(), pipeline.ReplayOptions{
		Recordings: recs, Detectors: dets, Gate: &gate, Center: c.cfg,
		Edge: pipeline.EdgeConfig{Tracker: pipeline.TrackerConfig(),
			WatchList: func() *watchlist.Matcher { return watch }},
	})
	require.NoError(t, err)
	require.NotZero(t, st.Center.Snapshots, "no snapshots encoded: the crop path did not run")
	p.Close()
	if after := gocv.MatProfile.Count(); !assert.Equal(t, before, after, "Mats before and after") {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Logf("Mats left:\n%s", b.String())
	}
}
