package camsim

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"snowlight/media"
)

func TestParseStreamFaults(t *testing.T) {
	for _, c := range []struct {
		in, err string
		want    Faults
	}{
		{"no-keyframes=true,pad=100000", "", Faults{NoKeyframes: true, PadBytes: 100000}},
		{"no-keyframes=false", "", Faults{}},
		{"no-keyframes=maybe", "no-keyframes", Faults{}},
		{"pad=-1", "between 0 and", Faults{}},
		{"pad=99999999", "between 0 and", Faults{}},
	} {
		got, err := ParseFaults(c.in)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.in)
			continue
		}
		assert.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
	}
}

func TestFillerNALU(t *testing.T) {
	for _, c := range []struct {
		codec  media.Codec
		header []byte
	}{{media.H264, []byte{12}}, {media.H265, []byte{76, 1}}} {
		b := fillerNALU(c.codec, 10)
		assert.Len(t, b, 10)
		assert.Equal(t, c.header, b[:len(c.header)])
		assert.Equal(t, byte(0xff), b[len(c.header)])
		assert.Equal(t, byte(0x80), b[9], "RBSP stop bit")
	}
}
