package av

import (
	"fmt"
	"snowlight/media"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Default picture size limits: 4K cameras fit; a corrupt or hostile SPS claiming more is refused.
const (
	DefaultMaxWidth  = 4096
	DefaultMaxHeight = 4096
)

// CheckParamSets parses every SPS in au and refuses one whose picture exceeds maxW x maxH, before any
// decoder allocates for it. An SPS this parser cannot read is left to libavcodec, which is more complete
// and enforces the same limit (max_pixels) before it allocates.
func CheckParamSets(c media.Codec, au [][]byte, maxW, maxH int) error {
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		var w, h int
		switch c {
		case media.H264:
			if h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeSPS {
				continue
			}
			var sps h264.SPS
			if sps.Unmarshal(nalu) != nil {
				continue
			}
			w, h = sps.Width(), sps.Height()
		case media.H265:
			if len(nalu) < 2 || h265.NALUType((nalu[0]>>1)&0x3f) != h265.NALUType_SPS_NUT {
				continue
			}
			var sps h265.SPS
			if sps.Unmarshal(nalu) != nil {
				continue
			}
			w, h = sps.Width(), sps.Height()
		default:
			return fmt.Errorf("unsupported codec %v", c)
		}
		if w <= 0 || h <= 0 || w > maxW || h > maxH {
			return fmt.Errorf("SPS claims %dx%d, outside 1x1..%dx%d: refused", w, h, maxW, maxH)
		}
	}
	return nil
}

// Disposable reports whether no later picture can reference au, so a sampler that does not want the
// picture may skip decoding it. Only H.264 non-reference pictures qualify: an H.265 "_N" picture can still
// be referenced from a higher temporal sub-layer, and telling the layers apart needs the SPS.
func Disposable(c media.Codec, au [][]byte) bool {
	if c != media.H264 {
		return false
	}
	vcl := false
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		typ := h264.NALUType(nalu[0] & 0x1f)
		if typ < h264.NALUTypeNonIDR || typ > h264.NALUTypeIDR {
			continue
		}
		vcl = true
		if nalu[0]&0x60 != 0 { // nal_ref_idc
			return false
		}
	}
	return vcl
}

// IsKeyframe reports whether au starts a point a decoder can begin at (an IDR picture for H.264; an
// IRAP picture for H.265).
func IsKeyframe(c media.Codec, au [][]byte) bool {
	switch c {
	case media.H264:
		return h264.IsRandomAccess(au)
	case media.H265:
		return h265.IsRandomAccess(au)
	}
	return false
}

// appendAnnexB appends au to dst with a 4-byte start code before each NAL unit.
func appendAnnexB(dst []byte, au [][]byte) []byte {
	for _, nalu := range au {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, nalu...)
	}
	return dst
}
