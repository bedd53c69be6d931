package av

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/media"
)

const vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

// ffmpeg runs ffmpeg with args and fails the test if it fails.
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed: run scripts/setup.sh")
	}
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ffmpeg %v: %s", args, out)
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
	require.NoError(t, err)
	defer dm.Close()
	dec, err := NewDecoder(DecoderOptions{Codec: dm.Info().Codec})
	require.NoError(t, err)
	defer dec.Close()
	receive := func() {
		for {
			pi, err := dec.Receive()
			if errors.Is(err, ErrNeedInput) || errors.Is(err, io.EOF) {
				return
			}
			require.NoError(t, err)
			m, err := dec.BGR()
			require.NoError(t, err)
			fn(pi, m)
			m.Close()
		}
	}
	for {
		p, err := dm.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, dec.Send(p.AU, int64(p.PTS)))
		receive()
	}
	require.NoError(t, dec.Drain())
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
			require.NoError(t, err)
			var got []byte
			keys := 0
			info := decodeAll(t, path, func(pi PictureInfo, m gocv.Mat) {
				if pi.Keyframe {
					keys++
				}
				got = append(got, m.ToBytes()...)
			})
			require.Equal(t, tc.codec, info.Codec)
			require.Equal(t, tc.w, info.Width)
			require.Equal(t, tc.h, info.Height)
			assert.InDelta(t, 10, info.FrameRate, 0.1, "vtest's frame rate")
			require.Equal(t, frames, len(got)/(tc.w*tc.h*3), "pictures decoded")
			assert.Equal(t, 2, keys, "keyframes in %d frames with GOP 25", frames)
			require.Equal(t, len(want), len(got), "bytes decoded, against ffmpeg's")
			var sum int
			for i := range got {
				d := int(got[i]) - int(want[i])
				sum += d * d
			}
			// Same decoder, same conversion family: differences come only from swscale's dithering choices.
			assert.LessOrEqual(t, float64(sum)/float64(len(got)), 1.0, "mean squared difference to ffmpeg's BGR")
		})
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := encodeVtest(t, "good.mp4", 10, "-bf", "0")
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
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
			}
			require.Error(t, err, "OpenFile(%s) succeeded", tc.path)
			assert.ErrorContains(t, err, tc.path, "the error names the file")
		})
	}
}

// A truncated file with its index up front reads up to the cut, then reports the end or an error: never a
// crash, never a hang.
func TestTruncatedFileReadsWhatIsThere(t *testing.T) {
	good := encodeVtest(t, "fs.mp4", 50, "-bf", "0", "-movflags", "+faststart")
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	require.NoError(t, os.WriteFile(cut, data[:len(data)/2], 0o644))
	dm, err := OpenFile(cut)
	require.NoError(t, err)
	defer dm.Close()
	n := 0
	for {
		if _, err := dm.Read(); err != nil {
			break
		}
		n++
	}
	assert.Positive(t, n, "packets read from half a 50-frame file")
	assert.Less(t, n, 50, "packets read from half a 50-frame file")
}
