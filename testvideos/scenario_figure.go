package testvideos

import (
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gocv.io/x/gocv"
)

// Clothing patterns.
const (
	patternPlain   = "plain"
	patternStripes = "stripes"
	patternCheck   = "check"
)

// figure draws one person walking: legs, torso and arms in textured clothes, and on top the real photo's
// head and shoulders. Its buffers are reused from frame to frame; it is not safe for concurrent use.
type figure struct {
	src                *portrait
	top, bottom, shoes [3]float32 // BGR
	skin               [3]float32
	pattern            string
	seed               uint32
	head               *scaledPortrait // the last size drawn: sizes change slowly, so this is nearly always a hit

	w, h  int                 // size of the mask Mats
	masks [numLayers]gocv.Mat // coverage of each layer
	shade [numLayers]gocv.Mat // blurred coverage, for the shaded layers
	small gocv.Mat            // scratch for softBlur

	tex     []float32 // weave noise for the mask region
	texCell float32
}

// The layers of a figure, back to front. Each has its own mask; the clothed ones are shaded from their
// own blurred mask, so an arm in front of the torso keeps its outline although both have one colour.
const (
	layerShadow = iota
	layerLegs
	layerShoes
	layerArms
	layerTorso
	layerHands
	numLayers
)

// pose is where and how a figure stands in one frame.
type pose struct {
	x, y   float64 // the point between the feet, frame pixels
	height float64 // head top to feet
	face   float64 // face box height
	phase  float64 // gait phase, radians
	side   float64 // 0 walking towards or away from the camera .. 1 walking across it
	moving bool
}

// drawn is what a figure covered in one frame, in frame pixels (not clipped to the frame).
type drawn struct {
	box     image.Rectangle // pixels at least half covered by the figure
	covered int             // how many pixels that is, including those outside the frame
	faceBox image.Rectangle // face rounded to whole pixels
	faceCov int             // pixels of faceBox the figure covers at least half (the photo may leave corners out)
	region  image.Rectangle // every pixel the figure may have changed
	face    rectF
	empty   bool // the figure lies entirely outside the frame
}

func newFigure(src *portrait, p *PersonSpec) (*figure, error) {
	h := fnv.New32a()
	h.Write([]byte(p.ID))
	f := &figure{src: src, seed: h.Sum32(), pattern: p.Clothes.Pattern}
	if f.pattern == "" {
		f.pattern = patternPlain
	}
	f.skin = toF32(src.skin)
	switch {
	case p.Clothes.Top != "":
		c, err := parseHexColour(p.Clothes.Top)
		if err != nil {
			return nil, fmt.Errorf("person %s: clothes.top: %w", p.ID, err)
		}
		f.top = c
	case src.ok:
		f.top = toF32(src.top)
	default:
		f.top = paletteColour(f.seed)
	}
	f.bottom = [3]float32{48, 40, 38} // dark trousers unless the spec says otherwise
	if p.Clothes.Bottom != "" {
		c, err := parseHexColour(p.Clothes.Bottom)
		if err != nil {
			return nil, fmt.Errorf("person %s: clothes.bottom: %w", p.ID, err)
		}
		f.bottom = c
	}
	f.shoes = [3]float32{28, 26, 30}
	return f, nil
}

func (f *figure) close() {
	if f.w == 0 {
		return
	}
	for i := range f.masks {
		f.masks[i].Close()
		f.shade[i].Close()
	}
	f.small.Close()
	f.w, f.h = 0, 0
}

// fixed-point precision of polygon vertices handed to OpenCV, so slow motion is smooth, not stepped.
const polyShift = 3

// body proportions in face-box heights (F) and person heights (H); see draw.
const (
	faceTopBelowHead  = 0.3  // hair above the face box
	shoulderBelowFace = 1.45 // face top to shoulder line
	shoulderHalfWidth = 1.2
	legShare          = 0.47 // legs are this share of the height ...
	minTorso          = 1.2  // ... unless that would leave less torso than this
)

// draw composites the figure onto frame (BGR, fw x fh) and reports what it covered. It writes label into
// labels (one byte per frame pixel) wherever it covers a pixel at least half, so after everyone is drawn
// the labels say who is seen where.
func (f *figure) draw(frame []byte, fw, fh int, p pose, labels []byte, label byte) (drawn, error) {
	F, H := p.face, p.height
	faceH := max(8, int(math.Round(F)))
	sw := shoulderHalfWidth * F
	if f.head == nil || f.head.faceH != faceH {
		sp, err := f.src.scaled(faceH, sw*float64(faceH)/F)
		if err != nil {
			return drawn{}, err
		}
		f.head = sp
	}
	yTop := -H
	faceTop := yTop + faceTopBelowHead*F
	yS := faceTop + shoulderBelowFace*F
	yHip := math.Max(-legShare*H, yS+minTorso*F)
	legLen := -yHip

	// The region the masks cover, in frame pixels.
	margin := sw + 0.75*F
	rx := int(math.Floor(p.x - margin))
	ry := int(math.Floor(p.y + yTop - 0.2*F))
	// The size depends on the figure's size only, not on where it stands, so the masks and the weave are
	// reused from frame to frame.
	rw := int(math.Ceil(2*margin)) + 2
	rh := int(math.Ceil(H+0.35*F)) + 2
	// Where the portrait goes: face centred over the feet, face top below the head top.
	hx := int(math.Round(p.x - f.head.face.X - f.head.face.W/2))
	hy := int(math.Round(p.y + faceTop - f.head.face.Y))
	face := rectF{float64(hx) + f.head.face.X, float64(hy) + f.head.face.Y, f.head.face.W, f.head.face.H}
	if rx >= fw || ry >= fh || rx+rw <= 0 || ry+rh <= 0 {
		return drawn{face: face, empty: true}, nil
	}
	f.ensureMasks(rw, rh)

	// Vertex helper: body coordinates (x right of the feet, y up is negative) to mask fixed point.
	ox, oy := p.x-float64(rx), p.y-float64(ry)
	const one = 1 << polyShift
	pt := func(x, y float64) image.Point {
		return image.Pt(int(math.Round((ox+x)*one)), int(math.Round((oy+y)*one)))
	}
	fill := func(m *gocv.Mat, polys ...[]image.Point) {
		// One call per polygon: fillPoly treats several contours as one shape with holes where they overlap.
		for _, poly := range polys {
			pv := gocv.NewPointsVectorFromPoints([][]image.Point{poly})
			gocv.FillPolyWithParams(m, pv, color.RGBA{255, 255, 255, 0}, gocv.LineAA, polyShift, image.Point{})
			pv.Close()
		}
	}
	ellipse := func(m *gocv.Mat, cx, cy, ax, ay float64) {
		c := pt(cx, cy)
		gocv.EllipseWithParams(m, c, image.Pt(int(ax*one), int(ay*one)), 0, 0, 360, color.RGBA{255, 255, 255, 0}, -1, gocv.LineAA, polyShift)
	}

	// Gait: legs swing across the image when walking across it, feet lift when walking towards it.
	s := 0.0
	lift := 0.0
	if p.moving {
		s = math.Sin(p.phase)
		lift = 0.05 * legLen
	}
	legSwing := 0.2 * legLen * p.side * s
	liftL, liftR := lift*math.Max(0, s), lift*math.Max(0, -s)
	m := &f.masks

	// Legs with a gap between them, joined by the hips.
	hipX := 0.36 * F
	footL, footR := -hipX-0.04*F+legSwing, hipX+0.04*F-legSwing
	fill(&m[layerLegs],
		limb(pt, -hipX, yHip, footL, -liftL-0.1*F, 0.3*F, 0.19*F),
		limb(pt, hipX, yHip, footR, -liftR-0.1*F, 0.3*F, 0.19*F),
		[]image.Point{pt(-0.8*F, yHip-0.45*F), pt(0.8*F, yHip-0.45*F), pt(0.72*F, yHip+0.12*F), pt(0.3*F, yHip+0.32*F),
			pt(0, yHip+0.22*F), pt(-0.3*F, yHip+0.32*F), pt(-0.72*F, yHip+0.12*F)},
	)
	ellipse(&m[layerShoes], footL-0.03*F, -liftL-0.09*F, 0.27*F, 0.12*F)
	ellipse(&m[layerShoes], footR+0.03*F, -liftR-0.09*F, 0.27*F, 0.12*F)
	// Torso narrowing from the shoulders to the waist; arms hanging beside it, swinging against the legs.
	fill(&m[layerTorso], []image.Point{
		pt(-0.42*F, yS-0.4*F), pt(-sw+0.3*F, yS-0.15*F), pt(-sw+0.04*F, yS+0.15*F), pt(-sw+0.3*F, yS+0.75*F),
		pt(-0.82*F, yHip+0.05*F), pt(0.82*F, yHip+0.05*F), pt(sw-0.3*F, yS+0.75*F), pt(sw-0.04*F, yS+0.15*F),
		pt(sw-0.3*F, yS-0.15*F), pt(0.42*F, yS-0.4*F),
	})
	armSwing := -0.6 * legSwing
	handY := yHip + 0.3*F
	handL, handR := -sw-0.02*F+armSwing, sw+0.02*F-armSwing
	fill(&m[layerArms],
		limb(pt, -sw+0.24*F, yS+0.1*F, handL, handY, 0.25*F, 0.16*F),
		limb(pt, sw-0.24*F, yS+0.1*F, handR, handY, 0.25*F, 0.16*F),
	)
	ellipse(&m[layerArms], -sw+0.24*F, yS+0.1*F, 0.25*F, 0.25*F) // rounded shoulders
	ellipse(&m[layerArms], sw-0.24*F, yS+0.1*F, 0.25*F, 0.25*F)
	ellipse(&m[layerHands], handL, handY+0.12*F, 0.15*F, 0.22*F)
	ellipse(&m[layerHands], handR, handY+0.12*F, 0.15*F, 0.22*F)
	ellipse(&m[layerShadow], 0, -0.02*F, sw+0.1*F, 0.13*F)

	// Shading from blurred masks: a part is lit in its middle and darker towards its outline, which is
	// what makes a flat polygon read as a rounded body.
	for _, l := range []int{layerLegs, layerArms, layerTorso} {
		f.softBlur(m[l], &f.shade[l], 0.18*F)
	}
	f.softBlur(m[layerShadow], &m[layerShadow], 0.15*F)

	layers, err := f.maskData()
	if err != nil {
		return drawn{}, err
	}
	fb := image.Rect(int(math.Round(face.X)), int(math.Round(face.Y)), int(math.Round(face.X+face.W)), int(math.Round(face.Y+face.H)))
	box, covered, faceCov := f.composite(frame, fw, fh, rx, ry, hx, hy, F, layers, labels, label, fb)
	return drawn{box: box, covered: covered, face: face, faceBox: fb, faceCov: faceCov, region: image.Rect(rx, ry, rx+rw, ry+rh)}, nil
}

// softBlur is a wide Gaussian blur of a mask computed at a quarter of its resolution.
func (f *figure) softBlur(src gocv.Mat, dst *gocv.Mat, sigma float64) {
	small := image.Pt(max(1, f.w/4), max(1, f.h/4))
	gocv.Resize(src, &f.small, small, 0, 0, gocv.InterpolationArea)
	s := math.Max(0.5, sigma/4)
	gocv.GaussianBlur(f.small, &f.small, image.Point{}, s, s, gocv.BorderConstant)
	gocv.Resize(f.small, dst, image.Pt(f.w, f.h), 0, 0, gocv.InterpolationLinear)
}

// limb is a quadrilateral from joint (x0,y0) to (x1,y1) with half-widths w0 and w1.
func limb(pt func(x, y float64) image.Point, x0, y0, x1, y1, w0, w1 float64) []image.Point {
	dx, dy := x1-x0, y1-y0
	n := math.Hypot(dx, dy)
	if n == 0 {
		n = 1
	}
	nx, ny := -dy/n, dx/n
	return []image.Point{
		pt(x0+nx*w0, y0+ny*w0), pt(x1+nx*w1, y1+ny*w1),
		pt(x1-nx*w1, y1-ny*w1), pt(x0-nx*w0, y0-ny*w0),
	}
}

func (f *figure) ensureMasks(w, h int) {
	if f.w != w || f.h != h {
		f.close()
		for i := range f.masks {
			f.masks[i] = gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
			f.shade[i] = gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
		}
		f.small = gocv.NewMat()
		f.w, f.h = w, h
	}
	for i := range f.masks {
		f.masks[i].SetTo(gocv.NewScalar(0, 0, 0, 0))
	}
}

type maskLayers struct{ mask, shade [numLayers][]byte }

func (f *figure) maskData() (maskLayers, error) {
	var l maskLayers
	for i := range f.masks {
		var err error
		if l.mask[i], err = f.masks[i].DataPtrUint8(); err != nil {
			return l, fmt.Errorf("figure mask: %w", err)
		}
		if l.shade[i], err = f.shade[i].DataPtrUint8(); err != nil {
			return l, fmt.Errorf("figure mask: %w", err)
		}
	}
	return l, nil
}

// composite blends the layers over the frame inside the mask region (rx, ry, f.w, f.h) and returns the
// bounding box and the number of the pixels the figure covers at least half, shadow excluded, and how
// many of those lie in faceBox.
func (f *figure) composite(frame []byte, fw, fh, rx, ry, hx, hy int, F float64, l maskLayers, labels []byte, label byte, faceBox image.Rectangle) (image.Rectangle, int, int) {
	head := f.head
	tex := f.weave(float32(math.Max(2, 0.12*F)))
	stripe := math.Max(2, 0.28*F)
	minX, minY, maxX, maxY := math.MaxInt, math.MaxInt, math.MinInt, math.MinInt
	covered, faceCov := 0, 0
	for y := 0; y < f.h; y++ {
		Y := ry + y
		hyRow := Y - hy
		// Light falls from above: clothes darken slightly towards the feet.
		light := float32(1.06 - 0.12*float64(y)/float64(f.h))
		for x := 0; x < f.w; x++ {
			X := rx + x
			i := y*f.w + x
			hxCol := X - hx
			inHead := hyRow >= 0 && hyRow < head.h && hxCol >= 0 && hxCol < head.w && head.alpha[hyRow*head.w+hxCol] != 0
			m := &l.mask
			if !inHead && m[layerShadow][i]|m[layerLegs][i]|m[layerShoes][i]|m[layerArms][i]|m[layerTorso][i]|m[layerHands][i] == 0 {
				continue // most of the region is empty
			}
			inFrame := X >= 0 && X < fw && Y >= 0 && Y < fh
			var c [3]float32
			if inFrame {
				j := (Y*fw + X) * 3
				c = [3]float32{float32(frame[j]), float32(frame[j+1]), float32(frame[j+2])}
			}
			cover := float32(0)
			if a := m[layerShadow][i]; a != 0 && inFrame {
				k := 1 - 0.35*float32(a)/255
				c[0], c[1], c[2] = c[0]*k, c[1]*k, c[2]*k
			}
			if a := m[layerLegs][i]; a != 0 {
				shade := (0.55 + 0.45*float32(l.shade[layerLegs][i])/255) * light * (1 + 0.1*(tex[i]-0.5))
				c, cover = blend(c, f.bottom, shade, float32(a)/255, cover)
			}
			if a := m[layerShoes][i]; a != 0 {
				c, cover = blend(c, f.shoes, 1, float32(a)/255, cover)
			}
			for _, layer := range [2]int{layerArms, layerTorso} {
				if a := m[layer][i]; a != 0 {
					col := f.top
					if f.patterned(x, y, stripe) {
						col = [3]float32{col[0] * 0.55, col[1] * 0.55, col[2] * 0.55}
					}
					shade := (0.5 + 0.5*float32(l.shade[layer][i])/255) * light * (1 + 0.12*(tex[i]-0.5))
					c, cover = blend(c, col, shade, float32(a)/255, cover)
				}
			}
			if a := m[layerHands][i]; a != 0 {
				c, cover = blend(c, f.skin, 0.95, float32(a)/255, cover)
			}
			if inHead {
				k := hyRow*head.w + hxCol
				pc := [3]float32{float32(head.bgr[3*k]), float32(head.bgr[3*k+1]), float32(head.bgr[3*k+2])}
				c, cover = blend(c, pc, 1, float32(head.alpha[k])/255, cover)
			}
			if cover >= 0.5 {
				minX, maxX = min(minX, X), max(maxX, X)
				minY, maxY = min(minY, Y), max(maxY, Y)
				covered++
				if X >= faceBox.Min.X && X < faceBox.Max.X && Y >= faceBox.Min.Y && Y < faceBox.Max.Y {
					faceCov++
				}
				if inFrame {
					labels[Y*fw+X] = label
				}
			}
			if inFrame {
				j := (Y*fw + X) * 3
				frame[j], frame[j+1], frame[j+2] = clampByte(c[0]), clampByte(c[1]), clampByte(c[2])
			}
		}
	}
	if minX > maxX {
		return image.Rectangle{}, 0, 0
	}
	return image.Rect(minX, minY, maxX+1, maxY+1), covered, faceCov
}

// blend puts colour col (times shade) over c with opacity a and accumulates the coverage.
func blend(c, col [3]float32, shade, a, cover float32) ([3]float32, float32) {
	for k := range c {
		c[k] += (col[k]*shade - c[k]) * a
	}
	return c, cover + a*(1-cover)
}

// weave returns smooth value noise in [0, 1] for every pixel of the mask region, fixed to the figure so
// folds and weave move with the person. It is recomputed only when the region's size or the noise scale
// changes, which happens when the person's height changes by a pixel.
func (f *figure) weave(cell float32) []float32 {
	if len(f.tex) == f.w*f.h && f.texCell == cell {
		return f.tex
	}
	f.tex = f.tex[:0]
	for y := 0; y < f.h; y++ {
		for x := 0; x < f.w; x++ {
			fx, fy := float32(x)/cell, float32(y)/cell
			ix, iy := int32(fx), int32(fy)
			tx, ty := fx-float32(ix), fy-float32(iy)
			a := noise2(ix, iy, f.seed)
			b := noise2(ix+1, iy, f.seed)
			c := noise2(ix, iy+1, f.seed)
			d := noise2(ix+1, iy+1, f.seed)
			f.tex = append(f.tex, a+(b-a)*tx+(c-a)*ty+(a-b-c+d)*tx*ty)
		}
	}
	f.texCell = cell
	return f.tex
}

func (f *figure) patterned(x, y int, period float64) bool {
	switch f.pattern {
	case patternStripes:
		return int(float64(y)/period)%2 == 1
	case patternCheck:
		return (int(float64(y)/period)+int(float64(x)/period))%2 == 1
	}
	return false
}

func noise2(x, y int32, seed uint32) float32 {
	h := uint32(x)*0x27d4eb2d ^ uint32(y)*0x165667b1 ^ seed
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	h *= 0x297a2d39
	h ^= h >> 15
	return float32(h&0xffff) / 0xffff
}

func clampByte(v float32) byte {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return byte(v + 0.5)
}

func toF32(c [3]float64) [3]float32 { return [3]float32{float32(c[0]), float32(c[1]), float32(c[2])} }

// paletteColour picks a clothing colour for a person whose photo shows no clothes.
func paletteColour(seed uint32) [3]float32 {
	palette := []string{"#2b3a67", "#6e2632", "#4f5a2e", "#2f5d62", "#7a5c3a", "#4b3b5c", "#8a6d3b", "#3d4f6e"}
	c, _ := parseHexColour(palette[seed%uint32(len(palette))])
	return c
}

// parseHexColour reads "#rrggbb" into BGR.
func parseHexColour(s string) ([3]float32, error) {
	h, ok := strings.CutPrefix(s, "#")
	if !ok || len(h) != 6 {
		return [3]float32{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return [3]float32{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return [3]float32{float32(v & 0xff), float32(v >> 8 & 0xff), float32(v >> 16)}, nil
}
