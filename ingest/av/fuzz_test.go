package av

import (
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// FuzzDecode feeds arbitrary NAL units to a decoder that has seen a real stream's parameter sets and
// keyframe, then real frames again: no crash, no hang, and the decoder keeps working.
func FuzzDecode(f *testing.F) {
	_, pkts := readAUs(f, encodeVtest(f, "seed.mp4", 5, "-bf", "0", "-vf", "scale=96:72"))
	for _, p := range pkts {
		b, err := h264.AnnexB(p.AU).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(baselineSPS(1<<15, 4))
	f.Fuzz(func(t *testing.T, data []byte) {
		var au h264.AnnexB
		if au.Unmarshal(data) != nil {
			au = h264.AnnexB{data}
		}
		d, err := NewDecoder(DecoderOptions{Codec: H264})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		_ = d.Send(pkts[0].AU, 0)
		_ = d.Send(au, 1)
		for {
			if _, err := d.Receive(); err != nil {
				break
			}
			m, err := d.BGR()
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
		}
		d.Reset()
		if err := d.Send(pkts[0].AU, 2); err != nil {
			t.Fatalf("keyframe after fuzz input: %v", err)
		}
	})
}

// FuzzContainerParsers exercises the Go-side parsers of codec headers and packets.
func FuzzContainerParsers(f *testing.F) {
	f.Add([]byte{1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x4d, 0x40, 0x1e, 1, 0, 2, 0x68, 0xee}, 4)
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68}, 0)
	f.Add(make([]byte, 23), 2)
	f.Fuzz(func(t *testing.T, b []byte, lenSize int) {
		for _, c := range []Codec{H264, H265} {
			_, _, _ = parseExtradata(c, b)
		}
		au, err := splitNALUs(b, lenSize&3)
		if err == nil {
			_ = CheckParamSets(H264, au, DefaultMaxWidth, DefaultMaxHeight)
			_ = CheckParamSets(H265, au, DefaultMaxWidth, DefaultMaxHeight)
			_ = Disposable(H264, au)
		}
	})
}
