package detect

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect/infer"
)

// openORT opens ONNX Runtime from where scripts/setup.sh installs it (or $SNOWLIGHT_ONNXRUNTIME). The
// project's setup always installs it, so a missing library fails the test.
func openORT(t testing.TB) infer.Engine {
	t.Helper()
	e, err := infer.OpenONNXRuntime("", 1)
	require.NoError(t, err, "ONNX Runtime's library: run scripts/setup.sh or set %s", infer.LibraryEnv)
	return e
}

// enginePipeline is a pipeline with appearance on, running its models on e.
func enginePipeline(t testing.TB, e infer.Engine) *Pipeline {
	t.Helper()
	cfg := DefaultConfig(modelsDir(t))
	cfg.Engine = e
	p, err := NewPipeline(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// TestEnginesAgree runs the whole pipeline (YOLOX, YuNet, MobileFaceNet, OSNet on every person) on ONNX
// Runtime and on OpenCV over real frames: MOT17 street scenes at 1080p, vtest, and group photos with
// faces large enough to embed. Every detection of one engine must have a partner in the other at IoU
// >= 0.9, and embeddings of partners must agree at cosine >= 0.999. A detection without a partner is
// allowed only when its score is within 0.01 of the threshold, where the engines' last-digit differences
// may decide.
func TestEnginesAgree(t *testing.T) {
	eval := evalDir(t)
	rt, cv := enginePipeline(t, openORT(t)), enginePipeline(t, infer.NewOpenCV())
	require.Equal(t, infer.ONNXRuntime, rt.Engine())
	require.Equal(t, infer.OpenCV, cv.Engine())

	var paths []string
	seqs, _ := filepath.Glob(filepath.Join(eval, "mot", "boxmot_MOT17-mini", "train", "MOT17-*"))
	for _, s := range seqs {
		frames, _ := filepath.Glob(filepath.Join(s, "img1", "*.jpg"))
		require.NotEmpty(t, frames, s)
		paths = append(paths, frames[0])
	}
	paths = append(paths,
		filepath.Join(eval, "faces", "face-api", "test", "images", "faces.jpg"),
		filepath.Join(eval, "faces", "dlib", "examples", "faces", "bald_guys.jpg"),
		filepath.Join(eval, "faces", "dlib", "examples", "faces", "2008_002506.jpg"))
	images := map[string]gocv.Mat{}
	for _, p := range paths {
		images[filepath.Base(filepath.Dir(filepath.Dir(p)))+"/"+filepath.Base(p)] = readImage(t, p)
	}
	for i, m := range readVideoFrames(t, vtestPath(t), 0, 100, 199) {
		images[fmt.Sprintf("vtest/%d", i)] = m.Clone()
	}
	ycfg, fcfg := DefaultYOLOXConfig(), DefaultYuNetConfig()
	var persons, faces, embedded int
	for name, img := range images {
		t.Run(name, func(t *testing.T) {
			defer img.Close()
			a, err := rt.Detect(context.Background(), img, time.Time{})
			require.NoError(t, err)
			b, err := cv.Detect(context.Background(), img, time.Time{})
			require.NoError(t, err)
			persons += agree(t, "person", ycfg.ScoreThreshold, len(a.Persons), len(b.Persons),
				func(i int) (Box, float32, []float32) {
					return a.Persons[i].Box, a.Persons[i].Score, a.Persons[i].Appearance
				},
				func(j int) (Box, float32, []float32) {
					return b.Persons[j].Box, b.Persons[j].Score, b.Persons[j].Appearance
				})
			faces += agree(t, "face", fcfg.ScoreThreshold, len(a.Faces), len(b.Faces),
				func(i int) (Box, float32, []float32) { return a.Faces[i].Box, a.Faces[i].Score, a.Faces[i].Embedding },
				func(j int) (Box, float32, []float32) { return b.Faces[j].Box, b.Faces[j].Score, b.Faces[j].Embedding })
			for _, f := range a.Faces {
				if f.Embedding != nil {
					embedded++
				}
			}
		})
	}
	t.Logf("%d images: %d persons and %d faces (%d embedded) agree", len(images), persons, faces, embedded)
	assert.Greater(t, persons, 100, "the frames hold many people")
	assert.Greater(t, embedded, 10, "faces large enough to embed")
}

// agree pairs detections of the two engines greedily by IoU and checks boxes and embeddings; it returns
// the number of pairs.
func agree(t *testing.T, what string, threshold float32, na, nb int, a, b func(int) (Box, float32, []float32)) int {
	t.Helper()
	used := make([]bool, nb)
	pairs := 0
	for i := 0; i < na; i++ {
		ba, sa, va := a(i)
		best, bj := float32(0), -1
		for j := 0; j < nb; j++ {
			if bb, _, _ := b(j); !used[j] && ba.IoU(bb) > best {
				best, bj = ba.IoU(bb), j
			}
		}
		if bj < 0 || best < 0.9 {
			assert.InDelta(t, threshold, sa, 0.01, "%s %d at %v (score %.3f) has no partner at IoU >= 0.9 (best %.3f)",
				what, i, ba, sa, best)
			continue
		}
		used[bj] = true
		pairs++
		_, sb, vb := b(bj)
		assert.InDelta(t, sa, sb, 0.01, "%s %d score", what, i)
		require.Equal(t, va == nil, vb == nil, "%s %d: embedded by one engine only", what, i)
		if va != nil {
			assert.GreaterOrEqual(t, cosine(va, vb), float32(0.999), "%s %d embedding", what, i)
		}
	}
	for j := 0; j < nb; j++ {
		if bb, sb, _ := b(j); !used[j] {
			assert.InDelta(t, threshold, sb, 0.01, "%s %d of OpenCV at %v (score %.3f) has no partner", what, j, bb, sb)
		}
	}
	return pairs
}

func cosine(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
