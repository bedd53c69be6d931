package detect

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// arcfaceTemplate is where the five landmarks sit in a 112x112 aligned face (the ArcFace/InsightFace
// template MobileFaceNet was trained on).
var arcfaceTemplate = [5]Point{
	{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041},
}

// AlignedFaceSize is the side of an aligned face crop.
const AlignedFaceSize = 112

// similarity returns the least-squares similarity transform (rotation, uniform scale, translation) taking
// src onto dst, as the 2x3 matrix [a -b tx; b a ty]. Unlike OpenCV's estimateAffinePartial2D it is
// deterministic (no RANSAC) and uses all five points, which is what the embedder's training alignment did.
func similarity(src, dst [5]Point) [6]float64 {
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += float64(src[i].X)
		msy += float64(src[i].Y)
		mdx += float64(dst[i].X)
		mdy += float64(dst[i].Y)
	}
	n := float64(len(src))
	msx, msy, mdx, mdy = msx/n, msy/n, mdx/n, mdy/n
	var num1, num2, den float64
	for i := range src {
		sx, sy := float64(src[i].X)-msx, float64(src[i].Y)-msy
		dx, dy := float64(dst[i].X)-mdx, float64(dst[i].Y)-mdy
		num1 += sx*dx + sy*dy
		num2 += sx*dy - sy*dx
		den += sx*sx + sy*sy
	}
	if den == 0 {
		return [6]float64{1, 0, mdx - msx, 0, 1, mdy - msy}
	}
	a, b := num1/den, num2/den
	return [6]float64{a, -b, mdx - (a*msx - b*msy), b, a, mdy - (b*msx + a*msy)}
}

// AlignFace warps the face with the given landmarks to the 112x112 ArcFace template. The caller closes the
// returned Mat.
func AlignFace(img gocv.Mat, landmarks [5]Point) (gocv.Mat, error) {
	return warpSimilarity(img, landmarks, arcfaceTemplate, AlignedFaceSize)
}

// warpSimilarity maps the landmarks onto the template positions in a side x side output.
func warpSimilarity(img gocv.Mat, landmarks, template [5]Point, side int) (gocv.Mat, error) {
	for _, p := range landmarks {
		if math.IsNaN(float64(p.X)) || math.IsNaN(float64(p.Y)) || math.IsInf(float64(p.X), 0) ||
			math.IsInf(float64(p.Y), 0) {
			return gocv.Mat{}, fmt.Errorf("align face: landmark %v is not a number", p)
		}
	}
	t := similarity(landmarks, template)
	buf := make([]byte, 6*8)
	for i, v := range t {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	m, err := gocv.NewMatFromBytes(2, 3, gocv.MatTypeCV64F, buf)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("align face: transform matrix: %w", err)
	}
	defer m.Close()
	out := gocv.NewMat()
	gocv.WarpAffineWithParams(img, &out, m, image.Pt(side, side),
		gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{})
	return out, nil
}
