package ingestbench

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/ingest/camsim"
	"snowlight/testvideos"
)

// Each reader the benchmark compares decodes real frames from camsim, and the measurement charges the
// ffmpeg child its CPU and counts its frames.
func TestReadersDecodeFromCamsim(t *testing.T) {
	ctx := context.Background()
	paths, err := testvideos.Ensure(ctx, testvideos.VTest)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable: %v", err)
	}
	require.NoError(t, err)
	srv := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off", Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, srv.AddFile("cam", paths[testvideos.VTest]))
	require.NoError(t, srv.Start(ctx))
	defer srv.Close()
	url := srv.URL("cam")
	for _, tc := range []struct {
		kind      string
		minFrames uint64
	}{
		{ClientPipeline, 30},
		{ClientKeyframes, 1},
		{ClientSampled, 6},
		{ClientVideoCapture, 10},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			r, err := RunClient(ctx, tc.kind, []string{url}, 3*time.Second)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, r.Frames, tc.minFrames, "%+v", r)
			assert.Positive(t, r.CPUSeconds, "%+v", r)
		})
	}
	res, err := measure(ctx, "ffmpeg", ffmpegCmds([]string{url}, "2"))
	if err != nil && strings.Contains(err.Error(), "executable file not found") {
		t.Skip("ffmpeg not installed")
	}
	require.NoError(t, err)
	assert.GreaterOrEqual(t, res.Frames, uint64(20), "ffmpeg measurement %+v", res)
	assert.Positive(t, res.CPUSeconds, "ffmpeg measurement %+v", res)
	assert.Positive(t, res.MaxRSSMiB, "ffmpeg measurement %+v", res)
}

func TestKeyframeFloor(t *testing.T) {
	paths, err := testvideos.Ensure(context.Background(), testvideos.Quiet)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable: %v", err)
	}
	require.NoError(t, err)
	cpu, bytes, err := keyframeFloor(paths[testvideos.Quiet])
	require.NoError(t, err)
	// One picture in 25 is a keyframe; it costs more than an average picture but less than all of them.
	assert.Greater(t, cpu, 0.04, "keyframe share of the CPU")
	assert.Less(t, cpu, 1.0, "keyframe share of the CPU")
	assert.Greater(t, bytes, 0.04, "keyframe share of the bytes")
	assert.Less(t, bytes, 1.0, "keyframe share of the bytes")
}
