package photo

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pngOf encodes a 1x1 picture of img's pixel format and rewrites its header to claim w x h: a valid
// header and the start of a valid compressed stream, so a decoder that trusted it would allocate the
// whole canvas before finding the data short.
func pngOf(t testing.TB, img image.Image, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	data := buf.Bytes()
	ihdr := data[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	binary.BigEndian.PutUint32(data[8+8+13:], crc32.ChecksumIEEE(data[8+4:8+8+13]))
	return data
}

func onePixel[T image.Image](newImg func(image.Rectangle) T) T { return newImg(image.Rect(0, 0, 1, 1)) }

// TestDecodedBytesLimitFromTheHeader: a 7000x7000 16-bit RGBA PNG is 49 megapixels, inside the pixel
// limit, but would decode to 392 MB; it is refused from its header, allocating next to nothing.
func TestDecodedBytesLimitFromTheHeader(t *testing.T) {
	bomb := pngOf(t, onePixel(image.NewNRGBA64), 7000, 7000)
	require.Less(t, len(bomb), 200)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	img, _, err := Decode(bomb, DefaultLimits())
	runtime.ReadMemStats(&after)
	assert.Nil(t, img)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.ErrorContains(t, err, "png image of 7000x7000 at 8 bytes a pixel decodes to 392 MB, limit 200 MB")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated to refuse it")
}

func TestInspectCountsBytesByPixelFormat(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want int64 // decoded bytes; 0: refused
	}{
		{"8-bit grey", pngOf(t, onePixel(image.NewGray), 7000, 7000), 49_000_000},
		{"16-bit grey", pngOf(t, onePixel(image.NewGray16), 7000, 7000), 98_000_000},
		{"8-bit RGBA", pngOf(t, onePixel(image.NewNRGBA), 7000, 7000), 196_000_000},
		{"palette", pngOf(t, image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White}), 7000, 7000), 49_000_000},
		{"16-bit RGBA at the limit", pngOf(t, onePixel(image.NewNRGBA64), 5000, 5000), 200_000_000},
		{"16-bit RGBA past the limit", pngOf(t, onePixel(image.NewNRGBA64), 5001, 5000), 0},
		{"PPM", []byte("P6 7000 7000 65535\n"), 196_000_000},
	} {
		h, err := Inspect(c.data, DefaultLimits())
		if c.want == 0 {
			assert.ErrorIs(t, err, ErrTooLarge, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, h.DecodedBytes, c.name)
		assert.Equal(t, c.want, h.PeakBytes, c.name)
	}

	// An interlaced PNG decodes each pass apart, the largest half the picture.
	interlaced := pngOf(t, onePixel(image.NewGray), 1000, 1000)
	interlaced[8+8+12] = 1
	binary.BigEndian.PutUint32(interlaced[8+8+13:], crc32.ChecksumIEEE(interlaced[8+4:8+8+13]))
	h, err := Inspect(interlaced, DefaultLimits())
	require.NoError(t, err)
	assert.EqualValues(t, 1_500_000, h.PeakBytes)

	// A JPEG to be turned upright takes two more 4-byte copies at its peak.
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, patterned(8, 6), nil))
	h, err = Inspect(withOrientation(t, buf.Bytes(), 6, binary.BigEndian), DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, 6, h.Orientation)
	assert.EqualValues(t, 32*32*3, h.DecodedBytes, "whole blocks")
	assert.EqualValues(t, 32*32*3+8*6*8, h.PeakBytes)
}

// pixBytes is the memory a decoded picture of the standard types holds.
func pixBytes(img image.Image) int64 {
	switch m := img.(type) {
	case *image.Gray:
		return int64(len(m.Pix))
	case *image.Gray16:
		return int64(len(m.Pix))
	case *image.RGBA:
		return int64(len(m.Pix))
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.RGBA64:
		return int64(len(m.Pix))
	case *image.NRGBA64:
		return int64(len(m.Pix))
	case *image.Paletted:
		return int64(len(m.Pix))
	case *image.CMYK:
		return int64(len(m.Pix))
	case *image.YCbCr:
		return int64(len(m.Y) + len(m.Cb) + len(m.Cr))
	}
	return -1
}

// FuzzInspectBoundsDecode: whatever Decode accepts, Inspect accepted first with a size at least what the
// decoded picture holds (before turning it upright), so the limit and the memory budget are never
// under-counted.
func FuzzInspectBoundsDecode(f *testing.F) {
	for _, img := range []image.Image{onePixel(image.NewGray), onePixel(image.NewGray16), onePixel(image.NewNRGBA),
		onePixel(image.NewRGBA64), image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black}), patterned(5, 4)} {
		var buf bytes.Buffer
		require.NoError(f, png.Encode(&buf, img))
		f.Add(buf.Bytes())
	}
	var buf bytes.Buffer
	require.NoError(f, jpeg.Encode(&buf, patterned(8, 6), nil))
	f.Add(buf.Bytes())
	f.Add(withOrientation(f, buf.Bytes(), 6, binary.BigEndian))
	f.Add([]byte("P6 1 1 65535\n\x00\x01\x00\x02\x00\x03"))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, herr := Inspect(data, lim)
		img, info, err := Decode(data, lim)
		if err != nil {
			return
		}
		require.NoError(t, herr)
		require.LessOrEqual(t, h.DecodedBytes, lim.maxDecoded())
		if h.Orientation == 1 {
			if n := pixBytes(img); n >= 0 {
				require.LessOrEqual(t, n, h.DecodedBytes, "%s %+v decoded to %T", h.Format, info, img)
			}
		}
	})
}
