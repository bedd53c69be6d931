// Package photo decodes images that come from users (enrolment photos, uploads) without trusting them:
// byte and pixel limits are checked from the header before any pixel is decoded, so a small file that
// claims to be a gigapixel image (a decompression bomb) is refused with a clear error, and the result is
// upright (EXIF orientation applied) whatever the camera's sensor orientation was.
//
// Supported: JPEG (baseline and progressive, EXIF orientation), PNG (grey, RGB, RGBA, palette, 8 and 16
// bit), GIF (first frame) and binary PGM/PPM (the ORL face set).
package photo

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registered for image.Decode
	_ "image/jpeg"
	_ "image/png"
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxBytes  int // encoded size
	MaxPixels int // width*height
	MaxSide   int // longest side
	// MaxDecodedBytes bounds the memory the decoded picture takes, which depends on its pixel format
	// as well as its size (a 16-bit RGBA PNG takes 8 bytes a pixel); 0 means MaxPixels*4, every admitted
	// picture at 8 bits a channel.
	MaxDecodedBytes int64
}

// DefaultLimits admits photos from any current phone or camera (up to 50 megapixels at 8 bits a
// channel, 25 at 16) and refuses bombs.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 32 << 20, MaxPixels: 50_000_000, MaxSide: 16384, MaxDecodedBytes: 200_000_000}
}

func (l Limits) maxDecoded() int64 {
	if l.MaxDecodedBytes > 0 {
		return l.MaxDecodedBytes
	}
	return int64(l.MaxPixels) * 4
}

// ErrTooLarge is wrapped by Decode when a limit is exceeded.
var ErrTooLarge = errors.New("image exceeds the size limits")

// ErrFormat is wrapped by Decode when the bytes are not an image of a supported format.
var ErrFormat = errors.New("not a supported image")

// Info describes a decoded photo.
type Info struct {
	Format        string // "jpeg", "png", "gif", "pnm"
	Width, Height int    // after orientation
	Orientation   int    // EXIF orientation that was applied, 1 when none
}

// Header is what a photo's header says, checked against the limits before any pixel is decoded.
type Header struct {
	Format        string
	Width, Height int // as stored, before orientation
	Orientation   int // EXIF orientation to apply, 1 when none
	// DecodedBytes is the memory the decoded picture takes; PeakBytes is what Decode takes at most, with
	// the copies made to turn the picture upright.
	DecodedBytes, PeakBytes int64
}

// Inspect reads data's header and checks it against lim: encoded size, format, sides, pixels and the
// memory the decoded picture would take, which it reports. It decodes no pixels, so callers can refuse
// a photo, or wait until there is memory for it, before paying for it.
func Inspect(data []byte, lim Limits) (Header, error) {
	if len(data) > lim.MaxBytes {
		return Header{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	if len(data) == 0 {
		return Header{}, fmt.Errorf("%w: empty file", ErrFormat)
	}
	var h Header
	var bpp int64
	if isPNM(data) {
		ph, err := parsePNMHeader(data)
		if err != nil {
			return Header{}, err
		}
		h = Header{Format: "pnm", Width: ph.w, Height: ph.h}
		bpp = map[int]int64{1: 1, 3: 4}[ph.channels] // decoded to Gray or NRGBA
	} else {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return Header{}, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		h = Header{Format: format, Width: cfg.Width, Height: cfg.Height}
		bpp = bytesPerPixel(format, cfg.ColorModel)
	}
	if err := checkSize(h.Width, h.Height, lim); err != nil {
		return Header{}, err
	}
	px := int64(h.Width) * int64(h.Height)
	h.DecodedBytes = px * bpp
	if h.Format == "jpeg" {
		// The JPEG decoder allocates whole blocks: up to 32x32 pixels with the largest sampling factors.
		pad := func(n int) int64 { return int64(n+31) / 32 * 32 }
		h.DecodedBytes = pad(h.Width) * pad(h.Height) * bpp
	}
	if h.DecodedBytes > lim.maxDecoded() {
		return Header{}, fmt.Errorf("%w: %s image of %dx%d at %d bytes a pixel decodes to %d MB, limit %d MB (refusing to decode)",
			ErrTooLarge, h.Format, h.Width, h.Height, bpp, h.DecodedBytes/1e6, lim.maxDecoded()/1e6)
	}
	h.Orientation = 1
	if h.Format == "jpeg" {
		h.Orientation = JPEGOrientation(data)
	}
	h.PeakBytes = h.DecodedBytes
	if h.Format == "png" && len(data) > 28 && data[28] == 1 {
		h.PeakBytes += h.DecodedBytes / 2 // Adam7: each pass is decoded apart, the largest half the picture
	}
	if h.Orientation > 1 {
		h.PeakBytes += 8 * px // Orient's two NRGBA copies
	}
	return h, nil
}

// bytesPerPixel is what the standard decoders allocate a pixel for a header's format and colour model,
// erring high: YCbCr is counted as 4:4:4, a CMYK JPEG with the planes it is converted from, a model it
// does not know as 16-bit RGBA.
func bytesPerPixel(format string, m color.Model) int64 {
	if _, ok := m.(color.Palette); ok { // before ==: a Palette is a slice, not comparable
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.CMYKModel:
		if format == "jpeg" {
			return 8
		}
		return 4
	case color.RGBAModel, color.NRGBAModel, color.NYCbCrAModel:
		return 4
	}
	return 8
}

// Decode checks data against lim (see Inspect), decodes it and applies its EXIF orientation.
func Decode(data []byte, lim Limits) (image.Image, Info, error) {
	h, err := Inspect(data, lim)
	if err != nil {
		return nil, Info{}, err
	}
	var img image.Image
	if h.Format == "pnm" {
		ph, _ := parsePNMHeader(data) // Inspect parsed it
		if img, err = decodePNM(data, ph); err != nil {
			return nil, Info{}, err
		}
	} else {
		var format string
		img, format, err = image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, Info{}, fmt.Errorf("decode %s: %w: %v", h.Format, ErrFormat, err)
		}
		// The decoder must produce what the header promised; anything else means a malformed file.
		if b := img.Bounds(); b.Dx() != h.Width || b.Dy() != h.Height || format != h.Format {
			return nil, Info{}, fmt.Errorf("decode %s: %w: header says %dx%d, pixels are %dx%d", h.Format, ErrFormat,
				h.Width, h.Height, b.Dx(), b.Dy())
		}
	}
	img = Orient(img, h.Orientation)
	info := Info{Format: h.Format, Orientation: h.Orientation, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
	return img, info, nil
}

func checkSize(w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image is %dx%d", ErrFormat, w, h)
	}
	if w > lim.MaxSide || h > lim.MaxSide {
		return fmt.Errorf("%w: image is %dx%d, longest side allowed is %d (refusing to decode)",
			ErrTooLarge, w, h, lim.MaxSide)
	}
	if int64(w)*int64(h) > int64(lim.MaxPixels) {
		return fmt.Errorf("%w: image is %dx%d = %.1f megapixels, limit %.1f (refusing to decode: a "+
			"decompression bomb or an unreasonably large photo)", ErrTooLarge, w, h,
			float64(w)*float64(h)/1e6, float64(lim.MaxPixels)/1e6)
	}
	return nil
}
