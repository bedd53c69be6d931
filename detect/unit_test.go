package detect

import (
	"fmt"
	"image"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect/infer"
)

func TestBoxIoUAndNMS(t *testing.T) {
	a := Box{0, 0, 10, 10}
	tests := []struct {
		b    Box
		want float32
	}{
		{Box{0, 0, 10, 10}, 1},
		{Box{5, 0, 10, 10}, 50.0 / 150},
		{Box{10, 10, 5, 5}, 0},
		{Box{2, 2, 4, 4}, 16.0 / 100},
		{Box{0, 0, 0, 0}, 0},
	}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, a.IoU(tc.b), 1e-6, "IoU(%v, %v)", a, tc.b)
	}
	boxes := []Box{{0, 0, 10, 10}, {1, 1, 10, 10}, {50, 50, 10, 10}, {0, 0, 10, 11}}
	keep := nms(boxes, []float32{0.5, 0.9, 0.3, 0.1}, 0.45)
	assert.Equal(t, "[1 2]", fmt.Sprint(keep), "what nms kept")
}

func TestSimilarityTransform(t *testing.T) {
	// Landmarks that are the template rotated by 30 degrees, scaled by 2 and shifted must map back
	// exactly onto the template.
	var src [5]Point
	c, s := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
	for i, p := range arcfaceTemplate {
		x, y := float64(p.X), float64(p.Y)
		src[i] = Point{float32(2*(c*x-s*y) + 100), float32(2*(s*x+c*y) + 40)}
	}
	m := similarity(src, arcfaceTemplate)
	for i, p := range src {
		x := m[0]*float64(p.X) + m[1]*float64(p.Y) + m[2]
		y := m[3]*float64(p.X) + m[4]*float64(p.Y) + m[5]
		assert.InDelta(t, float64(arcfaceTemplate[i].X), x, 1e-3, "landmark %d's x", i)
		assert.InDelta(t, float64(arcfaceTemplate[i].Y), y, 1e-3, "landmark %d's y", i)
	}
	_, err := AlignFace(gocv.NewMat(), [5]Point{{float32(math.NaN()), 0}})
	assert.Error(t, err, "NaN landmark accepted")
}

// TestYuNetPriorsFitTheNetwork runs the real network at awkward sizes on both engines: the priors laid
// out in Go must match the number of outputs each produces for every input size.
func TestYuNetPriorsFitTheNetwork(t *testing.T) {
	for _, e := range []infer.Engine{openORT(t), infer.NewOpenCV()} {
		y, err := NewYuNet(e, modelsDir(t), DefaultYuNetConfig())
		require.NoError(t, err)
		defer y.Close()
		for _, sz := range []image.Point{{640, 480}, {641, 481}, {333, 257}, {100, 77}, {1279, 719}, {64, 64}} {
			img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 120, 150, 0), sz.Y, sz.X, gocv.MatTypeCV8UC3)
			faces, err := y.DetectFaces(img)
			img.Close()
			if assert.NoError(t, err, "%s %v", e.Name(), sz) {
				assert.Empty(t, faces, "%s %v: faces in a flat image", e.Name(), sz)
			}
		}
		empty := gocv.NewMat()
		_, err = y.DetectFaces(empty)
		empty.Close()
		assert.Error(t, err, "empty image accepted")
	}
}

func TestDecodeYuNetRejectsMismatchedOutputs(t *testing.T) {
	ps := yunetPriors(160, 120)
	_, err := decodeYuNet(ps, make([]float32, 14), make([]float32, 2), make([]float32, 1), 160, 120, 0.5)
	assert.Error(t, err, "outputs of the wrong length accepted")
	// One prior with a perfect score and zero offsets decodes to the prior's own box.
	loc := make([]float32, 14*len(ps))
	conf := make([]float32, 2*len(ps))
	iou := make([]float32, len(ps))
	conf[1], iou[0] = 1, 1
	faces, err := decodeYuNet(ps, loc, conf, iou, 160, 120, 0.5)
	require.NoError(t, err)
	require.Len(t, faces, 1)
	// First prior: cell (0,0) at stride 8, min size 10: centre (4,4), 10x10.
	f := faces[0]
	assert.Equal(t, Box{-1, -1, 10, 10}, f.Box)
	assert.Equal(t, float32(1), f.Score)
	assert.Equal(t, Point{4, 4}, f.Landmarks[0])
}

func TestRegionOfInterest(t *testing.T) {
	tests := []struct {
		name  string
		boxes []Box
		w, h  int
		want  image.Rectangle
	}{
		{"small box widened to the network input", []Box{{100, 100, 20, 40}}, 1280, 720, image.Rect(0, 0, 416, 416)},
		{"widened around its centre", []Box{{600, 300, 20, 40}}, 1280, 720, image.Rect(402, 112, 818, 528)},
		{"frame smaller than the minimum", []Box{{10, 10, 5, 5}}, 320, 240, image.Rect(0, 0, 320, 240)},
		{"large union kept", []Box{{0, 0, 100, 100}, {700, 500, 100, 100}}, 1280, 720, image.Rect(0, 0, 850, 650)},
		{"pushed inside at the border", []Box{{1250, 690, 20, 20}}, 1280, 720, image.Rect(864, 304, 1280, 720)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, regionOfInterest(tc.boxes, tc.w, tc.h))
		})
	}
}
