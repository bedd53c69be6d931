package redact_test

import (
	"context"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect"
	"snowlight/ingest/av"
	"snowlight/internal/shareddata"
	"snowlight/media"
	"snowlight/redact"
)

func photos(t *testing.T) []string {
	dir := filepath.Join(shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval"), "faces", "face-api", "examples", "images")
	var out []string
	for i := 1; i <= 5; i++ {
		out = append(out, filepath.Join(dir, fmt.Sprintf("bbt%d.jpg", i)))
	}
	return out
}

// detectors are the faces the export hides (the product's YuNet settings) and a more eager one that
// checks them: lower score threshold, no second opinion, so a face left half-recognisable is found.
func detectors(t *testing.T) (product, eager *detect.YuNet) {
	models := shareddata.Dir(t, "SNOWLIGHT_MODELS", "models")
	product, err := detect.NewYuNet(nil, models, detect.DefaultYuNetConfig())
	require.NoError(t, err)
	t.Cleanup(func() { product.Close() })
	cfg := detect.DefaultYuNetConfig()
	cfg.ScoreThreshold, cfg.VerifyBelow = 0.5, 0
	eager, err = detect.NewYuNet(nil, models, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { eager.Close() })
	return product, eager
}

func rects(faces []detect.Face) []image.Rectangle {
	out := make([]image.Rectangle, len(faces))
	for i, f := range faces {
		out[i] = f.Box.Rect()
	}
	return out
}

func grown(r image.Rectangle) image.Rectangle {
	mx, my := int(redact.Margin*float64(r.Dx())+1), int(redact.Margin*float64(r.Dy())+1)
	return image.Rect(r.Min.X-mx, r.Min.Y-my, r.Max.X+mx, r.Max.Y+my)
}

// TestHideBystanders: in the Big Bang Theory group photos, keeping one person's face and hiding the
// others leaves the kept face found where it was and no face found by the eager detector in any hidden
// region; pixels away from the hidden faces are untouched.
func TestHideBystanders(t *testing.T) {
	product, eager := detectors(t)
	checked := 0
	for _, p := range photos(t) {
		img := gocv.IMRead(p, gocv.IMReadColor)
		require.False(t, img.Empty(), p)
		orig := img.Clone()
		faces, err := product.DetectFaces(img)
		require.NoError(t, err)
		if len(faces) < 2 {
			img.Close()
			orig.Close()
			continue
		}
		all := rects(faces)
		keep := all[:1]
		hide := redact.Faces(all, keep)
		require.Len(t, hide, len(all)-1, p)
		require.NoError(t, redact.Hide(&img, hide))

		after, err := eager.DetectFaces(img)
		require.NoError(t, err)
		foundKept := false
		for _, f := range after {
			c := image.Pt(int(f.Box.X+f.Box.W/2), int(f.Box.Y+f.Box.H/2))
			for _, h := range hide {
				assert.False(t, c.In(grown(h)), "%s: a face (score %.2f) found at %v in a hidden region %v", p, f.Score, f.Box.Rect(), h)
			}
			foundKept = foundKept || c.In(keep[0])
		}
		assert.True(t, foundKept, "%s: the subject's face is still found", p)

		// Nothing changed outside the hidden (grown) faces: a row well below every face.
		lowest := 0
		for _, h := range hide {
			lowest = max(lowest, grown(h).Max.Y)
		}
		if lowest+2 < img.Rows() {
			row, origRow := img.RowRange(lowest+1, img.Rows()), orig.RowRange(lowest+1, img.Rows())
			diff := gocv.NewMat()
			gocv.AbsDiff(row, origRow, &diff)
			assert.Equal(t, 0, gocv.CountNonZero(diff.Reshape(1, 0)), "%s: pixels below the faces changed", p)
			diff.Close()
			row.Close()
			origRow.Close()
		}
		t.Logf("%s: %d faces, %d hidden, %d found after", filepath.Base(p), len(all), len(hide), len(after))
		checked++
		img.Close()
		orig.Close()
	}
	assert.GreaterOrEqual(t, checked, 4, "group photos with at least two faces")

	bad := gocv.NewMat()
	defer bad.Close()
	assert.Error(t, redact.Hide(&bad, nil))
}

func TestFaces(t *testing.T) {
	subject := image.Rect(100, 100, 160, 170)
	faces := []image.Rectangle{
		image.Rect(105, 98, 162, 168), // the subject, boxed a little differently
		image.Rect(300, 100, 350, 160),
		image.Rect(150, 160, 200, 220), // touches the subject's box, centre outside: a bystander
	}
	assert.Equal(t, faces[1:], redact.Faces(faces, []image.Rectangle{subject}))
	assert.Equal(t, faces, redact.Faces(faces, nil), "no subject: every face hidden")
}

// TestClip: a clip made from a group photo is re-encoded with every face but the subject's hidden in
// every frame; the output decodes to as many frames, and the eager detector finds only the subject.
func TestClip(t *testing.T) {
	product, eager := detectors(t)
	dir := t.TempDir()
	img := gocv.IMRead(photos(t)[1], gocv.IMReadColor)
	require.False(t, img.Empty())
	defer img.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(img, &small, image.Pt(img.Cols()/2*2, img.Rows()/2*2), 0, 0, gocv.InterpolationArea)
	in := filepath.Join(dir, "in.mp4")
	w, err := gocv.VideoWriterFile(in, "avc1", 10, small.Cols(), small.Rows(), true)
	require.NoError(t, err)
	const frames = 20
	for range frames {
		require.NoError(t, w.Write(small))
	}
	require.NoError(t, w.Close())

	faces, err := product.DetectFaces(small)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(faces), 2)
	subject := faces[0].Box.Rect()
	find := func(_ context.Context, frame gocv.Mat, _ time.Duration) ([]image.Rectangle, error) {
		f, err := product.DetectFaces(frame)
		return redact.Faces(rects(f), []image.Rectangle{subject}), err
	}
	out := filepath.Join(dir, "out.mp4")
	st, err := redact.Clip(context.Background(), in, out, find)
	require.NoError(t, err)
	assert.Equal(t, frames, st.Frames)
	assert.GreaterOrEqual(t, st.Hidden, frames*(len(faces)-1))

	dm, err := av.OpenFile(out)
	require.NoError(t, err)
	defer dm.Close()
	assert.Equal(t, media.H264, dm.Info().Codec)
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: dm.Info().Codec})
	require.NoError(t, err)
	defer dec.Close()
	decoded := 0
	check := func() {
		for {
			if _, err := dec.Receive(); err != nil {
				return
			}
			m, err := dec.BGR()
			require.NoError(t, err)
			decoded++
			if decoded%5 == 1 {
				found, err := eager.DetectFaces(m)
				require.NoError(t, err)
				for _, f := range found {
					c := image.Pt(int(f.Box.X+f.Box.W/2), int(f.Box.Y+f.Box.H/2))
					assert.True(t, c.In(grown(subject)), "frame %d: a bystander's face found at %v", decoded, f.Box.Rect())
				}
			}
			m.Close()
		}
	}
	for {
		pkt, err := dm.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.NoError(t, dec.Send(pkt.AU, int64(pkt.PTS)))
		check()
	}
	require.NoError(t, dec.Drain())
	check()
	assert.Equal(t, frames, decoded)

	_, err = redact.Clip(context.Background(), filepath.Join(dir, "missing.mp4"), out, find)
	assert.Error(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = redact.Clip(ctx, in, filepath.Join(dir, "cancelled.mp4"), find)
	assert.ErrorIs(t, err, context.Canceled)
}
