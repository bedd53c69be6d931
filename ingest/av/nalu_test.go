package av

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/media"
)

// bitWriter writes the Exp-Golomb coded fields of a hand-made SPS.
type bitWriter struct {
	b   []byte
	bit int
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.bit%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.bit%8)
		}
		w.bit++
	}
}

func (w *bitWriter) ue(v uint64) {
	n := bits.Len64(v + 1)
	w.u(n-1, 0)
	w.u(n, v+1)
}

// se writes a signed Exp-Golomb field: 1, -1, 2, -2, ... are coded as 1, 2, 3, 4, ...
func (w *bitWriter) se(v int64) {
	if v > 0 {
		w.ue(uint64(2*v - 1))
	} else {
		w.ue(uint64(-2 * v))
	}
}

// baselineSPS returns an H.264 SPS NAL unit claiming a picture of mbW x mbH macroblocks.
func baselineSPS(mbW, mbH uint64) []byte {
	w := &bitWriter{}
	w.u(8, 0x67) // forbidden 0, nal_ref_idc 3, type 7
	w.u(8, 66)   // profile_idc: baseline
	w.u(8, 0)    // constraint flags
	w.u(8, 30)   // level_idc
	w.ue(0)      // seq_parameter_set_id
	w.ue(0)      // log2_max_frame_num_minus4
	w.ue(2)      // pic_order_cnt_type
	w.ue(1)      // max_num_ref_frames
	w.u(1, 0)    // gaps_in_frame_num_value_allowed_flag
	w.ue(mbW - 1)
	w.ue(mbH - 1)
	w.u(1, 1) // frame_mbs_only_flag
	w.u(1, 1) // direct_8x8_inference_flag
	w.u(1, 0) // frame_cropping_flag
	w.u(1, 0) // vui_parameters_present_flag
	w.u(1, 1) // rbsp_stop_one_bit
	for w.bit%8 != 0 {
		w.u(1, 0)
	}
	return w.b
}

func TestCheckParamSets(t *testing.T) {
	pps := []byte{0x68, 0xce, 0x38, 0x80}
	for _, tc := range []struct {
		name    string
		sps     []byte
		wantErr string
	}{
		{"vga", baselineSPS(40, 30), ""},
		{"4k fits", baselineSPS(256, 135), ""},
		{"too wide", baselineSPS(512, 30), "SPS claims 8192x480"},
		{"absurd", baselineSPS(1<<20, 1<<20), "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckParamSets(media.H264, [][]byte{tc.sps, pps}, DefaultMaxWidth, DefaultMaxHeight)
			if tc.wantErr == "" {
				require.NoError(t, err, "refused a valid SPS")
			} else {
				require.ErrorContains(t, err, tc.wantErr)
			}
		})
	}
}

// readAUs returns every access unit of a file.
func readAUs(t testing.TB, path string) (StreamInfo, []Packet) {
	t.Helper()
	info, pkts, err := ReadFile(path)
	require.NoError(t, err)
	return info, pkts
}

// receiveAll returns the pictures the decoder has ready.
func receiveAll(t testing.TB, d *Decoder) []PictureInfo {
	t.Helper()
	var out []PictureInfo
	for {
		pi, err := d.Receive()
		if errors.Is(err, ErrNeedInput) || errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, pi)
	}
}

// After an absurd SPS and garbage, the decoder still decodes the real stream that follows.
func TestDecoderSurvivesBadInput(t *testing.T) {
	_, pkts := readAUs(t, encodeVtest(t, "a.mp4", 30, "-bf", "0"))
	d, err := NewDecoder(DecoderOptions{Codec: media.H264})
	require.NoError(t, err)
	defer d.Close()
	require.Error(t, d.Send([][]byte{baselineSPS(1<<16, 1<<16)}, 0), "absurd SPS accepted")
	garbage := [][][]byte{
		{{0x65, 0xff, 0x00, 0x12}},             // IDR slice with no SPS/PPS
		{{0x41}},                               // empty P slice
		{{0x67, 0x42}},                         // SPS cut short
		{make([]byte, 5000)},                   // forbidden zero NAL
		{{0x68, 0xff, 0xff, 0xff, 0xff, 0xff}}, // hostile PPS
	}
	for i, au := range garbage {
		_ = d.Send(au, int64(i)) // an error is fine, a crash is not
		receiveAll(t, d)
	}
	d.Reset()
	decoded := 0
	for i, p := range pkts {
		require.NoError(t, d.Send(p.AU, int64(i)), "access unit %d", i)
		decoded += len(receiveAll(t, d))
	}
	assert.Equal(t, len(pkts), decoded, "pictures decoded after bad input")
}

// Skipping disposable pictures keeps every reference picture decodable and correct.
func TestDisposableSkipping(t *testing.T) {
	// x264 with B-frames but no B-pyramid: every B picture is a non-reference picture.
	_, pkts := readAUs(t, encodeVtest(t, "b.mp4", 50, "-bf", "2", "-x264-params", "b-pyramid=none"))
	d, err := NewDecoder(DecoderOptions{Codec: media.H264})
	require.NoError(t, err)
	defer d.Close()
	skipped, decoded := 0, 0
	for _, p := range pkts {
		if Disposable(media.H264, p.AU) {
			require.False(t, p.Keyframe, "keyframe reported disposable")
			skipped++
			continue
		}
		require.NoError(t, d.Send(p.AU, int64(p.PTS)))
		for _, pi := range receiveAll(t, d) {
			require.False(t, pi.Corrupt, "picture at %d decoded with errors after skipping disposable ones", pi.PTS)
			decoded++
		}
	}
	require.NoError(t, d.Drain())
	decoded += len(receiveAll(t, d))
	assert.Positive(t, skipped, "disposable pictures skipped")
	assert.Equal(t, len(pkts), skipped+decoded, "skipped %d, decoded %d", skipped, decoded)
}

// rssKiB reads the process's resident set size.
func rssKiB(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	var size, rss int
	_, err = fmt.Sscan(string(b), &size, &rss)
	require.NoError(t, err)
	return rss * os.Getpagesize() / 1024
}

// Decoding and converting many frames must not grow memory: every AVFrame, packet and Mat is released.
func TestNoLeakOverManyFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	path := encodeVtest(t, "leak.mp4", 50, "-bf", "0", "-vf", "scale=192:144")
	_, pkts := readAUs(t, path)
	d, err := NewDecoder(DecoderOptions{Codec: media.H264})
	require.NoError(t, err)
	defer d.Close()
	run := func(loops int) {
		for range loops {
			for i, p := range pkts {
				require.NoError(t, d.Send(p.AU, int64(i)))
				for {
					if _, err := d.Receive(); err != nil {
						break
					}
					m, err := d.BGR()
					require.NoError(t, err)
					m.Close()
				}
			}
		}
	}
	run(20) // warm up allocator pools
	runtime.GC()
	before := rssKiB(t)
	run(200) // 10,000 frames
	runtime.GC()
	after := rssKiB(t)
	// A leaked 192x144 BGR picture is 81 KiB: 10,000 of them would be 800 MiB.
	assert.LessOrEqual(t, after-before, 8*1024, "resident memory growth over 10,000 frames, KiB")
}
