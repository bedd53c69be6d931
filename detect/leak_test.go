//go:build matprofile

package detect

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect/infer"
)

// TestNoMatLeaks runs every path of the pipeline over many real frames and photos, on each inference
// engine, and checks that the number of live gocv Mats returns to where it started: every intermediate
// blob, crop and resize is closed. Run with: go test -tags matprofile -run TestNoMatLeaks ./detect/
func TestNoMatLeaks(t *testing.T) {
	for _, e := range []infer.Engine{openORT(t), infer.NewOpenCV()} {
		t.Run(e.Name(), func(t *testing.T) {
			cfg := DefaultConfig(modelsDir(t))
			cfg.Engine = e
			checkMatLeaks(t, cfg)
		})
	}
}

func checkMatLeaks(t *testing.T, cfg Config) {
	eval := evalDir(t)
	frames := readVideoFrames(t, vtestPath(t), 10)
	photos := []string{
		filepath.Join(eval, "faces", "face-api", "test", "images", "faces.jpg"),
		filepath.Join(eval, "faces", "orl_att_faces", "s1", "1.pgm"), // tight crop: padded retry
		filepath.Join(eval, "faces", "dlib", "examples", "faces", "Tom_Cruise_avp_2014_4.jpg"),
		filepath.Join(eval, "faces", "dlib", "examples", "faces", "dogs.jpg"), // verification path
	}
	ctx := context.Background()
	before := gocv.MatProfile.Count()
	p, err := NewPipeline(cfg)
	require.NoError(t, err)
	gcfg := DefaultGateConfig()
	cam := p.NewCamera("leak", &gcfg)
	sampledFrames(t, vtestPath(t), 5, 4*time.Second, func(i int, at time.Duration, img gocv.Mat) {
		_, err := cam.Process(ctx, img, time.Unix(0, 0).Add(at))
		require.NoError(t, err)
		if i%4 == 0 {
			_, err := p.Detect(ctx, img, time.Now())
			require.NoError(t, err)
		}
	})
	cam.Close()
	for _, path := range photos {
		img := readImage(t, path)
		_, err := p.DetectPhoto(ctx, img)
		require.NoError(t, err)
		img.Close()
		data, _ := os.ReadFile(path)
		p.EmbedPhoto(ctx, PhotoInput{Name: path, Data: data}, DefaultEnrolmentRules())
	}
	hog := NewHOG(DefaultHOGConfig())
	hog.DetectPersons(frames[10])
	hog.Close()
	p.Close()
	var b bytes.Buffer
	gocv.MatProfile.WriteTo(&b, 1)
	assert.Equal(t, before, gocv.MatProfile.Count(), "Mats before and after; live:\n%s", b.String())
}
