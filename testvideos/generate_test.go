package testvideos

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ensureAll(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths, err := Ensure(ctx)
	if errors.Is(err, ErrNoSource) {
		t.Skipf("test videos cannot be generated here: %v", err)
	}
	require.NoError(t, err)
	return paths
}

// The streams must look like an IP camera's: H.264 Main, no B-frames, 25 fps, an IDR exactly every
// 25 frames, the spec's size and length.
func TestGeneratedStreamsAreCameraLike(t *testing.T) {
	paths := ensureAll(t)
	for _, s := range Streams() {
		t.Run(s.Name, func(t *testing.T) {
			p := paths[s.Name]
			out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
				"-show_entries", "stream=codec_name,profile,width,height,r_frame_rate,has_b_frames",
				"-of", "default=noprint_wrappers=1", p).Output()
			require.NoError(t, err, "ffprobe %s", p)
			got := string(out)
			for _, want := range []string{"codec_name=h264", "profile=Main", "has_b_frames=0",
				"r_frame_rate=25/1", "width=" + strconv.Itoa(s.Width), "height=" + strconv.Itoa(s.Height)} {
				assert.Contains(t, got, want, s.Name)
			}
			flags, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
				"-show_entries", "packet=flags", "-of", "csv=p=0", p).Output()
			require.NoError(t, err, "ffprobe packets %s", p)
			lines := strings.Fields(string(flags))
			assert.Len(t, lines, s.Frames, "%s: frames", s.Name)
			for i, f := range lines {
				require.Equal(t, i%s.GOP == 0, strings.HasPrefix(f, "K"), "%s: frame %d is a keyframe: want an IDR exactly every %d frames", s.Name, i, s.GOP)
			}
		})
	}
}

// A second run finds the outputs up to date; generating again elsewhere gives identical bytes.
func TestGenerateIsDeterministicAndCached(t *testing.T) {
	paths := ensureAll(t)
	ctx := context.Background()
	rs, err := Generate(ctx, GenerateOptions{})
	require.NoError(t, err)
	for _, r := range rs {
		assert.False(t, r.Generated, "%s regenerated although its spec hash matched", r.Name)
	}
	dir := t.TempDir()
	rs, err = Generate(ctx, GenerateOptions{Dir: dir, Only: []string{Quiet}})
	require.NoError(t, err)
	require.Len(t, rs, 1, "one quiet stream")
	require.True(t, rs[0].Generated, "a fresh quiet stream")
	a, err := genFileSHA256(paths[Quiet])
	require.NoError(t, err)
	b, err := genFileSHA256(rs[0].Path)
	require.NoError(t, err)
	require.Equal(t, a, b, "two runs of the same spec differ")
	// A changed spec (as after an argument or ffmpeg change) makes the file stale.
	require.NoError(t, os.WriteFile(rs[0].Path+".spec", []byte("stale\n"), 0o644))
	require.False(t, genUpToDate(rs[0].Path, "fresh"), "a stale spec hash counted as up to date")
}

func TestMissingSourceIsReported(t *testing.T) {
	_, err := Generate(context.Background(), GenerateOptions{Dir: t.TempDir(), Source: "/nonexistent/vtest.avi"})
	require.ErrorIs(t, err, ErrNoSource)
}
