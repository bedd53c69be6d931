package pipeline

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"

	"snowlight/colour"
	"snowlight/tracks"
)

// frameCrops encodes JPEG crops of one detection from the frame it was found in. The tracker calls it
// only during Update, while the frame is still open, and only when the view beats the track's best.
type frameCrops struct {
	frame   gocv.Mat
	body    tracks.Box
	face    *tracks.Box
	quality int
}

// Margins around the boxes: a face crop a human can judge shows the whole head; a body crop a little
// of what surrounds the person.
const (
	faceMargin = 0.3
	bodyMargin = 0.05
)

func (c frameCrops) BodyJPEG() ([]byte, error) { return c.encode(c.body, bodyMargin) }

// BodyColours names the clothes in the person's box itself (no margin: the background is not worn),
// from the decoded pixels rather than the JPEG, whose chroma is subsampled. A box too small to tell
// gives the zero Description.
func (c frameCrops) BodyColours() colour.Description {
	r := c.rect(c.body, 0)
	if r.Dx() < 2 || r.Dy() < 2 {
		return colour.Description{}
	}
	frame := c.frame
	if !frame.IsContinuous() { // a view into a larger picture: its rows can only be read from a copy
		region := frame.Region(r)
		defer region.Close()
		frame = region.Clone()
		defer frame.Close()
		r = r.Sub(r.Min)
	}
	pix, err := frame.DataPtrUint8()
	if err != nil {
		return colour.Description{}
	}
	// DescribeBGR reads the box in place through the frame's row stride, sampling a grid of it: copying
	// the box out first would move every pixel to read a few of them.
	stride := frame.Step()
	d, err := colour.DescribeBGR(pix[r.Min.Y*stride+3*r.Min.X:], r.Dx(), r.Dy(), stride)
	if err != nil {
		return colour.Description{}
	}
	return d
}

func (c frameCrops) FaceJPEG() ([]byte, error) {
	if c.face == nil {
		return nil, nil
	}
	return c.encode(*c.face, faceMargin)
}

// rect is the box grown by margin (a share of its size on each side), within the frame.
func (c frameCrops) rect(b tracks.Box, margin float64) image.Rectangle {
	return image.Rect(int(b.X-margin*b.W), int(b.Y-margin*b.H), int(b.X+(1+margin)*b.W+0.5), int(b.Y+(1+margin)*b.H+0.5)).
		Intersect(image.Rect(0, 0, c.frame.Cols(), c.frame.Rows()))
}

func (c frameCrops) encode(b tracks.Box, margin float64) ([]byte, error) {
	r := c.rect(b, margin)
	if r.Dx() < 2 || r.Dy() < 2 {
		return nil, fmt.Errorf("crop %v lies outside the %dx%d frame", b, c.frame.Cols(), c.frame.Rows())
	}
	region := c.frame.Region(r)
	defer region.Close()
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, region, []int{gocv.IMWriteJpegQuality, c.quality})
	if err != nil {
		return nil, fmt.Errorf("encode crop: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}
