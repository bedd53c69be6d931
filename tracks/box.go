package tracks

import "math"

// Box is an axis-aligned rectangle in image pixels: top-left corner, width and height.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// IoU is the intersection over union of two boxes; 0 when either is empty.
func (b Box) IoU(o Box) float64 {
	ix := min(b.X+b.W, o.X+o.W) - max(b.X, o.X)
	if ix <= 0 {
		return 0
	}
	iy := min(b.Y+b.H, o.Y+o.H) - max(b.Y, o.Y)
	if iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := b.W*b.H + o.W*o.H - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// Center returns the centre point of the box.
func (b Box) Center() (x, y float64) { return b.X + b.W/2, b.Y + b.H/2 }

// Area is W*H.
func (b Box) Area() float64 { return b.W * b.H }

// valid reports whether the box is finite with positive size; the tracker ignores others.
func (b Box) valid() bool {
	for _, v := range [...]float64{b.X, b.Y, b.W, b.H} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return b.W > 0 && b.H > 0
}
