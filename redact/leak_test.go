//go:build matprofile

package redact_test

import (
	"context"
	"image"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/redact"
)

// TestNoMatLeaks: hiding faces and redacting a clip leave no gocv Mat alive. Run with:
// go test -tags matprofile -run TestNoMatLeaks ./redact/
func TestNoMatLeaks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.mp4")
	src := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV8UC3)
	w, err := gocv.VideoWriterFile(in, "avc1", 10, 320, 240, true)
	require.NoError(t, err)
	for range 10 {
		require.NoError(t, w.Write(src))
	}
	require.NoError(t, w.Close())
	src.Close()

	before := gocv.MatProfile.Count()
	img := gocv.IMRead(photos(t)[0], gocv.IMReadColor)
	require.NoError(t, redact.Hide(&img, []image.Rectangle{image.Rect(10, 10, 60, 70), image.Rect(-5, -5, 20, 20)}))
	img.Close()
	boxes := func(context.Context, gocv.Mat, time.Duration) ([]image.Rectangle, error) {
		return []image.Rectangle{image.Rect(100, 100, 150, 160)}, nil
	}
	_, err = redact.Clip(context.Background(), in, filepath.Join(dir, "out.mp4"), boxes)
	require.NoError(t, err)
	assert.Equal(t, before, gocv.MatProfile.Count())
}
