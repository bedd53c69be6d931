package av

import (
	"fmt"
	"testing"

	mbits "github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/media"
)

// cropSPS returns a copy of the SPS NAL unit nalu whose cropping window (H.264 frame cropping, H.265
// conformance window) shows the top-left w x h of the coded picture, and the coded size. This is how an
// encoder sends any size that is not a whole number of its blocks (an 856-wide camera codes 864 columns
// and crops 8), so a stream coded once at the widest size becomes, SPS by SPS, a stream of any smaller
// size. w and h must be multiples of the crop unit (2 for 4:2:0 width and height, 1 for 4:4:4).
func cropSPS(c media.Codec, nalu []byte, w, h int) ([]byte, error) {
	hdr := 1
	if c == media.H265 {
		hdr = 2
	}
	if len(nalu) <= hdr {
		return nil, fmt.Errorf("SPS of %d bytes", len(nalu))
	}
	cp := &spsCopier{in: h264.EmulationPreventionRemove(nalu[hdr:])}
	var codedW, codedH, unitX, unitY int
	switch c {
	case media.H264:
		codedW, codedH, unitX, unitY = cp.h264()
	case media.H265:
		codedW, codedH, unitX, unitY = cp.h265()
	default:
		return nil, fmt.Errorf("unsupported codec %v", c)
	}
	if cp.err != nil {
		return nil, fmt.Errorf("read %v SPS: %w", c, cp.err)
	}
	if w <= 0 || h <= 0 || w > codedW || h > codedH || w%unitX != 0 || h%unitY != 0 {
		return nil, fmt.Errorf("%dx%d is no crop of %dx%d in units of %dx%d", w, h, codedW, codedH, unitX, unitY)
	}
	cp.out.u(1, 1) // cropping window present: left 0, right, top 0, bottom
	cp.out.ue(0)
	cp.out.ue(uint64((codedW - w) / unitX))
	cp.out.ue(0)
	cp.out.ue(uint64((codedH - h) / unitY))
	rbsp, err := cp.finish()
	if err != nil {
		return nil, fmt.Errorf("copy %v SPS: %w", c, err)
	}
	return append(append([]byte{}, nalu[:hdr]...), addEmulationPrevention(rbsp)...), nil
}

// cropSPS's output parses, with mediacommon's independent SPS parsers, as the size asked for, for every
// chroma format the crop units depend on.
func TestCropSPS(t *testing.T) {
	for _, tc := range []struct {
		c      media.Codec
		pixFmt string
		w, h   int
	}{
		{media.H264, "yuv420p", 856, 34},
		{media.H264, "yuv422p", 1934, 33},
		{media.H264, "yuv444p", 321, 1},
		{media.H265, "yuv420p", 2, 2},
		{media.H265, "yuv444p", 1935, 47},
	} {
		t.Run(fmt.Sprintf("%v %s %dx%d", tc.c, tc.pixFmt, tc.w, tc.h), func(t *testing.T) {
			pkts := encodeSweep(t, tc.c, tc.pixFmt)
			var sps []byte
			for _, n := range pkts[0].AU {
				if isSPS(tc.c, n) {
					sps = n
				}
			}
			require.NotNil(t, sps)
			out, err := cropSPS(tc.c, sps, tc.w, tc.h)
			require.NoError(t, err)
			var w, h int
			if tc.c == media.H264 {
				var p h264.SPS
				require.NoError(t, p.Unmarshal(out))
				w, h = p.Width(), p.Height()
			} else {
				var p h265.SPS
				require.NoError(t, p.Unmarshal(out))
				w, h = p.Width(), p.Height()
			}
			assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{w, h})
			_, err = cropSPS(tc.c, sps, sweepW+2, sweepH)
			assert.Error(t, err, "a crop wider than the coded picture")
		})
	}
}

// spsCopier copies an SPS's RBSP field by field up to its cropping window, which it reads and drops; the
// caller writes the new window, and finish copies the rest.
type spsCopier struct {
	in  []byte
	pos int
	out bitWriter
	err error
}

// u copies an n-bit field and returns it; after an error it does nothing and returns 0.
func (c *spsCopier) u(n int) uint64 {
	if c.err != nil {
		return 0
	}
	v, err := mbits.ReadBits(c.in, &c.pos, n)
	c.err = err
	c.out.u(n, v)
	return v
}

func (c *spsCopier) ue() uint64 {
	if c.err != nil {
		return 0
	}
	v, err := mbits.ReadGolombUnsigned(c.in, &c.pos)
	c.err = err
	c.out.ue(uint64(v))
	return uint64(v)
}

func (c *spsCopier) se() int64 {
	if c.err != nil {
		return 0
	}
	v, err := mbits.ReadGolombSigned(c.in, &c.pos)
	c.err = err
	c.out.se(int64(v))
	return int64(v)
}

// dropWindow reads a cropping window (flag, then four Exp-Golomb offsets when set) without copying it.
func (c *spsCopier) dropWindow() {
	if c.err != nil {
		return
	}
	set, err := mbits.ReadFlag(c.in, &c.pos)
	for i := 0; set && err == nil && i < 4; i++ {
		_, err = mbits.ReadGolombUnsigned(c.in, &c.pos)
	}
	c.err = err
}

// cropUnits gives the cropping window's units from chroma_format_idc (H.264 7.4.2.1.1, H.265 7.4.3.2.1).
func cropUnits(chroma uint64, separatePlanes bool) (x, y int) {
	switch {
	case separatePlanes:
		return 1, 1
	case chroma == 1:
		return 2, 2
	case chroma == 2:
		return 2, 1
	}
	return 1, 1
}

// h264 copies seq_parameter_set_data (H.264 7.3.2.1.1) up to frame_cropping_flag.
func (c *spsCopier) h264() (codedW, codedH, unitX, unitY int) {
	profile := c.u(8)
	c.u(16) // constraint flags, level_idc
	c.ue()  // seq_parameter_set_id
	chroma, separate := uint64(1), false
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		if chroma = c.ue(); chroma == 3 {
			separate = c.u(1) == 1
		}
		c.ue() // bit_depth_luma_minus8
		c.ue() // bit_depth_chroma_minus8
		c.u(1) // qpprime_y_zero_transform_bypass_flag
		if c.u(1) == 1 {
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if c.u(1) == 0 {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := int64(8), int64(8)
				for range size {
					if next != 0 {
						next = (last + c.se() + 256) % 256
					}
					if next != 0 {
						last = next
					}
				}
			}
		}
	}
	c.ue() // log2_max_frame_num_minus4
	switch c.ue() {
	case 0:
		c.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		c.u(1)
		c.se()
		c.se()
		for n := c.ue(); n > 0 && c.err == nil; n-- {
			c.se()
		}
	}
	c.ue() // max_num_ref_frames
	c.u(1) // gaps_in_frame_num_value_allowed_flag
	mbW, mapH := int(c.ue())+1, int(c.ue())+1
	frameMBsOnly := int(c.u(1))
	if frameMBsOnly == 0 {
		c.u(1) // mb_adaptive_frame_field_flag
	}
	c.u(1) // direct_8x8_inference_flag
	c.dropWindow()
	unitX, unitY = cropUnits(chroma, separate)
	return 16 * mbW, 16 * mapH * (2 - frameMBsOnly), unitX, unitY * (2 - frameMBsOnly)
}

// h265 copies seq_parameter_set_rbsp (H.265 7.3.2.2.1) up to conformance_window_flag.
func (c *spsCopier) h265() (codedW, codedH, unitX, unitY int) {
	c.u(4) // sps_video_parameter_set_id
	subLayers := int(c.u(3))
	c.u(1) // sps_temporal_id_nesting_flag
	// profile_tier_level(1, sps_max_sub_layers_minus1), 7.3.3: general profile (88 bits) and level.
	c.u(44)
	c.u(44)
	c.u(8)
	present := make([][2]bool, subLayers)
	for i := range present {
		present[i] = [2]bool{c.u(1) == 1, c.u(1) == 1}
	}
	if subLayers > 0 {
		c.u(2 * (8 - subLayers)) // reserved_zero_2bits
	}
	for _, p := range present {
		if p[0] {
			c.u(44)
			c.u(44)
		}
		if p[1] {
			c.u(8)
		}
	}
	c.ue() // sps_seq_parameter_set_id
	chroma, separate := c.ue(), false
	if chroma == 3 {
		separate = c.u(1) == 1
	}
	codedW, codedH = int(c.ue()), int(c.ue())
	c.dropWindow()
	unitX, unitY = cropUnits(chroma, separate)
	return codedW, codedH, unitX, unitY
}

// finish copies the fields after the cropping window up to the rbsp_stop_one_bit, then writes new
// trailing bits: the window's new length moved everything after it.
func (c *spsCopier) finish() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	stop := len(c.in)*8 - 1
	for stop >= 0 && c.in[stop/8]&(0x80>>(stop%8)) == 0 {
		stop--
	}
	if stop < c.pos {
		return nil, fmt.Errorf("no rbsp_stop_one_bit after bit %d", c.pos)
	}
	for c.pos < stop {
		c.u(min(64, stop-c.pos))
	}
	c.out.u(1, 1)
	c.out.u((8-c.out.bit%8)%8, 0)
	return c.out.b, c.err
}

// addEmulationPrevention turns an RBSP into NAL unit payload: an emulation_prevention_three_byte after
// any two zero bytes that a byte <= 3 follows, so no start code appears inside.
func addEmulationPrevention(rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+len(rbsp)/32+1)
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// cropAU returns au with every SPS cropped to w x h (other NAL units shared), and whether it held one.
func cropAU(c media.Codec, au [][]byte, w, h int) ([][]byte, bool, error) {
	out := make([][]byte, len(au))
	found := false
	for i, nalu := range au {
		out[i] = nalu
		if !isSPS(c, nalu) {
			continue
		}
		sps, err := cropSPS(c, nalu, w, h)
		if err != nil {
			return nil, false, err
		}
		out[i], found = sps, true
	}
	return out, found, nil
}

func isSPS(c media.Codec, nalu []byte) bool {
	if len(nalu) == 0 {
		return false
	}
	if c == media.H265 {
		return (nalu[0]>>1)&0x3f == 33
	}
	return h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeSPS
}
