package detect

import (
	"context"
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/internal/shareddata"
	"snowlight/models"
)

func modelsDir(t testing.TB) string { return shareddata.Dir(t, models.EnvDir, "models") }
func evalDir(t testing.TB) string   { return shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval") }

// vtestPath is OpenCV's real pedestrian video (Debian's opencv-doc package).
func vtestPath(t testing.TB) string {
	t.Helper()
	p := "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("vtest.avi not available (install opencv-doc): %v", err)
	}
	return p
}

// newPipeline builds a pipeline on the real models; appearance off unless asked, to keep tests fast.
func newPipeline(t testing.TB, appearance bool) *Pipeline {
	t.Helper()
	cfg := DefaultConfig(modelsDir(t))
	cfg.Appearance = appearance
	p, err := NewPipeline(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// readImage decodes an evaluation image through the product's own safe decoder.
func readImage(t testing.TB, path string) gocv.Mat {
	t.Helper()
	m, _, err := ReadPhoto(path, DefaultEnrolmentRules().Limits)
	require.NoError(t, err)
	return m
}

// photoFaces runs the photo path of the pipeline on an evaluation image.
func photoFaces(t testing.TB, p *Pipeline, path string) []Face {
	t.Helper()
	img := readImage(t, path)
	defer img.Close()
	res, err := p.DetectPhoto(context.Background(), img)
	require.NoError(t, err)
	return res.Faces
}

// leftToRight sorts faces by the centre of their box.
func leftToRight(faces []Face) []Face {
	out := append([]Face(nil), faces...)
	sort.Slice(out, func(a, b int) bool { return out[a].Box.X+out[a].Box.W/2 < out[b].Box.X+out[b].Box.W/2 })
	return out
}

// cropEmbedding embeds a tight face crop (ORL, face-api): detected with the photo path's border retry and
// a lower bar than enrolment, as the peers feed such crops straight to their embedders.
func cropEmbedding(t testing.TB, p *Pipeline, path string) []float32 {
	t.Helper()
	return cropFace(t, p, path).Embedding
}

// cropFace is the one face of a labelled crop or photo, found as enrolment finds it with relaxed rules.
func cropFace(t testing.TB, p *Pipeline, path string) Face {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	rules := DefaultEnrolmentRules()
	rules.MinScore, rules.MinFace, rules.MinQuality = 0.7, 32, 0
	f, err := p.enrolmentFace(context.Background(), PhotoInput{Name: path, Data: data}, rules)
	require.NoError(t, err)
	return f
}

// matchBoxes greedily pairs detections with ground truth at IoU >= minIoU, best overlaps first, and
// returns the number of true positives.
func matchBoxes(truth, found []Box, minIoU float32) int {
	type pair struct {
		t, f int
		iou  float32
	}
	var pairs []pair
	for i, tb := range truth {
		for j, fb := range found {
			if iou := tb.IoU(fb); iou >= minIoU {
				pairs = append(pairs, pair{i, j, iou})
			}
		}
	}
	sort.Slice(pairs, func(a, b int) bool { return pairs[a].iou > pairs[b].iou })
	usedT, usedF := map[int]bool{}, map[int]bool{}
	tp := 0
	for _, pr := range pairs {
		if usedT[pr.t] || usedF[pr.f] {
			continue
		}
		usedT[pr.t], usedF[pr.f] = true, true
		tp++
	}
	return tp
}
