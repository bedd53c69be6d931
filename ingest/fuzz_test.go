package ingest

import (
	"context"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/ingest/av"
	"snowlight/media"
	"snowlight/testvideos"
)

// bitWriter writes the Exp-Golomb fields of a hand-made SPS.
type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, v)
}

// hugeSPS is a valid baseline SPS claiming mbW x mbH macroblocks.
func hugeSPS(mbW, mbH uint64) []byte {
	w := &bitWriter{}
	w.u(8, 0x67)
	w.u(8, 66) // profile_idc: baseline
	w.u(8, 0)
	w.u(8, 40) // level
	w.ue(0)    // sps id
	w.ue(0)    // log2_max_frame_num - 4
	w.ue(0)    // pic_order_cnt_type
	w.ue(0)    // log2_max_poc_lsb - 4
	w.ue(1)    // max_num_ref_frames
	w.u(1, 0)  // gaps
	w.ue(mbW - 1)
	w.ue(mbH - 1)
	w.u(1, 1) // frame_mbs_only
	w.u(1, 1) // direct_8x8
	w.u(1, 0) // cropping
	w.u(1, 0) // vui
	w.u(1, 1) // stop bit
	return w.buf
}

// packetize turns access units into RTP packets as a camera would.
func packetize(t testing.TB, aus [][][]byte) []*rtp.Packet {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	enc, err := f.CreateEncoder()
	require.NoError(t, err)
	var out []*rtp.Packet
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		require.NoError(t, err)
		for _, p := range pkts {
			p.Timestamp = uint32(i * 3600)
		}
		out = append(out, pkts...)
	}
	return out
}

// pipeline is the depacketizer and decoder of one session, without the network.
type pipeline struct {
	w   *Worker
	dp  *depacketizer
	dec *frameDecoder
}

func newPipeline(t testing.TB) *pipeline {
	w, err := NewWorker(Config{Camera: "fuzz", URL: "rtsp://127.0.0.1/x", FrameBuffer: 2})
	require.NoError(t, err)
	dp, err := newDepacketizer(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
	require.NoError(t, err)
	dec, err := newFrameDecoder(w, media.H264)
	require.NoError(t, err)
	return &pipeline{w: w, dp: dp, dec: dec}
}

func (p *pipeline) feed(pkt *rtp.Packet) {
	nalus, key, err := p.dp.push(pkt)
	if err != nil {
		return
	}
	p.dec.decode(media.AccessUnit{Camera: "fuzz", PTS: p.dec.w.clock.toDuration(int64(pkt.Timestamp)), NALUs: nalus, Keyframe: key})
	p.drain()
}

func (p *pipeline) drain() int {
	n := 0
	for {
		select {
		case f := <-p.w.frames:
			f.Close()
			n++
		default:
			return n
		}
	}
}

func (p *pipeline) close() {
	p.drain()
	p.dec.dec.Close()
}

// realAUs reads the first n access units of a test video, or nil when test videos are unavailable.
func realAUs(tb testing.TB, n int) [][][]byte {
	paths, err := testvideos.Ensure(context.Background(), testvideos.VTest)
	if err != nil {
		return nil
	}
	d, err := av.OpenFile(paths[testvideos.VTest])
	require.NoError(tb, err)
	defer d.Close()
	var aus [][][]byte
	for len(aus) < n {
		p, err := d.Read()
		if err != nil {
			break
		}
		aus = append(aus, p.AU)
	}
	return aus
}

// An SPS claiming 16384x16384 pixels is refused before the decoder allocates for it; the real stream
// that follows decodes.
func TestAbsurdSPSRefusedThenRealStreamDecodes(t *testing.T) {
	real := realAUs(t, 5)
	if real == nil {
		t.Skip("test videos unavailable")
	}
	p := newPipeline(t)
	defer p.close()
	p.w.clock.newSession(90000)
	bad := [][]byte{hugeSPS(1024, 1024), real[0][1], real[0][len(real[0])-1]}
	for _, pkt := range packetize(t, append([][][]byte{bad}, real...)) {
		p.feed(pkt)
	}
	s := p.w.Status()
	assert.EqualValues(t, 1, s.DecodeErrors, "decode errors: the absurd SPS")
	assert.EqualValues(t, 5, s.FramesDecoded, "frames decoded after the refused SPS")
}

// FuzzDepacketizeDecode feeds arbitrary RTP payloads through the depacketizer and the decoder. The input
// is a sequence of [length byte][payload] records; the marker bit ends each access unit.
func FuzzDepacketizeDecode(f *testing.F) {
	seed := func(pkts []*rtp.Packet) []byte {
		var b []byte
		for _, p := range pkts {
			for off := 0; off < len(p.Payload); off += 255 {
				chunk := p.Payload[off:min(off+255, len(p.Payload))]
				b = append(b, byte(len(chunk)))
				b = append(b, chunk...)
			}
		}
		return b
	}
	if real := realAUs(f, 3); real != nil {
		// Only the small NAL units of the first access units: the corpus entries stay short.
		var small [][][]byte
		for _, au := range real {
			var keep [][]byte
			for _, n := range au {
				if len(n) < 2000 {
					keep = append(keep, n)
				}
			}
			small = append(small, keep)
		}
		f.Add(seed(packetize(f, small)))
	}
	f.Add(seed(packetize(f, [][][]byte{{hugeSPS(1024, 1024), {0x68, 0xce, 0x3c, 0x80}, {0x65, 0x88, 0x84, 0x00}}})))
	f.Add([]byte{3, 0x7c, 0x85, 0xff, 2, 0x7c, 0x45}) // FU-A start and end
	f.Add([]byte{5, 0x78, 0x00, 0x01, 0x67, 0x00})    // STAP-A with a short unit
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newPipeline(t)
		defer p.close()
		p.w.clock.newSession(90000)
		seq := uint16(0)
		for len(data) > 0 {
			n := int(data[0])
			data = data[1:]
			n = min(n, len(data))
			payload := data[:n]
			data = data[n:]
			seq++
			p.feed(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq,
				Timestamp: uint32(seq/4) * 3600, Marker: seq%4 == 0}, Payload: payload})
		}
	})
}
