package av

import (
	"fmt"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/media"
)

// fuzzStream is a real stream the decode fuzzer crops to the size its input chooses.
type fuzzStream struct {
	codec  media.Codec
	pkts   []Packet
	unit   int // crop unit in both directions: 2 for 4:2:0, 1 for 4:4:4
	pixFmt string
}

// The fuzzed streams are coded at fuzzW x fuzzH, whole blocks for both codecs, so every crop is known valid.
const fuzzW, fuzzH = 96, 64

// FuzzDecode decodes a real keyframe cropped to a picture size the input chooses (any size up to 96x64,
// odd ones too in 4:4:4), then arbitrary NAL units, then the uncropped keyframe again: no crash, no hang,
// every picture converts to a Mat of its size, and the decoder keeps working.
func FuzzDecode(f *testing.F) {
	streams := []fuzzStream{
		{codec: media.H264, pixFmt: "yuv420p", unit: 2},
		{codec: media.H264, pixFmt: "yuv444p", unit: 1},
		{codec: media.H265, pixFmt: "yuv420p", unit: 2},
		{codec: media.H265, pixFmt: "yuv444p", unit: 1},
	}
	for i := range streams {
		s := &streams[i]
		args := []string{"-bf", "0", "-vf", fmt.Sprintf("scale=%d:%d", fuzzW, fuzzH), "-pix_fmt", s.pixFmt}
		switch {
		case s.codec == media.H265:
			args = append(args, "-c:v", "libx265", "-x265-params", "log-level=error:bframes=0", "-profile:v",
				map[int]string{1: "main444-8", 2: "main"}[s.unit])
		case s.unit == 1:
			args = append(args, "-profile:v", "high444")
		}
		_, s.pkts = readAUs(f, encodeVtest(f, fmt.Sprintf("seed%d.mkv", i), 5, args...))
	}
	for _, p := range streams[0].pkts {
		b, err := h264.AnnexB(p.AU).Marshal()
		require.NoError(f, err)
		f.Add(b, uint8(0), uint16(fuzzW), uint16(fuzzH))
	}
	f.Add(baselineSPS(1<<15, 4), uint8(0), uint16(856), uint16(480))
	for i := range streams {
		f.Add([]byte{}, uint8(i), uint16(56), uint16(34)) // 58x36 in 4:2:0, 57x35 in 4:4:4
		f.Add([]byte{}, uint8(i), uint16(0), uint16(0))   // 2x2, 1x1
	}
	f.Fuzz(func(t *testing.T, data []byte, stream uint8, w, h uint16) {
		s := streams[int(stream)%len(streams)]
		// The picture is (1 + w mod 96) x (1 + h mod 64), rounded up to whole crop units.
		pw := (1 + int(w)%fuzzW + s.unit - 1) / s.unit * s.unit
		ph := (1 + int(h)%fuzzH + s.unit - 1) / s.unit * s.unit
		key, _, err := cropAU(s.codec, s.pkts[0].AU, pw, ph)
		require.NoError(t, err)
		var au h264.AnnexB
		if au.Unmarshal(data) != nil {
			au = h264.AnnexB{data}
		}
		d, err := NewDecoder(DecoderOptions{Codec: s.codec})
		require.NoError(t, err)
		defer d.Close()
		require.NoError(t, d.Send(key, 0))
		pics := convertAll(t, d)
		require.NotEmpty(t, pics, "the cropped keyframe gives a picture")
		assert.Equal(t, [2]int{pw, ph}, [2]int{pics[0].Width, pics[0].Height})
		_ = d.Send(au, 1)
		convertAll(t, d)
		d.Reset()
		require.NoError(t, d.Send(s.pkts[0].AU, 2), "keyframe after fuzz input")
		require.NoError(t, d.Drain())
		pics = convertAll(t, d)
		require.NotEmpty(t, pics, "the keyframe after fuzz input gives a picture")
		assert.Equal(t, [2]int{fuzzW, fuzzH}, [2]int{pics[0].Width, pics[0].Height})
	})
}

// convertAll receives every picture the decoder has ready and converts each to BGR, checking the Mat's size.
func convertAll(t *testing.T, d *Decoder) []PictureInfo {
	t.Helper()
	var pics []PictureInfo
	for {
		pi, err := d.Receive()
		if err != nil {
			return pics
		}
		m, err := d.BGR()
		require.NoError(t, err)
		assert.Equal(t, [2]int{pi.Width, pi.Height}, [2]int{m.Cols(), m.Rows()})
		m.Close()
		pics = append(pics, pi)
	}
}

// FuzzContainerParsers exercises the Go-side parsers of codec headers and packets.
func FuzzContainerParsers(f *testing.F) {
	f.Add([]byte{1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x4d, 0x40, 0x1e, 1, 0, 2, 0x68, 0xee}, 4)
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68}, 0)
	f.Add(make([]byte, 23), 2)
	f.Fuzz(func(t *testing.T, b []byte, lenSize int) {
		for _, c := range []media.Codec{media.H264, media.H265} {
			_, _, _ = parseExtradata(c, b)
		}
		au, err := splitNALUs(b, lenSize&3)
		if err == nil {
			_ = CheckParamSets(media.H264, au, DefaultMaxWidth, DefaultMaxHeight)
			_ = CheckParamSets(media.H265, au, DefaultMaxWidth, DefaultMaxHeight)
			_ = Disposable(media.H264, au)
		}
	})
}
