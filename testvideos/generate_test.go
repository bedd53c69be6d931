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
)

func ensureAll(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths, err := Ensure(ctx)
	if errors.Is(err, ErrNoSource) {
		t.Skipf("test videos cannot be generated here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
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
			if err != nil {
				t.Fatalf("ffprobe %s: %v", p, err)
			}
			got := string(out)
			for _, want := range []string{"codec_name=h264", "profile=Main", "has_b_frames=0",
				"r_frame_rate=25/1", "width=" + strconv.Itoa(s.Width), "height=" + strconv.Itoa(s.Height)} {
				if !strings.Contains(got, want) {
					t.Errorf("%s: want %s in\n%s", s.Name, want, got)
				}
			}
			flags, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
				"-show_entries", "packet=flags", "-of", "csv=p=0", p).Output()
			if err != nil {
				t.Fatalf("ffprobe packets %s: %v", p, err)
			}
			lines := strings.Fields(string(flags))
			if len(lines) != s.Frames {
				t.Errorf("%s: %d frames, want %d", s.Name, len(lines), s.Frames)
			}
			for i, f := range lines {
				key := strings.HasPrefix(f, "K")
				if key != (i%s.GOP == 0) {
					t.Fatalf("%s: frame %d keyframe=%v, want an IDR exactly every %d frames", s.Name, i, key, s.GOP)
				}
			}
		})
	}
}

// A second run finds the outputs up to date; generating again elsewhere gives identical bytes.
func TestGenerateIsDeterministicAndCached(t *testing.T) {
	paths := ensureAll(t)
	ctx := context.Background()
	rs, err := Generate(ctx, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Generated {
			t.Errorf("%s regenerated although its spec hash matched", r.Name)
		}
	}
	dir := t.TempDir()
	rs, err = Generate(ctx, GenerateOptions{Dir: dir, Only: []string{Quiet}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !rs[0].Generated {
		t.Fatalf("want one fresh quiet stream, got %+v", rs)
	}
	a, err := genFileSHA256(paths[Quiet])
	if err != nil {
		t.Fatal(err)
	}
	b, err := genFileSHA256(rs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("two runs of the same spec differ: %s vs %s", a, b)
	}
	// A changed spec (as after an argument or ffmpeg change) makes the file stale.
	if err := os.WriteFile(rs[0].Path+".spec", []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if genUpToDate(rs[0].Path, "fresh") {
		t.Fatal("a stale spec hash counted as up to date")
	}
}

func TestMissingSourceIsReported(t *testing.T) {
	_, err := Generate(context.Background(), GenerateOptions{Dir: t.TempDir(), Source: "/nonexistent/vtest.avi"})
	if !errors.Is(err, ErrNoSource) {
		t.Fatalf("want ErrNoSource, got %v", err)
	}
}
