package detect

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"snowlight/models"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFallbackWithoutModels runs the product's perception without any models directory: it must work on
// the classical detectors, say so in the log, and refuse recognition clearly.
func TestFallbackWithoutModels(t *testing.T) {
	var logs bytes.Buffer
	cfg := DefaultConfig("")
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	p, err := NewPipeline(cfg)
	require.NoError(t, err)
	defer p.Close()
	for _, w := range []string{"no models directory", "face recognition is OFF", "hog", "haarcascade"} {
		assert.Contains(t, logs.String(), w, "the log")
	}
	assert.False(t, p.Recognition(), "recognition on without models")

	frames := readVideoFrames(t, vtestPath(t), 100)
	res, err := p.Detect(context.Background(), frames[100], time.Now())
	require.NoError(t, err)
	t.Logf("HOG on vtest frame 100: %d persons (YOLOX finds 7)", len(res.Persons))
	assert.GreaterOrEqual(t, len(res.Persons), 5, "persons HOG found in vtest frame 100")

	eval := evalDir(t)
	faces := photoFaces(t, p, filepath.Join(eval, "faces", "face-api", "test", "images", "faces.jpg"))
	truth := []Box{{84, 14, 79, 132}, {234, 36, 84, 119}, {48, 253, 104, 129}, {260, 227, 76, 117},
		{466, 165, 88, 130}, {577, 65, 84, 105}}
	var fb []Box
	for _, f := range faces {
		fb = append(fb, f.Box)
		assert.Nil(t, f.Embedding, "a face was embedded without a recognition model")
		assert.Nil(t, f.Match, "a face was matched without a recognition model")
	}
	// Cascade boxes are tighter than the listed ones; IoU 0.3 pairs them with the right face.
	tp := matchBoxes(truth, fb, 0.3)
	t.Logf("Haar cascade on faces.jpg: %d of 6 faces, %d detections", tp, len(fb))
	assert.GreaterOrEqual(t, tp, 4, "faces of 6 the cascade found")

	data, err := os.ReadFile(filepath.Join(eval, "faces", "face_recognition", "examples", "obama.jpg"))
	require.NoError(t, err)
	_, _, err = p.EmbedPhoto(context.Background(), PhotoInput{Name: "obama.jpg", Data: data}, DefaultEnrolmentRules())
	assert.ErrorContains(t, err, "recognition is off", "enrolment without models")
	assert.ErrorContains(t, err, "obama.jpg", "enrolment without models")
}

// TestPipelineRefusesBadModels: a models directory with a corrupted file stops the pipeline with the
// file's name, never silently falling back.
func TestPipelineRefusesBadModels(t *testing.T) {
	src := modelsDir(t)
	dir := t.TempDir()
	for _, m := range models.Manifest() {
		data, err := os.ReadFile(filepath.Join(src, m.File))
		require.NoError(t, err)
		if m.Name == models.FaceEmbedder {
			data = data[:len(data)/2]
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, m.File), data, 0o644))
	}
	_, err := NewPipeline(DefaultConfig(dir))
	require.ErrorIs(t, err, models.ErrMismatch)
	require.ErrorContains(t, err, "face_recognition_mobilefacenet_foamliu.onnx")
	os.Remove(filepath.Join(dir, "person_detection_yolox_nano_416.onnx"))
	_, err = NewPipeline(DefaultConfig(dir))
	require.ErrorIs(t, err, models.ErrNotFound, "missing file")
}
