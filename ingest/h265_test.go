package ingest

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/ingest/camsim"
	"snowlight/media"
	"snowlight/testvideos"
)

// An H.265 camera: camsim serves an HEVC stream, the worker depacketizes and decodes it.
func TestWorkerDecodesH265(t *testing.T) {
	src := testVideo(t, testvideos.VTest)
	out := filepath.Join(t.TempDir(), "hevc.mp4")
	b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src, "-t", "3",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:log-level=error",
		"-threads", "1", "-an", out).CombinedOutput()
	if err != nil {
		t.Skipf("no libx265 to make an H.265 stream: %v: %s", err, b)
	}
	srv := startCamsim(t, camsim.Options{}, map[string]string{"hevc": out})
	r := runWorker(t, Config{Camera: "h", URL: srv.URL("hevc")})
	waitFor(t, 20*time.Second, "30 H.265 frames", func() bool { f, _ := r.snapshot(); return len(f) >= 30 })
	frames, _ := r.snapshot()
	checkMonotonic(t, frames)
	s := r.w.Status()
	assert.Equal(t, "H265", s.Codec)
	assert.Equal(t, 768, s.Width)
	assert.Equal(t, 576, s.Height)
	assert.Zero(t, s.DecodeErrors)
	clip, err := r.w.Ring().Window(frames[0].Time, frames[len(frames)-1].Time)
	require.NoError(t, err)
	assert.Equal(t, media.H265, clip.Codec)
	assert.Len(t, clip.ParamSets, 3, "VPS, SPS, PPS")
}
