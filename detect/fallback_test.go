package detect

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/models"
)

// TestFallbackWithoutModels runs the product's perception without any models directory: it must work on
// the classical detectors, say so in the log, and refuse recognition clearly.
func TestFallbackWithoutModels(t *testing.T) {
	var logs bytes.Buffer
	cfg := DefaultConfig("")
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	p, err := NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, w := range []string{"no models directory", "face recognition is OFF", "hog", "haarcascade"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log does not say %q:\n%s", w, logs.String())
		}
	}
	if p.Recognition() {
		t.Error("recognition on without models")
	}

	frames := readVideoFrames(t, vtestPath(t), 100)
	res, err := p.Detect(context.Background(), frames[100], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HOG on vtest frame 100: %d persons (YOLOX finds 7)", len(res.Persons))
	if len(res.Persons) < 5 {
		t.Errorf("HOG found %d persons in vtest frame 100", len(res.Persons))
	}

	eval := evalDir(t)
	faces := photoFaces(t, p, filepath.Join(eval, "faces", "face-api", "test", "images", "faces.jpg"))
	truth := []Box{{84, 14, 79, 132}, {234, 36, 84, 119}, {48, 253, 104, 129}, {260, 227, 76, 117},
		{466, 165, 88, 130}, {577, 65, 84, 105}}
	var fb []Box
	for _, f := range faces {
		fb = append(fb, f.Box)
		if f.Embedding != nil || f.Match != nil {
			t.Error("a face was embedded without a recognition model")
		}
	}
	// Cascade boxes are tighter than the listed ones; IoU 0.3 pairs them with the right face.
	tp := matchBoxes(truth, fb, 0.3)
	t.Logf("Haar cascade on faces.jpg: %d of 6 faces, %d detections", tp, len(fb))
	if tp < 4 {
		t.Errorf("cascade found %d of 6 faces", tp)
	}

	data, err := os.ReadFile(filepath.Join(eval, "faces", "face_recognition", "examples", "obama.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.EmbedPhoto(context.Background(), PhotoInput{Name: "obama.jpg", Data: data}, DefaultEnrolmentRules())
	if err == nil || !strings.Contains(err.Error(), "recognition is off") || !strings.Contains(err.Error(), "obama.jpg") {
		t.Errorf("enrolment without models: %v", err)
	}
}

// TestPipelineRefusesBadModels: a models directory with a corrupted file stops the pipeline with the
// file's name, never silently falling back.
func TestPipelineRefusesBadModels(t *testing.T) {
	src := modelsDir(t)
	dir := t.TempDir()
	for _, m := range models.Manifest() {
		data, err := os.ReadFile(filepath.Join(src, m.File))
		if err != nil {
			t.Fatal(err)
		}
		if m.Name == models.FaceEmbedder {
			data = data[:len(data)/2]
		}
		if err := os.WriteFile(filepath.Join(dir, m.File), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := NewPipeline(DefaultConfig(dir))
	if !errors.Is(err, models.ErrMismatch) || !strings.Contains(err.Error(), "face_recognition_mobilefacenet_foamliu.onnx") {
		t.Fatalf("got %v", err)
	}
	os.Remove(filepath.Join(dir, "person_detection_yolox_nano_416.onnx"))
	if _, err := NewPipeline(DefaultConfig(dir)); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("missing file: got %v", err)
	}
}
