package pipeline_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"snowlight/center"
	"snowlight/pipeline"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Cancelling a replay stops every camera promptly and leaves no goroutine behind.
func TestReplayStopsWhenCancelled(t *testing.T) {
	_, r := scenario(t, "city5")
	cfg := twoCameras(t)
	for i, id := range []string{"c1", "c2"} {
		cfg.Cameras[i].Recording.File = r.VideoPath(id)
	}
	recs, err := decode(t, cfg).Recordings()
	require.NoError(t, err)
	dets := detectors(t, 1)
	c := newCenter(t, cfg)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	c.cfg.OnEvent = func(center.Event) { // the first sighting stops it
		if cancelled.IsZero() {
			cancelled = time.Now()
			cancel()
		}
	}
	_, err = pipeline.Replay(ctx, pipeline.ReplayOptions{
		Recordings: recs, Detectors: dets, Center: c.cfg,
		Edge: pipeline.EdgeConfig{Tracker: pipeline.TrackerConfig()},
	})
	require.ErrorIs(t, err, context.Canceled, "the replay, want it cancelled")
	t.Logf("the cancelled replay returned %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines after the replay, before")
}
