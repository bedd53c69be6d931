package detect

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"snowlight/detect/photo"
	"snowlight/watchlist"
)

func unit(v ...float32) []float32 { return l2normalize(v) }

// TestEnrolmentPhotos enrols from real photos: exactly one usable face per photo, or an error naming it.
func TestEnrolmentPhotos(t *testing.T) {
	p := newPipeline(t, false)
	faces := filepath.Join(evalDir(t), "faces")
	read := func(rel string) PhotoInput {
		data, err := os.ReadFile(filepath.Join(faces, rel))
		if err != nil {
			t.Fatal(err)
		}
		return PhotoInput{Name: rel, Data: data}
	}
	ctx := context.Background()
	id, err := p.Enrol(ctx, "Barack Obama", watchlist.Missing, []PhotoInput{
		read("face_recognition/examples/obama.jpg"), read("face_recognition/examples/obama2.jpg")}, DefaultEnrolmentRules())
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Embeddings) != 2 || len(id.Photos) != 2 || id.EmbeddingModel != p.EmbeddingModel() || id.Validate() != nil ||
		id.Photos[1].Source != "face_recognition/examples/obama2.jpg" || len(id.Photos[0].SHA256) != 64 ||
		id.Photos[0].Score < 0.9 || id.Photos[0].Face.H < 40 {
		t.Errorf("entry %+v (%v)", id, id.Validate())
	}
	if s := watchlist.Cosine(id.Embeddings[0], id.Embeddings[1]); s < 0.6 {
		t.Errorf("two photos of the same man at similarity %.3f", s)
	}
	bomb := Limits()
	bomb.MaxPixels = 1000
	tests := []struct {
		name  string
		photo PhotoInput
		rules EnrolmentRules
		is    error
		want  string
	}{
		{"two people", read("face_recognition/examples/two_people.jpg"), DefaultEnrolmentRules(), ErrSeveralFaces, "two_people.jpg: more than one face: 2 usable faces"},
		{"dogs", read("dlib/examples/faces/dogs.jpg"), DefaultEnrolmentRules(), ErrNoUsableFace, "dogs.jpg: no usable face"},
		{"not an image", PhotoInput{Name: "notes.txt", Data: []byte("hello")}, DefaultEnrolmentRules(), photo.ErrFormat, "notes.txt"},
		{"too small for the detector", PhotoInput{Name: "tiny.png", Data: tinyPNG(t, 24, 24)}, DefaultEnrolmentRules(), ErrNoUsableFace, "tiny.png: no usable face"},
		{"over the pixel limit", read("face_recognition/examples/obama.jpg"), EnrolmentRules{MinFace: 40, MinScore: 0.9, Limits: bomb}, photo.ErrTooLarge, "obama.jpg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.EmbedPhoto(ctx, tc.photo, tc.rules)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %v containing %q", err, tc.is, tc.want)
			}
		})
	}
	// One bad photo fails the whole enrolment, naming it.
	_, err = p.Enrol(ctx, "Barack Obama", watchlist.Missing, []PhotoInput{read("face_recognition/examples/obama.jpg"),
		read("face_recognition/examples/two_people.jpg")}, DefaultEnrolmentRules())
	if !errors.Is(err, ErrSeveralFaces) || !strings.Contains(err.Error(), "two_people.jpg") {
		t.Errorf("mixed enrolment: %v", err)
	}
}

// tinyPNG is a grey picture of w x h pixels, smaller than any face detector's input.
func tinyPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Limits is the default photo limits (a helper for table rows).
func Limits() photo.Limits { return photo.DefaultLimits() }
