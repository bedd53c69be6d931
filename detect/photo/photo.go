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
	_ "image/gif" // registered for image.Decode
	_ "image/jpeg"
	_ "image/png"
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxBytes  int // encoded size
	MaxPixels int // width*height
	MaxSide   int // longest side
}

// DefaultLimits admits photos from any current phone or camera (up to 50 megapixels) and refuses bombs.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 32 << 20, MaxPixels: 50_000_000, MaxSide: 16384}
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

// Decode checks data against lim, decodes it and applies its EXIF orientation.
func Decode(data []byte, lim Limits) (image.Image, Info, error) {
	if len(data) > lim.MaxBytes {
		return nil, Info{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	if len(data) == 0 {
		return nil, Info{}, fmt.Errorf("%w: empty file", ErrFormat)
	}
	if isPNM(data) {
		return decodePNMChecked(data, lim)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, Info{}, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
		return nil, Info{}, err
	}
	img, format2, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, Info{}, fmt.Errorf("decode %s: %w: %v", format, ErrFormat, err)
	}
	// The decoder must produce what the header promised; anything else means a malformed file.
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height || format2 != format {
		return nil, Info{}, fmt.Errorf("decode %s: %w: header says %dx%d, pixels are %dx%d", format, ErrFormat,
			cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	info := Info{Format: format, Orientation: 1}
	if format == "jpeg" {
		info.Orientation = JPEGOrientation(data)
	}
	img = Orient(img, info.Orientation)
	info.Width, info.Height = img.Bounds().Dx(), img.Bounds().Dy()
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
