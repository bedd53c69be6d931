package detect

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"snowlight/detect/photo"
	"snowlight/watchlist"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unit(v ...float32) []float32 { return l2normalize(v) }

// TestEnrolmentPhotos enrols from real photos: exactly one usable face per photo, or an error naming it.
func TestEnrolmentPhotos(t *testing.T) {
	p := newPipeline(t, false)
	faces := filepath.Join(evalDir(t), "faces")
	read := func(rel string) PhotoInput {
		data, err := os.ReadFile(filepath.Join(faces, rel))
		require.NoError(t, err)
		return PhotoInput{Name: rel, Data: data}
	}
	ctx := context.Background()
	id, err := p.Enrol(ctx, "Barack Obama", watchlist.Missing, []PhotoInput{
		read("face_recognition/examples/obama.jpg"), read("face_recognition/examples/obama2.jpg")}, DefaultEnrolmentRules())
	require.NoError(t, err)
	require.Len(t, id.Embeddings, 2)
	require.Len(t, id.Photos, 2)
	assert.Equal(t, p.EmbeddingModel(), id.EmbeddingModel)
	assert.NoError(t, id.Validate())
	assert.Equal(t, "face_recognition/examples/obama2.jpg", id.Photos[1].Source)
	assert.Len(t, id.Photos[0].SHA256, 64)
	assert.GreaterOrEqual(t, id.Photos[0].Score, float32(0.9))
	assert.GreaterOrEqual(t, id.Photos[0].Face.H, float32(40), "height of the face")
	assert.GreaterOrEqual(t, watchlist.Cosine(id.Embeddings[0], id.Embeddings[1]), float32(0.6), "similarity of two photos of the same man")
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
			assert.ErrorIs(t, err, tc.is)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	// One bad photo fails the whole enrolment, naming it.
	_, err = p.Enrol(ctx, "Barack Obama", watchlist.Missing, []PhotoInput{read("face_recognition/examples/obama.jpg"),
		read("face_recognition/examples/two_people.jpg")}, DefaultEnrolmentRules())
	assert.ErrorIs(t, err, ErrSeveralFaces, "mixed enrolment")
	assert.ErrorContains(t, err, "two_people.jpg", "mixed enrolment")
}

// tinyPNG is a grey picture of w x h pixels, smaller than any face detector's input.
func tinyPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))))
	return b.Bytes()
}

// Limits is the default photo limits (a helper for table rows).
func Limits() photo.Limits { return photo.DefaultLimits() }
