package photo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/internal/shareddata"
)

func evalDir(t testing.TB) string { return shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval") }

func TestDecodeRealFiles(t *testing.T) {
	eval := evalDir(t)
	tests := []struct {
		path   string
		format string
		w, h   int
		model  color.Model // nil: do not check
	}{
		{"faces/face_recognition/tests/test_images/32bit.png", "png", 626, 1200, color.NRGBAModel},
		{"faces/face-api/examples/images/amy/amy1.png", "png", 150, 150, color.GrayModel},
		{"faces/orl_att_faces/s1/1.pgm", "pnm", 92, 112, color.GrayModel},
		{"faces/face_recognition/examples/obama.jpg", "jpeg", 910, 1137, nil},
		{"faces/face-api/examples/images/disgusted.jpg", "jpeg", 612, 430, nil},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(eval, tc.path))
			require.NoError(t, err)
			img, info, err := Decode(data, DefaultLimits())
			require.NoError(t, err)
			assert.Equal(t, tc.format, info.Format, "format")
			assert.Equal(t, tc.w, info.Width, "width")
			assert.Equal(t, tc.h, info.Height, "height")
			if tc.model != nil {
				assert.Equal(t, tc.model, img.ColorModel(), "colour model")
			}
		})
	}
}

// patterned returns a w x h image whose every pixel is distinct, to follow pixels through a transform.
func patterned(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 * x), uint8(10 * y), 7, 255})
		}
	}
	return img
}

func TestOrient(t *testing.T) {
	src := patterned(3, 2) // pixel (x,y) has R=10x, G=10y
	// Where the source pixel (x,y) must land for each orientation, for a 3x2 source.
	land := map[int]func(x, y int) (int, int){
		1: func(x, y int) (int, int) { return x, y },
		2: func(x, y int) (int, int) { return 2 - x, y },
		3: func(x, y int) (int, int) { return 2 - x, 1 - y },
		4: func(x, y int) (int, int) { return x, 1 - y },
		5: func(x, y int) (int, int) { return y, x },
		6: func(x, y int) (int, int) { return 1 - y, x }, // rotate 90 clockwise
		7: func(x, y int) (int, int) { return 1 - y, 2 - x },
		8: func(x, y int) (int, int) { return y, 2 - x }, // rotate 90 counter-clockwise
	}
	for o := 1; o <= 8; o++ {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			out := Orient(src, o)
			wantW, wantH := 3, 2
			if o >= 5 {
				wantW, wantH = 2, 3
			}
			b := out.Bounds()
			require.Equal(t, wantW, b.Dx(), "width of %v", b)
			require.Equal(t, wantH, b.Dy(), "height of %v", b)
			for y := 0; y < 2; y++ {
				for x := 0; x < 3; x++ {
					ox, oy := land[o](x, y)
					r, g, _, _ := out.At(ox, oy).RGBA()
					assert.Equal(t, 10*x, int(r>>8), "source (%d,%d) not at (%d,%d): R", x, y, ox, oy)
					assert.Equal(t, 10*y, int(g>>8), "source (%d,%d) not at (%d,%d): G", x, y, ox, oy)
				}
			}
		})
	}
}

// withOrientation inserts an EXIF APP1 segment carrying orientation o right after the JPEG's SOI.
func withOrientation(t testing.TB, jpg []byte, o int, bo binary.ByteOrder) []byte {
	t.Helper()
	tiff := make([]byte, 8+2+12+4)
	if bo == binary.LittleEndian {
		copy(tiff, "II*\x00")
	} else {
		copy(tiff, "MM\x00*")
	}
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)
	e := tiff[10:]
	bo.PutUint16(e[0:], 0x0112)
	bo.PutUint16(e[2:], 3)
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], uint16(o))
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	app1 = append(app1, seg...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	return append(out, jpg[2:]...)
}

func TestDecodeAppliesEXIFOrientation(t *testing.T) {
	// A 40x20 image, left half black, right half white: after orientation 6 (rotate clockwise) the top
	// half must be black and the bottom half white.
	src := image.NewGray(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 20; x < 40; x++ {
			src.SetGray(x, y, color.Gray{255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}))
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		data := withOrientation(t, buf.Bytes(), 6, bo)
		require.Equal(t, 6, JPEGOrientation(data), "%v: orientation", bo)
		img, info, err := Decode(data, DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, 20, info.Width, "%v: info %+v", bo, info)
		require.Equal(t, 40, info.Height, "%v: info %+v", bo, info)
		require.Equal(t, 6, info.Orientation, "%v: info %+v", bo, info)
		top, _, _, _ := img.At(10, 5).RGBA()
		bottom, _, _, _ := img.At(10, 35).RGBA()
		assert.LessOrEqual(t, top>>8, uint32(30), "%v: not rotated clockwise: top", bo)
		assert.GreaterOrEqual(t, bottom>>8, uint32(225), "%v: not rotated clockwise: bottom", bo)
	}
	assert.Equal(t, 1, JPEGOrientation(buf.Bytes()), "plain JPEG orientation")
}

func TestDecode16BitPNG(t *testing.T) {
	src := image.NewRGBA64(image.Rect(0, 0, 4, 3))
	src.SetRGBA64(1, 1, color.RGBA64{0xFFFF, 0x8000, 0x0000, 0xFFFF})
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, src))
	img, info, err := Decode(buf.Bytes(), DefaultLimits())
	require.NoError(t, err)
	r, g, b, _ := img.At(1, 1).RGBA()
	assert.Equal(t, 4, info.Width, "info %+v", info)
	assert.Equal(t, uint32(0xFF), r>>8, "16-bit pixel's red")
	assert.Equal(t, uint32(0x80), g>>8, "16-bit pixel's green")
	assert.Zero(t, b, "16-bit pixel's blue")
}

// pngClaiming returns a valid 1x1 grey PNG whose header claims w x h: the classic decompression bomb
// shape, a tiny file and a huge canvas.
func pngClaiming(t testing.TB, w, h uint32) []byte { return pngOf(t, onePixel(image.NewGray), w, h) }

func TestDecodeRefuses(t *testing.T) {
	small := Limits{MaxBytes: 1 << 20, MaxPixels: 1_000_000, MaxSide: 4000}
	tests := []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"png bomb", pngClaiming(t, 60000, 60000), ErrTooLarge, "60000x60000"},
		{"png too wide", pngClaiming(t, 5000, 10), ErrTooLarge, "longest side"},
		{"pgm bomb", []byte("P5\n30000 30000\n255\n\x00"), ErrTooLarge, "30000x30000"},
		{"too many bytes", make([]byte, 2<<20), ErrTooLarge, "bytes"},
		{"empty", nil, ErrFormat, "empty"},
		{"garbage", []byte("this is not an image at all"), ErrFormat, ""},
		{"truncated pgm", []byte("P5 10 10 255\n\x01\x02"), ErrFormat, "raster"},
		{"pgm maxval 0", []byte("P5 1 1 0\n\x00"), ErrFormat, "maxval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, _, err := Decode(tc.data, small)
			require.Error(t, err, "accepted")
			require.Nil(t, img, "a picture with the error")
			assert.ErrorIs(t, err, tc.is)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	require.NoError(f, jpeg.Encode(&buf, patterned(8, 6), nil))
	f.Add(buf.Bytes())
	f.Add(withOrientation(f, buf.Bytes(), 8, binary.BigEndian))
	buf.Reset()
	require.NoError(f, png.Encode(&buf, patterned(5, 4)))
	f.Add(buf.Bytes())
	f.Add(pngClaiming(f, 100000, 100000))
	f.Add([]byte("P5\n# comment\n2 2\n255\n\x00\x01\x02\x03"))
	f.Add([]byte("P6 1 1 65535\n\x00\x01\x00\x02\x00\x03"))
	f.Add([]byte("GIF89a"))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, info, err := Decode(data, lim)
		if err != nil {
			return
		}
		b := img.Bounds()
		require.Equal(t, info.Width, b.Dx(), "decoded %v, info %+v", b, info)
		require.Equal(t, info.Height, b.Dy(), "decoded %v, info %+v", b, info)
		require.LessOrEqual(t, b.Dx()*b.Dy(), lim.MaxPixels, "decoded %v", b)
	})
}

func FuzzJPEGOrientation(f *testing.F) {
	var buf bytes.Buffer
	require.NoError(f, jpeg.Encode(&buf, patterned(4, 4), nil))
	for o := 1; o <= 8; o++ {
		f.Add(withOrientation(f, buf.Bytes(), o, binary.LittleEndian))
	}
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		o := JPEGOrientation(data)
		require.GreaterOrEqual(t, o, 1, "orientation")
		require.LessOrEqual(t, o, 8, "orientation")
	})
}
