package camsim

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/ingest/av"
	"snowlight/testvideos"
)

func video(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths, err := testvideos.Ensure(ctx, name)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable: %v", err)
	}
	require.NoError(t, err)
	return paths[name]
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

// cut copies the first seconds of a video into a new container without re-encoding.
func cut(t *testing.T, src string, seconds int, ext string) string {
	t.Helper()
	requireTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "clip"+ext)
	b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src,
		"-t", strconv.Itoa(seconds), "-c", "copy", out).CombinedOutput()
	require.NoError(t, err, "cut: %s", b)
	return out
}

func start(t *testing.T, o Options, files map[string]string) *Server {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := New(o)
	for name, f := range files {
		require.NoError(t, s.AddFile(name, f))
	}
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(s.Close)
	return s
}

// Real peers read camsim: ffprobe sees the stream, ffmpeg decodes it in real time, over TCP and UDP,
// with and without credentials.
func TestFFmpegReadsCamsim(t *testing.T) {
	requireTool(t, "ffprobe")
	srv := start(t, Options{}, map[string]string{"vtest": video(t, testvideos.VTest)})
	auth := start(t, Options{User: "installer", Pass: "pa55"}, map[string]string{"quiet": video(t, testvideos.Quiet)})
	authURL := strings.Replace(auth.URL("quiet"), "rtsp://", "rtsp://installer:pa55@", 1)

	out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
		"stream=codec_name,profile,width,height,r_frame_rate", "-of", "default=noprint_wrappers=1", srv.URL("vtest")).CombinedOutput()
	require.NoError(t, err, "ffprobe: %s", out)
	for _, want := range []string{"codec_name=h264", "profile=Main", "width=768", "height=576", "r_frame_rate=25/1"} {
		assert.Contains(t, string(out), want, "ffprobe")
	}

	for _, tc := range []struct {
		name, transport, url string
	}{
		{"tcp", "tcp", srv.URL("vtest")},
		{"udp", "udp", srv.URL("vtest")},
		{"auth tcp", "tcp", authURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := time.Now()
			out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", tc.transport,
				"-i", tc.url, "-frames:v", "50", "-f", "null", "-").CombinedOutput()
			require.NoError(t, err, "ffmpeg: %s", out)
			assert.Equal(t, 50, lastFrameCount(string(out)), "frames ffmpeg decoded:\n%s", out)
			assert.NotContains(t, string(out), "error", "ffmpeg reported errors")
			// Paced in real time: 50 frames take at least about 2 s to arrive.
			assert.GreaterOrEqual(t, time.Since(started), 1500*time.Millisecond, "2 s of stream arrived too soon: not paced")
		})
	}

	out, err = exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp",
		strings.Replace(authURL, "pa55", "wrong", 1)).CombinedOutput()
	assert.Error(t, err, "wrong password accepted: %s", out)
	assert.Contains(t, string(out), "401", "wrong password")
}

var frameRE = regexp.MustCompile(`frame=\s*(\d+)`)

func lastFrameCount(s string) int {
	m := frameRE.FindAllStringSubmatch(s, -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// A short file loops: media time and RTP timestamps keep increasing by exactly one frame across the
// loop, and a play-through lasts the file's length.
func TestLoopKeepsTimestampsIncreasing(t *testing.T) {
	clip := cut(t, video(t, testvideos.VTest), 1, ".mp4")
	var mu sync.Mutex
	var sent []FrameSent
	srv := start(t, Options{OnFrame: func(f FrameSent) {
		mu.Lock()
		sent = append(sent, f)
		mu.Unlock()
	}}, map[string]string{"clip": clip})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) >= 60
	}, 10*time.Second, 50*time.Millisecond, "60 frames sent")
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	loops := map[int]int{}
	for i, f := range sent {
		loops[f.Loop]++
		if i == 0 {
			assert.True(t, f.Keyframe, "the first frame is a keyframe")
			continue
		}
		p := sent[i-1]
		require.Equal(t, 40*time.Millisecond, f.PTS-p.PTS, "frame %d (loop %d): PTS step", f.Index, f.Loop)
		require.EqualValues(t, 3600, f.RTPTime-p.RTPTime, "frame %d (loop %d): RTP step", f.Index, f.Loop)
		require.Equal(t, p.Index+1, f.Index, "frame index after %d", p.Index)
		if f.Loop != p.Loop {
			assert.True(t, f.Keyframe, "loop %d starts at a keyframe", f.Loop)
		}
	}
	assert.Equal(t, 25, loops[0], "frames in the first loop")
	assert.Equal(t, 25, loops[1], "frames in the second loop")
}

// Bad files are refused with a clear error before any client sees them; a file that breaks off
// part-way plays what precedes the break.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	require.NoError(t, os.WriteFile(garbage, []byte(strings.Repeat("not a video ", 1000)), 0o644))
	s := New(Options{Addr: "127.0.0.1:0"})
	assert.ErrorContains(t, s.AddFile("", garbage), "garbage.mp4", "the error names the garbage file")
	assert.Error(t, s.AddFile("", filepath.Join(dir, "missing.mp4")), "missing file accepted")

	// MPEG-TS cut in the middle of a packet, like a recording that stopped with the power.
	ts := cut(t, video(t, testvideos.VTest), 4, ".ts")
	b, err := os.ReadFile(ts)
	require.NoError(t, err)
	trunc := filepath.Join(dir, "trunc.ts")
	require.NoError(t, os.WriteFile(trunc, b[:len(b)/2+77], 0o644))
	src, err := loadSource(trunc, 64<<20)
	require.NoError(t, err, "truncated file refused")
	assert.GreaterOrEqual(t, src.frames, 25, "the truncated file plays part of its 100 frames")
	assert.Less(t, src.frames, 100, "the truncated file plays part of its 100 frames")
	// And it serves.
	srv := start(t, Options{}, map[string]string{"trunc": trunc})
	requireTool(t, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
		"stream=codec_name", srv.URL("trunc")).CombinedOutput()
	if assert.NoError(t, err, "ffprobe on the truncated file's camera: %s", out) {
		assert.Contains(t, string(out), "h264", "ffprobe on the truncated file's camera")
	}

	// A file too large to cache is re-read every loop and plays the same.
	big, err := loadSource(video(t, testvideos.Quiet), 1000)
	require.NoError(t, err)
	assert.Nil(t, big.cached, "a source too large to cache")
	assert.Equal(t, 750, big.frames)
	n := 0
	assert.NoError(t, big.packets(func(av.Packet) bool { n++; return true }))
	assert.Equal(t, 750, n, "packets re-read")
}

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Faults
		wantErr string
	}{
		{"", Faults{}, ""},
		{"drop-every=30s", Faults{DropSessionsEvery: 30 * time.Second}, ""},
		{"stall-every=1m,stall-for=5s,loss=2.5", Faults{StallEvery: time.Minute, StallFor: 5 * time.Second, LossPercent: 2.5}, ""},
		{"restart-every=2m,ts-jump=-1h", Faults{RestartEvery: 2 * time.Minute, TimestampJump: -time.Hour}, ""},
		{"loss=101", Faults{}, "between 0 and 100"},
		{"loss=NaN", Faults{}, "between 0 and 100"},
		{"stall-for=5s", Faults{}, "go together"},
		{"stall-every=5s,stall-for=5s", Faults{}, "shorter"},
		{"drop-every=-1s", Faults{}, "positive"},
		{"bogus=1", Faults{}, "unknown key"},
		{"drop-every", Faults{}, "key=value"},
	} {
		got, err := ParseFaults(tc.in)
		if tc.wantErr != "" {
			assert.ErrorContains(t, err, tc.wantErr, "ParseFaults(%q)", tc.in)
			continue
		}
		if assert.NoError(t, err, "ParseFaults(%q)", tc.in) {
			assert.Equal(t, tc.want, got, "ParseFaults(%q)", tc.in)
		}
	}
}

func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"drop-every=30s", "stall-every=1m,stall-for=5s,loss=2.5", "restart-every=2m,ts-jump=-1h", "loss=1e400", ",,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFaults(s)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, fl.LossPercent, 0.0, "ParseFaults(%q) accepted %+v", s, fl)
		require.LessOrEqual(t, fl.LossPercent, 100.0, "ParseFaults(%q) accepted %+v", s, fl)
		require.GreaterOrEqual(t, fl.DropSessionsEvery, time.Duration(0), "ParseFaults(%q) accepted %+v", s, fl)
		require.GreaterOrEqual(t, fl.StallEvery, time.Duration(0), "ParseFaults(%q) accepted %+v", s, fl)
		require.GreaterOrEqual(t, fl.StallFor, time.Duration(0), "ParseFaults(%q) accepted %+v", s, fl)
		require.GreaterOrEqual(t, fl.RestartEvery, time.Duration(0), "ParseFaults(%q) accepted %+v", s, fl)
		if fl.StallEvery > 0 {
			require.Less(t, fl.StallFor, fl.StallEvery, "ParseFaults(%q) accepted %+v", s, fl)
		}
		require.GreaterOrEqual(t, fl.PadBytes, 0, "ParseFaults(%q) accepted %+v", s, fl)
		require.LessOrEqual(t, fl.PadBytes, MaxPadBytes, "ParseFaults(%q) accepted %+v", s, fl)
	})
}
