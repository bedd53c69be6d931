package tamper

import (
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"
)

// Measures are one picture's statistics, taken on its small grey copy.
type Measures struct {
	// Mean is the average grey level (0-255).
	Mean float64 `json:"mean"`
	// Contrast is the standard deviation of the grey levels.
	Contrast float64 `json:"contrast"`
	// Sharpness is the standard deviation of the Laplacian divided by Contrast: edge energy relative
	// to contrast, so dimming or brightening the whole picture leaves it unchanged while blur lowers it.
	Sharpness float64 `json:"sharpness"`
	// Correlation is the normalised cross-correlation of the picture's coarse layout with the
	// camera's reference: 1 for the usual scene, about 0 for an unrelated one or a uniform picture.
	Correlation float64 `json:"correlation"`
}

// shrinker turns a frame into the small grey picture the detector measures: the frame halved, by
// averaging 2x2 blocks, as often as it stays at least width pixels wide. OpenCV averages exact halves
// several times faster than any other reduction (measured: three halvings of a 1280x720 frame cost a
// third of one direct 8x area reduction), and averaging every pixel keeps sensor noise and aliasing
// out of the statistics. Its Mats are reused from frame to frame, so measuring allocates none once
// the frame size is known.
type shrinker struct {
	width   int
	srcSize image.Point // of the frames
	size    image.Point // of the small picture
	levels  []level
	grey    gocv.Mat // 8-bit grey at size
	ready   bool
}

// level is one halving: the part of the previous picture that is halved (even width and height),
// and the result.
type level struct {
	crop image.Rectangle
	out  gocv.Mat
}

func (s *shrinker) close() {
	if !s.ready {
		return
	}
	for _, l := range s.levels {
		l.out.Close()
	}
	s.levels = nil
	s.grey.Close()
	s.ready = false
}

func (s *shrinker) plan(src image.Point) {
	s.close()
	s.srcSize = src
	cur := src
	for cur.X/2 >= s.width && cur.Y/2 >= 1 {
		half := image.Pt(cur.X/2, cur.Y/2)
		s.levels = append(s.levels, level{crop: image.Rect(0, 0, 2*half.X, 2*half.Y), out: gocv.NewMat()})
		cur = half
	}
	s.size = cur
	s.grey = gocv.NewMat()
	s.ready = true
}

// shrink returns the small grey copy of img as bytes, row-major, valid until the next call.
func (s *shrinker) shrink(img gocv.Mat) ([]byte, image.Point, error) {
	if img.Empty() {
		return nil, image.Point{}, fmt.Errorf("empty frame")
	}
	ch := img.Channels()
	if img.Type()&7 != gocv.MatTypeCV8U || (ch != 1 && ch != 3 && ch != 4) {
		return nil, image.Point{}, fmt.Errorf("frame of type %v with %d channels: want 8-bit grey, BGR or BGRA", img.Type(), ch)
	}
	if src := image.Pt(img.Cols(), img.Rows()); src != s.srcSize || !s.ready {
		s.plan(src)
	}
	cur := img
	for i := range s.levels {
		l := &s.levels[i]
		if l.crop.Max == image.Pt(cur.Cols(), cur.Rows()) {
			gocv.Resize(cur, &l.out, l.crop.Size().Div(2), 0, 0, gocv.InterpolationArea)
		} else {
			// An odd last row or column is left out so the halving stays exact.
			in := cur.Region(l.crop)
			gocv.Resize(in, &l.out, l.crop.Size().Div(2), 0, 0, gocv.InterpolationArea)
			in.Close()
		}
		cur = l.out
	}
	switch ch {
	case 1:
		cur.CopyTo(&s.grey)
	case 3:
		gocv.CvtColor(cur, &s.grey, gocv.ColorBGRToGray)
	case 4:
		gocv.CvtColor(cur, &s.grey, gocv.ColorBGRAToGray)
	}
	b, err := s.grey.DataPtrUint8()
	if err != nil {
		return nil, image.Point{}, fmt.Errorf("read small grey frame: %w", err)
	}
	return b, s.size, nil
}

// layoutBlock is the side, in small-picture pixels, of the blocks whose averages form the coarse
// layout that is correlated with the reference: a 160x120 picture gives a 40x30 layout, coarse
// enough that people walking through or a camera shaking by a pixel or two barely change it.
const layoutBlock = 4

// bandRadius is the half-width, in layout cells, of the box mean subtracted from the layout. What is
// left is the scene's structure at the scale of doorways, kerbs and windows: measured on vtest.avi,
// the correlation of this band with the reference is 0.80-0.95 for the usual scene and below 0.3 for
// the same scene shifted by a tenth of its width, rotated by 15 degrees or replaced by another video,
// while the raw layout's correlation stays at 0.6-0.8 for the shifted scene (its broad brightness
// gradient still matches).
const bandRadius = 2

// layoutSize is the size of the layout of a w x h small picture.
func layoutSize(w, h int) (int, int) { return w / layoutBlock, h / layoutBlock }

// stats measures the small grey picture g (w x h) and writes its band-passed layout to band
// (len lw*lh); tmp is scratch of the same length.
func stats(g []byte, w, h int, band, tmp []float64) Measures {
	var sum, sum2 float64
	for _, v := range g {
		f := float64(v)
		sum += f
		sum2 += f * f
	}
	n := float64(len(g))
	m := Measures{Mean: sum / n}
	m.Contrast = math.Sqrt(math.Max(0, sum2/n-m.Mean*m.Mean))

	// 4-neighbour Laplacian over the interior.
	var ls, ls2 float64
	var ln int
	for y := 1; y < h-1; y++ {
		row, up, down := g[y*w:], g[(y-1)*w:], g[(y+1)*w:]
		for x := 1; x < w-1; x++ {
			l := float64(int(up[x]) + int(down[x]) + int(row[x-1]) + int(row[x+1]) - 4*int(row[x]))
			ls += l
			ls2 += l * l
			ln++
		}
	}
	if ln > 0 && m.Contrast > 0 {
		lm := ls / float64(ln)
		m.Sharpness = math.Sqrt(math.Max(0, ls2/float64(ln)-lm*lm)) / math.Max(m.Contrast, 1)
	}

	// Block averages, then minus their local box mean.
	lw, lh := layoutSize(w, h)
	layout := tmp[:lw*lh]
	clear(layout)
	for y := 0; y < lh*layoutBlock; y++ {
		row, out := g[y*w:], layout[(y/layoutBlock)*lw:]
		for x := 0; x < lw*layoutBlock; x++ {
			out[x/layoutBlock] += float64(row[x])
		}
	}
	for i := range layout {
		layout[i] /= layoutBlock * layoutBlock
	}
	for y := 0; y < lh; y++ {
		y0, y1 := max(0, y-bandRadius), min(lh-1, y+bandRadius)
		for x := 0; x < lw; x++ {
			x0, x1 := max(0, x-bandRadius), min(lw-1, x+bandRadius)
			var s float64
			for yy := y0; yy <= y1; yy++ {
				for _, v := range layout[yy*lw+x0 : yy*lw+x1+1] {
					s += v
				}
			}
			band[y*lw+x] = layout[y*lw+x] - s/float64((y1-y0+1)*(x1-x0+1))
		}
	}
	return m
}

// correlation is the Pearson correlation of a and b; 0 when either has (almost) no structure.
func correlation(a, b []float64) float64 {
	n := float64(len(a))
	if n == 0 || len(b) != len(a) {
		return 0
	}
	var sa, sb float64
	for i := range a {
		sa += a[i]
		sb += b[i]
	}
	ma, mb := sa/n, sb/n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	// Structure of less than a tenth of a grey level per cell is quantisation noise, not a scene.
	if saa < 0.01*n || sbb < 0.01*n {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}
