package colour

import (
	"fmt"
	"image"
)

// The parts of a person's box (fractions of its height and width) that are read. Upper: below the head
// and neck, above the hips; lower: thighs to ankles, above the feet and the ground. Side margins are left
// out because the box's edges are background more often than clothes (an arm swinging out is the
// exception, and the centre still holds the torso).
type part struct{ top, bottom, left, right float64 }

func upperPart() part { return part{top: 0.18, bottom: 0.50, left: 0.22, right: 0.78} }
func lowerPart() part { return part{top: 0.56, bottom: 0.90, left: 0.24, right: 0.76} }

const (
	// sampleCols x sampleRows is at most how many pixels are read per crop: a grid is enough for shares
	// in percent, and a 1080p crop costs what a small one does.
	sampleCols, sampleRows = 48, 96
	// minPixels below which a region is unknown.
	minPixels = 24
	// garmentSkin: when less than this share of a region is not skin-like, the garment itself is
	// skin-coloured (beige, tan, pink) and every pixel counts.
	garmentSkin = 0.25
)

// Describe names the colours of a person crop (the person's box, whole).
func Describe(img image.Image) Description {
	b := img.Bounds()
	return describe(b.Dx(), b.Dy(), func(x, y int) (uint8, uint8, uint8) {
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)
	})
}

// DescribeBGR names the colours of a person crop given as packed 8-bit BGR rows (what a gocv.Mat of type
// CV_8UC3 holds: Mat.ToBytes, stride = 3 x width for a continuous Mat).
func DescribeBGR(pix []byte, w, h, stride int) (Description, error) {
	if w <= 0 || h <= 0 || stride < 3*w {
		return Description{}, fmt.Errorf("describe colours: bad crop %dx%d, stride %d", w, h, stride)
	}
	if len(pix) < (h-1)*stride+3*w {
		return Description{}, fmt.Errorf("describe colours: %d bytes for a %dx%d crop with stride %d", len(pix), w, h, stride)
	}
	return describe(w, h, func(x, y int) (uint8, uint8, uint8) {
		i := y*stride + 3*x
		return pix[i+2], pix[i+1], pix[i]
	}), nil
}

func describe(w, h int, at func(x, y int) (r, g, b uint8)) Description {
	lv := levelsOf(w, h, at)
	return Description{Upper: region(w, h, upperPart(), lv, at), Lower: region(w, h, lowerPart(), lv, at)}
}

// levels is a contrast stretch, the same for the three channels (so hues stay): haze and a camera's
// lifted blacks make black clothes grey and colours pale, and a dim scene makes everything dark. The
// crop's 2nd and 98th luma percentiles are moved towards 0 and 255, by at most maxLift and maxGain so
// that a night scene is not turned into noise.
type levels struct {
	black int
	gain  int // x 256
}

const (
	maxLift = 60
	maxGain = 2 * 256
)

func levelsOf(w, h int, at func(x, y int) (r, g, b uint8)) levels {
	var hist [256]int
	n := 0
	stepX, stepY := max(1, w/sampleCols), max(1, h/sampleRows)
	for y := 0; y < h; y += stepY {
		for x := 0; x < w; x += stepX {
			hist[luma(at(x, y))]++
			n++
		}
	}
	pct := func(p int) int {
		c := 0
		for v, k := range hist {
			if c += k; c*100 >= p*n {
				return v
			}
		}
		return 255
	}
	lo, hi := min(pct(2), maxLift), pct(98)
	gain := 256
	if hi > lo {
		gain = min(maxGain, max(256, 255*256/(hi-lo)))
	}
	return levels{black: lo, gain: gain}
}

func (l levels) apply(c uint8) uint8 {
	return uint8(min(255, max(0, (int(c)-l.black)*l.gain/256)))
}

// region counts the names of a part's pixels on a sampling grid, skin left out unless the part is
// mostly skin-coloured.
func region(w, h int, p part, lv levels, at func(x, y int) (r, g, b uint8)) Region {
	x0, x1 := int(p.left*float64(w)), int(p.right*float64(w))
	y0, y1 := int(p.top*float64(h)), int(p.bottom*float64(h))
	stepX, stepY := max(1, (x1-x0)/sampleCols), max(1, (y1-y0)/sampleRows)
	var all, cloth [NumNames]int
	var allDark, clothDark, nAll, nCloth int
	for y := y0; y < y1; y += stepY {
		for x := x0; x < x1; x += stepX {
			r, g, b := at(x, y)
			n, dark := classify(r, g, b, lv)
			all[n]++
			nAll++
			if dark {
				allDark++
			}
			if skin(r, g, b) {
				continue
			}
			cloth[n]++
			nCloth++
			if dark {
				clothDark++
			}
		}
	}
	if nAll < minPixels {
		return Region{}
	}
	counts, dark, total := cloth, clothDark, nCloth
	if float64(nCloth) < garmentSkin*float64(nAll) {
		counts, dark, total = all, allDark, nAll
	}
	var r Region
	for i, c := range counts {
		r.Shares[i] = uint8(c * 100 / total)
	}
	r.Dark = uint8(dark * 100 / total)
	return r
}
