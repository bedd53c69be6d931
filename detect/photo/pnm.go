package photo

import (
	"fmt"
	"image"
)

// isPNM reports whether data starts like a binary PGM (P5) or PPM (P6) file.
func isPNM(data []byte) bool {
	return len(data) >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6')
}

// pnmHeader is a binary PGM/PPM header: size, maxval (up to 65535), channels and where the raster
// starts.
type pnmHeader struct {
	w, h, maxval, channels, raster int
}

// parsePNMHeader reads the header.
func parsePNMHeader(data []byte) (pnmHeader, error) {
	ph := pnmHeader{channels: 1}
	if data[1] == '6' {
		ph.channels = 3
	}
	p := 2
	var vals [3]int
	for i := range vals {
		var err error
		vals[i], p, err = pnmInt(data, p)
		if err != nil {
			return ph, fmt.Errorf("decode pnm: %w: header: %v", ErrFormat, err)
		}
	}
	ph.w, ph.h, ph.maxval = vals[0], vals[1], vals[2]
	if ph.maxval < 1 || ph.maxval > 65535 {
		return ph, fmt.Errorf("decode pnm: %w: maxval %d", ErrFormat, ph.maxval)
	}
	// Exactly one whitespace byte separates the header from the raster.
	if p >= len(data) || !isSpace(data[p]) {
		return ph, fmt.Errorf("decode pnm: %w: no raster after the header", ErrFormat)
	}
	ph.raster = p + 1
	return ph, nil
}

// bytesPerSample is 2 for maxval over 255.
func (ph pnmHeader) bytesPerSample() int {
	if ph.maxval > 255 {
		return 2
	}
	return 1
}

// decodePNM decodes the raster of a header parsePNMHeader read and Inspect checked.
func decodePNM(data []byte, ph pnmHeader) (image.Image, error) {
	w, h, maxval, bps := ph.w, ph.h, ph.maxval, ph.bytesPerSample()
	raster := data[ph.raster:]
	if need := w * h * ph.channels * bps; len(raster) < need {
		return nil, fmt.Errorf("decode pnm: %w: raster has %d bytes, %dx%d needs %d", ErrFormat, len(raster), w, h, need)
	}
	sample := func(i int) uint8 {
		var v int
		if bps == 1 {
			v = int(raster[i])
		} else {
			v = int(raster[2*i])<<8 | int(raster[2*i+1])
		}
		if v > maxval {
			v = maxval
		}
		return uint8(v * 255 / maxval)
	}
	if ph.channels == 1 {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = sample(i)
		}
		return g, nil
	}
	rgb := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		rgb.Pix[4*i], rgb.Pix[4*i+1], rgb.Pix[4*i+2], rgb.Pix[4*i+3] = sample(3*i), sample(3*i+1), sample(3*i+2), 255
	}
	return rgb, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// pnmInt reads one decimal header value starting at p, skipping whitespace and # comments.
func pnmInt(data []byte, p int) (int, int, error) {
	for p < len(data) {
		if isSpace(data[p]) {
			p++
		} else if data[p] == '#' {
			for p < len(data) && data[p] != '\n' {
				p++
			}
		} else {
			break
		}
	}
	start, v := p, 0
	for p < len(data) && data[p] >= '0' && data[p] <= '9' {
		v = v*10 + int(data[p]-'0')
		if v > 1<<24 {
			return 0, p, fmt.Errorf("number too large")
		}
		p++
	}
	if p == start {
		return 0, p, fmt.Errorf("expected a number at byte %d", p)
	}
	return v, p, nil
}
