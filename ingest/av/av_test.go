package av

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"snowlight/media"
	"strconv"
	"testing"

	"gocv.io/x/gocv"
)

const vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

// ffmpeg runs ffmpeg with args and fails the test if it fails.
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed: run scripts/setup.sh")
	}
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// encodeVtest encodes the first n frames of the real pedestrian video with the given extra x264 args.
func encodeVtest(t testing.TB, name string, n int, extra ...string) string {
	t.Helper()
	if _, err := os.Stat(vtest); err != nil {
		t.Skip("vtest.avi missing: install opencv-doc (scripts/setup.sh)")
	}
	out := filepath.Join(t.TempDir(), name)
	args := []string{"-i", vtest, "-frames:v", strconv.Itoa(n), "-an", "-c:v", "libx264", "-profile:v", "main",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-threads", "1"}
	args = append(append(args, extra...), out)
	ffmpeg(t, args...)
	return out
}

// decodeAll demuxes and decodes path, calling fn for every picture with its BGR Mat (closed after fn).
func decodeAll(t testing.TB, path string, fn func(PictureInfo, gocv.Mat)) StreamInfo {
	t.Helper()
	dm, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	dec, err := NewDecoder(DecoderOptions{Codec: dm.Info().Codec})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	receive := func() {
		for {
			pi, err := dec.Receive()
			if errors.Is(err, ErrNeedInput) || errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := dec.BGR()
			if err != nil {
				t.Fatal(err)
			}
			fn(pi, m)
			m.Close()
		}
	}
	for {
		p, err := dm.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Send(p.AU, int64(p.PTS)); err != nil {
			t.Fatal(err)
		}
		receive()
	}
	if err := dec.Drain(); err != nil {
		t.Fatal(err)
	}
	receive()
	return dm.Info()
}

// TestDecodeMatchesFFmpeg decodes real footage in several containers and codecs and compares every pixel
// with what the ffmpeg command line produces for the same file.
func TestDecodeMatchesFFmpeg(t *testing.T) {
	x265 := []string{"-c:v", "libx265", "-x265-params", "log-level=error:keyint=25", "-profile:v", "main", "-tag:v", "hvc1"}
	tests := []struct {
		name  string
		file  string
		codec media.Codec
		w, h  int // vtest's 768x576 unless scaled
		extra []string
	}{
		{"h264 mp4", "a.mp4", media.H264, 768, 576, []string{"-bf", "0"}},
		{"h264 mkv with b-frames", "a.mkv", media.H264, 768, 576, []string{"-bf", "2"}},
		{"h264 mpegts", "a.ts", media.H264, 768, 576, []string{"-bf", "0"}},
		{"h264 raw annex-b", "a.h264", media.H264, 768, 576, []string{"-bf", "0"}},
		{"h265 mp4", "b.mp4", media.H265, 768, 576, x265},
		// The size of tbbt.mp4, whose rows of 2568 bytes made the conversion write past the picture.
		{"h265 mp4 856x480", "c.mp4", media.H265, 856, 480, append([]string{"-vf", "scale=856:480"}, x265...)},
	}
	const frames = 30
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := encodeVtest(t, tc.file, frames, tc.extra...)
			ref := filepath.Join(t.TempDir(), "ref.bgr")
			ffmpeg(t, "-i", path, "-f", "rawvideo", "-pix_fmt", "bgr24", ref)
			want, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			keys := 0
			info := decodeAll(t, path, func(pi PictureInfo, m gocv.Mat) {
				if pi.Keyframe {
					keys++
				}
				got = append(got, m.ToBytes()...)
			})
			if info.Codec != tc.codec || info.Width != tc.w || info.Height != tc.h {
				t.Fatalf("stream info %+v, want %v %dx%d", info, tc.codec, tc.w, tc.h)
			}
			if info.FrameRate < 9.9 || info.FrameRate > 10.1 {
				t.Errorf("frame rate %.2f, want vtest's 10", info.FrameRate)
			}
			if n := len(got) / (tc.w * tc.h * 3); n != frames {
				t.Fatalf("decoded %d pictures, want %d", n, frames)
			}
			if keys != 2 {
				t.Errorf("%d keyframes in %d frames with GOP 25, want 2", keys, frames)
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d bytes, ffmpeg %d", len(got), len(want))
			}
			var sum int
			for i := range got {
				d := int(got[i]) - int(want[i])
				sum += d * d
			}
			// Same decoder, same conversion family: differences come only from swscale's dithering choices.
			if mse := float64(sum) / float64(len(got)); mse > 1.0 {
				t.Errorf("mean squared difference to ffmpeg's BGR %.3f, want <= 1", mse)
			}
		})
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := encodeVtest(t, "good.mp4", 10, "-bf", "0")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mpeg4 := filepath.Join(dir, "mpeg4.avi")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-frames:v", "3", "-c:v", "mpeg4", mpeg4)
	for _, tc := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "nope.mp4")},
		{"garbage", write("garbage.mp4", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000))},
		{"empty", write("empty.mp4", nil)},
		{"moov cut off", write("cut.mp4", data[:len(data)/3])},
		{"not h264", mpeg4},
		{"url refused", "http://127.0.0.1:1/cam.mp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := OpenFile(tc.path)
			if err == nil {
				d.Close()
				t.Fatalf("OpenFile(%s) succeeded", tc.path)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.path)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// A truncated file with its index up front reads up to the cut, then reports the end or an error: never a
// crash, never a hang.
func TestTruncatedFileReadsWhatIsThere(t *testing.T) {
	good := encodeVtest(t, "fs.mp4", 50, "-bf", "0", "-movflags", "+faststart")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	dm, err := OpenFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	n := 0
	for {
		if _, err := dm.Read(); err != nil {
			break
		}
		n++
	}
	if n == 0 || n >= 50 {
		t.Fatalf("read %d packets from half a 50-frame file", n)
	}
}
