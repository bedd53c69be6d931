package detect

import (
	"fmt"
	"image"
	"image/color"
	"os"

	"gocv.io/x/gocv"

	"snowlight/detect/photo"
)

// MatFromImage converts any decoded image to the 3-channel BGR Mat the detectors take. Grey images are
// replicated to three channels; transparent pixels are composited over white, so a cut-out portrait on a
// transparent background looks like one on paper. The caller closes the Mat.
func MatFromImage(img image.Image) (gocv.Mat, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return gocv.Mat{}, fmt.Errorf("image to BGR: empty %dx%d image", w, h)
	}
	buf := make([]byte, 3*w*h)
	switch src := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := src.Pix[(y)*src.Stride : y*src.Stride+w]
			for x, v := range row {
				i := 3 * (y*w + x)
				buf[i], buf[i+1], buf[i+2] = v, v, v
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				i := 3 * (y*w + x)
				buf[i], buf[i+1], buf[i+2] = bl, g, r
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA() // premultiplied, 16 bit
				// Over white: c + (1-a)*white, in 16-bit premultiplied space.
				inv := 0xFFFF - a
				i := 3 * (y*w + x)
				buf[i] = uint8((bl + inv) >> 8)
				buf[i+1] = uint8((g + inv) >> 8)
				buf[i+2] = uint8((r + inv) >> 8)
			}
		}
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, buf)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("image to BGR: %w", err)
	}
	// NewMatFromBytes borrows buf; clone so the Mat owns its pixels and buf can be collected.
	owned := m.Clone()
	m.Close()
	return owned, nil
}

// DecodePhoto safely decodes a user's photo (limits, EXIF orientation) into a BGR Mat.
func DecodePhoto(data []byte, lim photo.Limits) (gocv.Mat, photo.Info, error) {
	img, info, err := photo.Decode(data, lim)
	if err != nil {
		return gocv.Mat{}, info, err
	}
	m, err := MatFromImage(img)
	return m, info, err
}

// ReadPhoto reads and decodes a photo file, refusing files larger than the limit before reading them.
func ReadPhoto(path string, lim photo.Limits) (gocv.Mat, photo.Info, error) {
	st, err := os.Stat(path)
	if err != nil {
		return gocv.Mat{}, photo.Info{}, fmt.Errorf("read photo: %w", err)
	}
	if st.Size() > int64(lim.MaxBytes) {
		return gocv.Mat{}, photo.Info{}, fmt.Errorf("read photo %s: %w: %d bytes, limit %d", path,
			photo.ErrTooLarge, st.Size(), lim.MaxBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return gocv.Mat{}, photo.Info{}, fmt.Errorf("read photo: %w", err)
	}
	m, info, err := DecodePhoto(data, lim)
	if err != nil {
		return gocv.Mat{}, info, fmt.Errorf("read photo %s: %w", path, err)
	}
	return m, info, nil
}
