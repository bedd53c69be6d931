package detect

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/detect/infer"
)

// Per-stage micro-benchmarks on a real vtest frame. `snowlight bench perception` gives the whole-stage
// figures recorded in docs/BENCHMARKS.md.

// engines are the inference engines a benchmark compares, side by side.
func engines(b *testing.B) []infer.Engine { return []infer.Engine{openORT(b), infer.NewOpenCV()} }

func BenchmarkYOLOX(b *testing.B) {
	img := readVideoFramesB(b, 100)
	for _, e := range engines(b) {
		b.Run(e.Name(), func(b *testing.B) {
			y, err := NewYOLOX(e, modelsDir(b), DefaultYOLOXConfig())
			require.NoError(b, err)
			defer y.Close()
			for b.Loop() {
				_, err := y.DetectPersons(img)
				require.NoError(b, err)
			}
		})
	}
}

func BenchmarkYuNet(b *testing.B) {
	img := readVideoFramesB(b, 100)
	for _, e := range engines(b) {
		b.Run(e.Name(), func(b *testing.B) {
			y, err := NewYuNet(e, modelsDir(b), DefaultYuNetConfig())
			require.NoError(b, err)
			defer y.Close()
			for b.Loop() {
				_, err := y.DetectFaces(img)
				require.NoError(b, err)
			}
		})
	}
}

func BenchmarkFaceEmbed(b *testing.B) {
	p := newPipeline(b, false)
	img := readImage(b, evalDir(b)+"/faces/face_recognition/examples/obama.jpg")
	defer img.Close()
	res, err := p.DetectPhoto(context.Background(), img)
	require.NoError(b, err)
	require.Len(b, res.Faces, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := p.faceEmb.EmbedFace(img, res.Faces[0])
		require.NoError(b, err)
	}
}

func BenchmarkGate(b *testing.B) {
	g := NewGate(DefaultGateConfig())
	defer g.Close()
	img := readVideoFramesB(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := g.Check(img, time.Unix(int64(i), 0))
		require.NoError(b, err)
	}
}

func BenchmarkPipelineFrame(b *testing.B) {
	p := newPipeline(b, true)
	img := readVideoFramesB(b, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := p.Detect(context.Background(), img, time.Now())
		require.NoError(b, err)
	}
}
