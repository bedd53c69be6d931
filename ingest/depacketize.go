package ingest

import (
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"snowlight/ingest/av"
	"snowlight/media"
)

// errNeedMore means the packet did not complete an access unit.
var errNeedMore = errors.New("more packets needed")

// depacketizer turns RTP packets into access units that each stand on their own: keyframes always carry
// the current parameter sets (cameras that send them only in the SDP get them added), so the ring and
// live view can start anywhere a keyframe is.
type depacketizer struct {
	codec  media.Codec
	decode func(*rtp.Packet) ([][]byte, error)
	// vps is H.265 only.
	vps, sps, pps []byte
}

func newDepacketizer(f format.Format) (*depacketizer, error) {
	switch f := f.(type) {
	case *format.H264:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("create H.264 depacketizer: %w", err)
		}
		sps, pps := f.SafeParams()
		return &depacketizer{codec: media.H264, decode: dec.Decode, sps: clone(sps), pps: clone(pps)}, nil
	case *format.H265:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("create H.265 depacketizer: %w", err)
		}
		vps, sps, pps := f.SafeParams()
		return &depacketizer{codec: media.H265, decode: dec.Decode, vps: clone(vps), sps: clone(sps), pps: clone(pps)}, nil
	}
	return nil, fmt.Errorf("unsupported video format %s", f.Codec())
}

// push takes one RTP packet and returns a complete access unit (in memory of its own) when the packet
// ends one.
func (d *depacketizer) push(pkt *rtp.Packet) (nalus [][]byte, keyframe bool, err error) {
	au, err := d.decode(pkt)
	if err != nil {
		if errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrMorePacketsNeeded) ||
			errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) ||
			errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) {
			return nil, false, errNeedMore
		}
		return nil, false, err
	}
	return d.complete(au)
}

// complete records in-band parameter sets, adds missing ones to keyframes and copies the access unit out
// of the RTP packets' buffers.
func (d *depacketizer) complete(au [][]byte) ([][]byte, bool, error) {
	au = dropEmpty(au)
	if len(au) == 0 {
		return nil, false, errNeedMore
	}
	d.scanParams(au)
	key := av.IsKeyframe(d.codec, au)
	if key {
		au = d.withParams(au)
	}
	return copyAU(au), key, nil
}

// scanParams stores the parameter sets au carries.
func (d *depacketizer) scanParams(au [][]byte) {
	for _, n := range au {
		switch d.paramType(n) {
		case 'v':
			d.vps = clone(n)
		case 's':
			d.sps = clone(n)
		case 'p':
			d.pps = clone(n)
		}
	}
}

// withParams prepends the known parameter sets of every kind au does not carry itself.
func (d *depacketizer) withParams(au [][]byte) [][]byte {
	present := map[byte]bool{}
	for _, n := range au {
		present[d.paramType(n)] = true
	}
	var missing [][]byte
	for _, ps := range []struct {
		typ byte
		b   []byte
	}{{'v', d.vps}, {'s', d.sps}, {'p', d.pps}} {
		if len(ps.b) > 0 && !present[ps.typ] {
			missing = append(missing, ps.b)
		}
	}
	if len(missing) == 0 {
		return au
	}
	return append(missing, au...)
}

// paramType classifies a NAL unit as 'v'(PS), 's'(PS), 'p'(PS) or 0.
func (d *depacketizer) paramType(n []byte) byte {
	if len(n) == 0 {
		return 0
	}
	if d.codec == media.H264 {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			return 's'
		case h264.NALUTypePPS:
			return 'p'
		}
		return 0
	}
	switch h265.NALUType((n[0] >> 1) & 0x3f) {
	case h265.NALUType_VPS_NUT:
		return 'v'
	case h265.NALUType_SPS_NUT:
		return 's'
	case h265.NALUType_PPS_NUT:
		return 'p'
	}
	return 0
}

// params are the known parameter sets in decoding order.
func (d *depacketizer) params() [][]byte {
	var ps [][]byte
	for _, p := range [][]byte{d.vps, d.sps, d.pps} {
		if len(p) > 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

func dropEmpty(au [][]byte) [][]byte {
	out := au[:0:0]
	for _, n := range au {
		if len(n) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// copyAU copies an access unit into one allocation, so the ring holds no RTP packet buffers alive.
func copyAU(au [][]byte) [][]byte {
	size := 0
	for _, n := range au {
		size += len(n)
	}
	buf := make([]byte, 0, size)
	out := make([][]byte, len(au))
	for i, n := range au {
		start := len(buf)
		buf = append(buf, n...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// pictureSize reads the picture size from the SPS in au.
func pictureSize(c media.Codec, au [][]byte) (w, h int, ok bool) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch c {
		case media.H264:
			if h264.NALUType(n[0]&0x1f) != h264.NALUTypeSPS {
				continue
			}
			var sps h264.SPS
			if sps.Unmarshal(n) == nil {
				return sps.Width(), sps.Height(), true
			}
		case media.H265:
			if h265.NALUType((n[0]>>1)&0x3f) != h265.NALUType_SPS_NUT {
				continue
			}
			var sps h265.SPS
			if sps.Unmarshal(n) == nil {
				return sps.Width(), sps.Height(), true
			}
		}
	}
	return 0, 0, false
}
