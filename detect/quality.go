package detect

import (
	"fmt"
	"math"

	"gocv.io/x/gocv"
)

// Quality rates how far a face can be trusted for recognition. Each part runs from 0 (useless) to 1
// (as good as an enrolment photo); Value multiplies them. On real video a face's similarity to its own
// enrolment falls with all three (docs/ACCURACY.md), so identity evidence weighs each frame by Value
// and enrolment refuses photos below a bar.
type Quality struct {
	// Size grows from 0 at 24 px of face height to 1 at 64 px and above.
	Size float32 `json:"size"`
	// Pose is 1 for a frontal face and falls to 0 as the head turns towards profile: the nose's
	// offset from the middle of the eyes along the line through them, in eye distances, reaches
	// 0.8 (landmarks are unreliable beyond).
	Pose float32 `json:"pose"`
	// Sharpness grows with the variance of the Laplacian of the aligned 112x112 grey face, on a log
	// scale from 5 (a smear: an upscaled 30 px face or strong motion blur) to 200 (a sharp photo).
	Sharpness float32 `json:"sharpness"`
}

// Value is the product of the parts, in [0, 1].
func (q Quality) Value() float32 { return q.Size * q.Pose * q.Sharpness }

// String shows the value and its parts, for messages.
func (q Quality) String() string {
	return fmt.Sprintf("%.2f (size %.2f, pose %.2f, sharpness %.2f)", q.Value(), q.Size, q.Pose, q.Sharpness)
}

// The scales of the quality parts (see Quality).
const (
	qualityMinSize, qualityFullSize = 24, 64
	qualityProfileYaw               = 0.8
	qualityBlurVar, qualitySharpVar = 5, 200
)

func unitClamp(v float64) float32 { return float32(max(0, min(1, v))) }

// faceQuality rates a face from its box, its landmarks and its aligned crop.
func faceQuality(f Face, aligned gocv.Mat) (Quality, error) {
	sharp, err := laplacianVariance(aligned)
	if err != nil {
		return Quality{}, err
	}
	return Quality{
		Size:      unitClamp((float64(f.Box.H) - qualityMinSize) / (qualityFullSize - qualityMinSize)),
		Pose:      unitClamp(1 - math.Abs(yaw(f.Landmarks))/qualityProfileYaw),
		Sharpness: unitClamp(math.Log(sharp/qualityBlurVar) / math.Log(qualitySharpVar/qualityBlurVar)),
	}, nil
}

// yaw is how far the nose sits from the middle of the eyes along the line through them, in eye
// distances: 0 for a frontal face, growing as the head turns. Degenerate landmarks (eyes on top of
// each other) count as a full profile.
func yaw(lm [5]Point) float64 {
	ex, ey := float64(lm[1].X-lm[0].X), float64(lm[1].Y-lm[0].Y)
	d2 := ex*ex + ey*ey
	if !(d2 > 1e-6) {
		return math.Inf(1)
	}
	mx, my := float64(lm[0].X+lm[1].X)/2, float64(lm[0].Y+lm[1].Y)/2
	return ((float64(lm[2].X)-mx)*ex + (float64(lm[2].Y)-my)*ey) / d2
}

// laplacianVariance measures the fine detail of a BGR image: the variance of its grey Laplacian.
func laplacianVariance(img gocv.Mat) (float64, error) {
	if img.Empty() || img.Channels() != 3 {
		return 0, fmt.Errorf("face sharpness: need a non-empty BGR crop, got %d channels", img.Channels())
	}
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(img, &grey, gocv.ColorBGRToGray)
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(grey, &lap, gocv.MatTypeCV64F, 1, 1, 0, gocv.BorderDefault)
	mean, dev := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer dev.Close()
	gocv.MeanStdDev(lap, &mean, &dev)
	sd := dev.GetDoubleAt(0, 0)
	return sd * sd, nil
}

// embedRated aligns f in img, rates it and embeds it.
func (e *Embedder) embedRated(img gocv.Mat, f Face) ([]float32, Quality, error) {
	aligned, err := alignFace(img, f)
	if err != nil {
		return nil, Quality{}, err
	}
	defer aligned.Close()
	q, err := faceQuality(f, aligned)
	if err != nil {
		return nil, Quality{}, err
	}
	v, err := e.Embed(aligned)
	return v, q, err
}
