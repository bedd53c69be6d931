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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatalf("cut: %v: %s", err, b)
	}
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
		if err := s.AddFile(name, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	for _, want := range []string{"codec_name=h264", "profile=Main", "width=768", "height=576", "r_frame_rate=25/1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ffprobe: want %s in\n%s", want, out)
		}
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
			if err != nil {
				t.Fatalf("ffmpeg: %v: %s", err, out)
			}
			frames := lastFrameCount(string(out))
			if frames != 50 {
				t.Errorf("ffmpeg decoded %d frames, want 50:\n%s", frames, out)
			}
			if strings.Contains(string(out), "error") {
				t.Errorf("ffmpeg reported errors:\n%s", out)
			}
			// Paced in real time: 50 frames take at least about 2 s to arrive.
			if el := time.Since(started); el < 1500*time.Millisecond {
				t.Errorf("2 s of stream arrived in %v: not paced", el)
			}
		})
	}

	out, err = exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp",
		strings.Replace(authURL, "pa55", "wrong", 1)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("wrong password: ffprobe err %v, output %s; want a 401", err, out)
	}
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(sent)
		mu.Unlock()
		if n >= 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d frames sent in 10 s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	loops := map[int]int{}
	for i, f := range sent {
		loops[f.Loop]++
		if i == 0 {
			if !f.Keyframe {
				t.Error("the first frame is not a keyframe")
			}
			continue
		}
		p := sent[i-1]
		if f.PTS-p.PTS != 40*time.Millisecond || f.RTPTime-p.RTPTime != 3600 || f.Index != p.Index+1 {
			t.Fatalf("frame %d (loop %d): PTS +%v, RTP +%d after frame %d", f.Index, f.Loop, f.PTS-p.PTS, f.RTPTime-p.RTPTime, p.Index)
		}
		if f.Loop != p.Loop && !f.Keyframe {
			t.Errorf("loop %d does not start at a keyframe", f.Loop)
		}
	}
	if loops[0] != 25 || loops[1] != 25 {
		t.Errorf("frames per loop %v, want 25", loops)
	}
}

// Bad files are refused with a clear error before any client sees them; a file that breaks off
// part-way plays what precedes the break.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a video ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Addr: "127.0.0.1:0"})
	if err := s.AddFile("", garbage); err == nil || !strings.Contains(err.Error(), "garbage.mp4") {
		t.Errorf("garbage file: err %v, want one naming the file", err)
	}
	if err := s.AddFile("", filepath.Join(dir, "missing.mp4")); err == nil {
		t.Error("missing file accepted")
	}

	// MPEG-TS cut in the middle of a packet, like a recording that stopped with the power.
	ts := cut(t, video(t, testvideos.VTest), 4, ".ts")
	b, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc.ts")
	if err := os.WriteFile(trunc, b[:len(b)/2+77], 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := loadSource(trunc, 64<<20)
	if err != nil {
		t.Fatalf("truncated file refused: %v", err)
	}
	if src.frames < 25 || src.frames >= 100 {
		t.Errorf("truncated file plays %d frames, want part of 100", src.frames)
	}
	// And it serves.
	srv := start(t, Options{}, map[string]string{"trunc": trunc})
	requireTool(t, "ffprobe")
	if out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
		"stream=codec_name", srv.URL("trunc")).CombinedOutput(); err != nil || !strings.Contains(string(out), "h264") {
		t.Errorf("ffprobe on the truncated file's camera: %v %s", err, out)
	}

	// A file too large to cache is re-read every loop and plays the same.
	big, err := loadSource(video(t, testvideos.Quiet), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if big.cached != nil || big.frames != 750 {
		t.Errorf("uncached source: cached %d, frames %d", len(big.cached), big.frames)
	}
	n := 0
	if err := big.packets(func(av.Packet) bool { n++; return true }); err != nil || n != 750 {
		t.Errorf("re-read %d packets (%v), want 750", n, err)
	}
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
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseFaults(%q) err %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFaults(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
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
		if fl.LossPercent < 0 || fl.LossPercent > 100 || fl.DropSessionsEvery < 0 || fl.StallEvery < 0 ||
			fl.StallFor < 0 || fl.RestartEvery < 0 || (fl.StallEvery > 0 && fl.StallFor >= fl.StallEvery) {
			t.Fatalf("ParseFaults(%q) accepted %+v", s, fl)
		}
	})
}
