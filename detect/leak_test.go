//go:build matprofile

package detect

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// TestNoMatLeaks runs every path of the pipeline over many real frames and photos and checks that the
// number of live gocv Mats returns to where it started: every intermediate blob, crop and resize is
// closed. Run with: go test -tags matprofile -run TestNoMatLeaks ./detect/
func TestNoMatLeaks(t *testing.T) {
	eval := evalDir(t)
	frames := readVideoFrames(t, vtestPath(t), 10)
	cfg := DefaultConfig(modelsDir(t))
	photos := []string{
		filepath.Join(eval, "faces", "face-api", "test", "images", "faces.jpg"),
		filepath.Join(eval, "faces", "orl_att_faces", "s1", "1.pgm"), // tight crop: padded retry
		filepath.Join(eval, "faces", "dlib", "examples", "faces", "Tom_Cruise_avp_2014_4.jpg"),
		filepath.Join(eval, "faces", "dlib", "examples", "faces", "dogs.jpg"), // verification path
	}
	ctx := context.Background()
	before := gocv.MatProfile.Count()
	p, err := NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gcfg := DefaultGateConfig()
	cam := p.NewCamera("leak", &gcfg)
	sampledFrames(t, vtestPath(t), 5, 4*time.Second, func(i int, at time.Duration, img gocv.Mat) {
		if _, err := cam.Process(ctx, img, time.Unix(0, 0).Add(at)); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			if _, err := p.Detect(ctx, img, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	})
	cam.Close()
	for _, path := range photos {
		img := readImage(t, path)
		if _, err := p.DetectPhoto(ctx, img); err != nil {
			t.Fatal(err)
		}
		img.Close()
		data, _ := os.ReadFile(path)
		p.EmbedPhoto(ctx, PhotoInput{Name: path, Data: data}, DefaultEnrolmentRules())
	}
	hog := NewHOG(DefaultHOGConfig())
	hog.DetectPersons(frames[10])
	hog.Close()
	p.Close()
	if after := gocv.MatProfile.Count(); after != before {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Errorf("%d Mats before, %d after:\n%s", before, after, b.String())
	}
}
