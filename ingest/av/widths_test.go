package av

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/media"
)

// Coded size of the width sweep's streams: the widest width asked for, and a few macroblock rows so that
// 809 widths x 3 pictures x 2 codecs decode in seconds.
const sweepW, sweepH = 1936, 48

// encodeSweep encodes three pictures (I, P, P; no B-frames, so output order is decode order) of ffmpeg's
// moving colour test pattern at sweepW x sweepH as a raw stream, parameter sets in band.
func encodeSweep(t testing.TB, c media.Codec, pixFmt string) []Packet {
	t.Helper()
	args := []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=10", sweepW, sweepH),
		"-frames:v", "3", "-pix_fmt", pixFmt, "-g", "3", "-bf", "0"}
	if c == media.H264 {
		args = append(args, "-c:v", "libx264", "-threads", "1")
	} else {
		args = append(args, "-c:v", "libx265", "-x265-params", "log-level=error:bframes=0:pools=none:frame-threads=1")
	}
	out := filepath.Join(t.TempDir(), map[media.Codec]string{media.H264: "sweep.h264", media.H265: "sweep.hevc"}[c])
	ffmpeg(t, append(args, out)...)
	_, pkts := readAUs(t, out)
	require.Len(t, pkts, 3)
	return pkts
}

// sweepWidths is every even width from 320 to 1936 or, with -short (the run under valgrind), the even widths
// 848..862, one per even residue modulo the SIMD converters' 16-pixel blocks, led by 856, the width that
// crashed, and the widest.
func sweepWidths() []int {
	if testing.Short() {
		return []int{856, 848, 850, 852, 854, 858, 860, 862, sweepW}
	}
	var ws []int
	for w := 320; w <= sweepW; w += 2 {
		ws = append(ws, w)
	}
	return ws
}

// TestDecodeEveryWidth decodes pictures of every width a camera may send, 320 to 1936 in steps of 2 with
// heights 18 to 48, in H.264 and H.265, and checks that each is its pixels exactly and that nothing is
// written outside it. Each size is the sweep stream with its SPS cropped (cropSPS): the decoder sees what a
// camera of that size sends, only the amount cropped differs, and each picture must equal the top-left
// corner of the uncropped one. (Encoding the 809 widths for real takes ffmpeg about 50 s and gigabytes of
// encoder state; the crop takes microseconds.)
//
// libswscale's SIMD converters write whole blocks of 16 pixels: into rows of exactly width x 3 bytes they
// left the last width%16 pixels unconverted (widths 16n+2..6) or wrote past the end of the picture
// (16n+8..14), which corrupted the heap for a camera 856 pixels wide. BGR, the allocating path every caller
// uses, must give the right pixels (and, under valgrind in make test, write nothing outside its Mat);
// BGRInto a Mat one row taller than the picture, filled with a canary, must give the same pixels and leave
// the extra row alone, which shows an overrun without a memory checker.
func TestDecodeEveryWidth(t *testing.T) {
	canary := []byte{0xa5, 0x5a, 0xa5}
	for _, c := range []media.Codec{media.H264, media.H265} {
		t.Run(c.String(), func(t *testing.T) {
			pkts := encodeSweep(t, c, "yuv420p")
			d, err := NewDecoder(DecoderOptions{Codec: c})
			require.NoError(t, err)
			defer d.Close()
			var ref [][]byte
			decodeCropped(t, d, pkts, sweepW, sweepH, func(int, PictureInfo) {
				m, err := d.BGR()
				require.NoError(t, err)
				defer m.Close()
				ref = append(ref, m.ToBytes())
			})
			for i, w := range sweepWidths() {
				h := sweepH - 2*(i%16)
				decodeCropped(t, d, pkts, w, h, func(k int, pic PictureInfo) {
					require.Equal(t, [2]int{w, h}, [2]int{pic.Width, pic.Height}, "picture %d", k)
					m, err := d.BGR()
					require.NoError(t, err)
					defer m.Close()
					got := m.ToBytes()
					for y := range h {
						requireSame(t, ref[k][y*sweepW*3:][:w*3], got[y*w*3:(y+1)*w*3], "%dx%d picture %d row %d", w, h, k, y)
					}

					fill := gocv.NewScalar(float64(canary[0]), float64(canary[1]), float64(canary[2]), 0)
					whole := gocv.NewMatWithSizeFromScalar(fill, h+1, w, gocv.MatTypeCV8UC3)
					defer whole.Close()
					dst := whole.Region(image.Rect(0, 0, w, h))
					defer dst.Close()
					require.NoError(t, d.BGRInto(&dst))
					into := whole.ToBytes()
					requireSame(t, got, into[:h*w*3], "%dx%d picture %d by BGRInto", w, h, k)
					requireSame(t, bytes.Repeat(canary, w), into[h*w*3:], "%dx%d picture %d: the row below it", w, h, k)
				})
			}
		})
	}
}

// requireSame fails on the first byte that differs, rather than printing both slices.
func requireSame(t *testing.T, want, got []byte, what string, args ...any) {
	t.Helper()
	require.Len(t, got, len(want))
	if bytes.Equal(want, got) {
		return
	}
	for i := range want {
		if got[i] != want[i] {
			require.Failf(t, "wrong bytes", "%s: byte %d (pixel %d) is %#x, want %#x",
				fmt.Sprintf(what, args...), i, i/3, got[i], want[i])
		}
	}
}

// decodeCropped sends pkts with their SPS cropped to w x h and calls check with each picture in turn.
func decodeCropped(t *testing.T, d *Decoder, pkts []Packet, w, h int, check func(int, PictureInfo)) {
	t.Helper()
	n := 0
	receive := func() {
		for {
			pic, err := d.Receive()
			if errors.Is(err, ErrNeedInput) || errors.Is(err, io.EOF) {
				return
			}
			require.NoError(t, err)
			check(n, pic)
			n++
		}
	}
	for i, p := range pkts {
		au, found, err := cropAU(d.Codec(), p.AU, w, h)
		require.NoError(t, err)
		require.Equal(t, i == 0, found, "SPS in access unit %d", i)
		require.NoError(t, d.Send(au, int64(i)))
		receive()
	}
	// Drain and Reset so that the next size starts afresh, as a camera reconfigured to a new size does.
	require.NoError(t, d.Drain())
	receive()
	d.Reset()
	require.Equal(t, len(pkts), n, "pictures decoded at %dx%d", w, h)
}
