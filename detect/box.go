// Package detect finds people and faces in decoded frames and says whose face it is when the face belongs to
// someone on a watch list.
//
// It takes BGR gocv.Mats (and wall times where they matter) and never sees RTP or files of video. A
// Pipeline runs motion gate -> person detector -> face detector -> alignment and embedding -> watch-list
// match on one frame and returns a Result of plain, serialisable values. OpenCV networks are not safe for
// concurrent use, so a Pipeline runs one frame at a time; run one Pipeline per worker for parallelism.
package detect

import (
	"image"
	"math"
	"sort"
)

// Box is an axis-aligned rectangle in frame pixels: top-left corner, width and height.
type Box struct {
	X, Y, W, H float32
}

// Point is a position in frame pixels.
type Point struct {
	X, Y float32
}

// Rect returns the integer rectangle covering b.
func (b Box) Rect() image.Rectangle {
	return image.Rect(int(math.Floor(float64(b.X))), int(math.Floor(float64(b.Y))),
		int(math.Ceil(float64(b.X+b.W))), int(math.Ceil(float64(b.Y+b.H))))
}

// BoxFromRect converts an integer rectangle.
func BoxFromRect(r image.Rectangle) Box {
	return Box{float32(r.Min.X), float32(r.Min.Y), float32(r.Dx()), float32(r.Dy())}
}

// Area is W*H, zero for an empty box.
func (b Box) Area() float32 {
	if b.W <= 0 || b.H <= 0 {
		return 0
	}
	return b.W * b.H
}

// Intersect returns the overlap of a and b (zero-sized when they do not overlap).
func (b Box) Intersect(o Box) Box {
	x0, y0 := max(b.X, o.X), max(b.Y, o.Y)
	x1, y1 := min(b.X+b.W, o.X+o.W), min(b.Y+b.H, o.Y+o.H)
	if x1 <= x0 || y1 <= y0 {
		return Box{}
	}
	return Box{x0, y0, x1 - x0, y1 - y0}
}

// IoU is the intersection over union of two boxes.
func (b Box) IoU(o Box) float32 {
	inter := b.Intersect(o).Area()
	if inter == 0 {
		return 0
	}
	return inter / (b.Area() + o.Area() - inter)
}

// Translate moves b by (dx, dy).
func (b Box) Translate(dx, dy float32) Box {
	return Box{b.X + dx, b.Y + dy, b.W, b.H}
}

// Clip limits b to the rectangle [0,w) x [0,h).
func (b Box) Clip(w, h int) Box {
	return b.Intersect(Box{0, 0, float32(w), float32(h)})
}

// nms keeps, in descending score order, the boxes that overlap no kept box by more than iou. It returns the
// indices of the kept boxes.
func nms(boxes []Box, scores []float32, iou float32) []int {
	order := make([]int, len(boxes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	var keep []int
	for _, i := range order {
		ok := true
		for _, k := range keep {
			if boxes[i].IoU(boxes[k]) > iou {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, i)
		}
	}
	return keep
}
