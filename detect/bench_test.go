package detect

import (
	"context"
	"testing"
	"time"
)

// Per-stage micro-benchmarks on a real vtest frame. `snowlight bench perception` gives the whole-stage
// figures recorded in docs/BENCHMARKS.md.

func BenchmarkYOLOX(b *testing.B) {
	y, err := NewYOLOX(nil, modelsDir(b), DefaultYOLOXConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer y.Close()
	img := readVideoFramesB(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := y.DetectPersons(img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkYuNet(b *testing.B) {
	y, err := NewYuNet(nil, modelsDir(b), DefaultYuNetConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer y.Close()
	img := readVideoFramesB(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := y.DetectFaces(img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFaceEmbed(b *testing.B) {
	p := newPipeline(b, false)
	img := readImage(b, evalDir(b)+"/faces/face_recognition/examples/obama.jpg")
	defer img.Close()
	res, err := p.DetectPhoto(context.Background(), img)
	if err != nil || len(res.Faces) != 1 {
		b.Fatalf("%v, %d faces", err, len(res.Faces))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.faceEmb.EmbedFace(img, res.Faces[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGate(b *testing.B) {
	g := NewGate(DefaultGateConfig())
	defer g.Close()
	img := readVideoFramesB(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.Check(img, time.Unix(int64(i), 0)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPipelineFrame(b *testing.B) {
	p := newPipeline(b, true)
	img := readVideoFramesB(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Detect(context.Background(), img, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
