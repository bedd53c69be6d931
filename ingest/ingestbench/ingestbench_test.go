package ingestbench

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
	srv := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off", Log: slog.New(slog.DiscardHandler)})
	if err := srv.AddFile("cam", paths[testvideos.VTest]); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			if r.Frames < tc.minFrames || r.CPUSeconds <= 0 {
				t.Errorf("%s: %+v", tc.kind, r)
			}
		})
	}
	res, err := measure(ctx, "ffmpeg", ffmpegCmds([]string{url}, "2"))
	if err != nil {
		if strings.Contains(err.Error(), "executable file not found") {
			t.Skip("ffmpeg not installed")
		}
		t.Fatal(err)
	}
	if res.Frames < 20 || res.CPUSeconds <= 0 || res.MaxRSSMiB <= 0 {
		t.Errorf("ffmpeg measurement %+v", res)
	}
}

func TestKeyframeFloor(t *testing.T) {
	paths, err := testvideos.Ensure(context.Background(), testvideos.Quiet)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cpu, bytes, err := keyframeFloor(paths[testvideos.Quiet])
	if err != nil {
		t.Fatal(err)
	}
	// One picture in 25 is a keyframe; it costs more than an average picture but less than all of them.
	if cpu <= 0.04 || cpu >= 1 || bytes <= 0.04 || bytes >= 1 {
		t.Errorf("keyframe share: cpu %.3f, bytes %.3f", cpu, bytes)
	}
}
