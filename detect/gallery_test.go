package detect

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/watchlist"
)

// A gallery folder with unusable photos among good ones: with skip set each bad photo is named and
// left out, and only a person left without photos fails the load; without skip the first bad photo
// fails it.
func TestGalleryDirSkipsUnusablePhotos(t *testing.T) {
	p := newPipeline(t, false)
	faces := filepath.Join(evalDir(t), "faces")
	dir := t.TempDir()
	put := func(rel, src string) {
		data, err := os.ReadFile(filepath.Join(faces, src))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, rel), data, 0o644))
	}
	put("obama/1.jpg", "face_recognition/examples/obama.jpg")
	put("obama/2.jpg", "face_recognition/examples/obama2.jpg")
	put("obama/dogs.jpg", "dlib/examples/faces/dogs.jpg")
	put("obama/group.jpg", "face_recognition/examples/two_people.jpg")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "obama", "notes.png"), []byte("not a picture"), 0o644))
	ctx := context.Background()

	skipped := map[string]error{}
	ids, err := LoadGalleryDir(ctx, p, dir, watchlist.Missing, DefaultEnrolmentRules(), func(photo string, err error) {
		skipped[filepath.Base(photo)] = err
	})
	require.NoError(t, err)
	require.Len(t, ids, 1)
	assert.Equal(t, "obama", ids[0].Name)
	assert.Len(t, ids[0].Embeddings, 2, "the two usable photos")
	require.Len(t, skipped, 3)
	assert.ErrorIs(t, skipped["dogs.jpg"], ErrNoUsableFace)
	assert.ErrorIs(t, skipped["group.jpg"], ErrSeveralFaces)
	assert.ErrorContains(t, skipped["notes.png"], "notes.png")

	_, err = LoadGalleryDir(ctx, p, dir, watchlist.Missing, DefaultEnrolmentRules(), nil)
	assert.Error(t, err, "strict loading fails on the first bad photo")

	// A person's folder may be a link to one elsewhere.
	require.NoError(t, os.Symlink(filepath.Join(faces, "face_recognition", "examples", "knn_examples", "train", "biden"),
		filepath.Join(dir, "biden")))
	ids, err = LoadGalleryDir(ctx, p, dir, watchlist.Missing, DefaultEnrolmentRules(), func(string, error) {})
	require.NoError(t, err)
	require.Len(t, ids, 2)
	assert.Equal(t, "biden", ids[0].Name)

	put("nobody/dogs.jpg", "dlib/examples/faces/dogs.jpg")
	_, err = LoadGalleryDir(ctx, p, dir, watchlist.Missing, DefaultEnrolmentRules(), func(string, error) {})
	assert.ErrorContains(t, err, filepath.Join(dir, "nobody"))
	assert.ErrorContains(t, err, "none of the 1 photos holds a usable face")
}
