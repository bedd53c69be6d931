package detect

import (
	"context"
	"image"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

func TestYaw(t *testing.T) {
	frontal := arcfaceTemplate
	turned := frontal
	turned[2].X += 0.3 * (frontal[1].X - frontal[0].X) // nose a third of the eye distance aside
	tests := []struct {
		name string
		lm   [5]Point
		want float64
	}{
		{"frontal", frontal, 0.0},
		{"turned", turned, 0.3},
		{"degenerate eyes", [5]Point{{10, 10}, {10, 10}, {12, 20}, {8, 30}, {12, 30}}, math.Inf(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := math.Abs(yaw(tc.lm))
			if math.IsInf(tc.want, 1) {
				assert.True(t, math.IsInf(got, 1))
				return
			}
			assert.InDelta(t, tc.want, got, 0.02)
		})
	}
}

// The parts of Quality on a real face: the full crop against the same face shrunk to 30 px and
// blown up again (what a distant face in video looks like once aligned), and turned landmarks.
func TestFaceQualityOnARealFace(t *testing.T) {
	p := newPipeline(t, false)
	img := readImage(t, filepath.Join(evalDir(t), "faces", "face_recognition", "examples", "obama.jpg"))
	defer img.Close()
	res, err := p.DetectPhoto(context.Background(), img)
	require.NoError(t, err)
	require.Len(t, res.Faces, 1)
	sharp := res.Faces[0]
	t.Logf("photo face %.0f px: quality %s", sharp.Box.H, sharp.Quality)
	assert.Equal(t, float32(1), sharp.Quality.Size)
	assert.Greater(t, sharp.Quality.Sharpness, float32(0.9))
	assert.Greater(t, sharp.Quality.Pose, float32(0.8))

	// Shrink the photo so the face is 30 px tall, then back: same size in pixels, a fraction of the detail.
	s := 30 / float64(sharp.Box.H)
	small, smeared := gocv.NewMat(), gocv.NewMat()
	defer small.Close()
	defer smeared.Close()
	gocv.Resize(img, &small, image.Pt(int(float64(img.Cols())*s), int(float64(img.Rows())*s)), 0, 0, gocv.InterpolationArea)
	gocv.Resize(small, &smeared, image.Pt(img.Cols(), img.Rows()), 0, 0, gocv.InterpolationLinear)
	aligned, err := AlignFace(smeared, sharp.Landmarks)
	require.NoError(t, err)
	defer aligned.Close()
	blurred, err := faceQuality(sharp, aligned)
	require.NoError(t, err)
	t.Logf("same face from 30 px: quality %s", blurred)
	assert.Less(t, blurred.Sharpness, sharp.Quality.Sharpness-0.3)

	turned := sharp
	eye := turned.Landmarks[1].X - turned.Landmarks[0].X
	turned.Landmarks[2].X = (turned.Landmarks[0].X+turned.Landmarks[1].X)/2 + 0.6*eye
	q, err := faceQuality(turned, aligned)
	require.NoError(t, err)
	assert.Less(t, q.Pose, float32(0.3))
	assert.InDelta(t, q.Size*q.Pose*q.Sharpness, q.Value(), 1e-6)
}

// Every labelled photo of the evaluation sets passes the enrolment bar on quality.
func TestLabelledPhotosPassTheQualityBar(t *testing.T) {
	bar := DefaultEnrolmentRules().MinQuality
	lowest := float32(1)
	for _, l := range allLabelled(t) {
		lowest = min(lowest, l.quality.Value())
		assert.GreaterOrEqual(t, l.quality.Value(), bar, "%s: quality %s", l.source, l.quality)
	}
	t.Logf("lowest quality of the %d labelled faces: %.2f (enrolment bar %.2f)", len(allLabelled(t)), lowest, bar)
}
