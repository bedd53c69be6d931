package detect

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// busyStreet decodes the first d of the busy street (vtest) at 5 detection fps, as a camera samples it.
func busyStreet(b *testing.B, d time.Duration) ([]gocv.Mat, []time.Duration) {
	b.Helper()
	var frames []gocv.Mat
	var times []time.Duration
	sampledFrames(b, vtestPath(b), 5, d, func(_ int, at time.Duration, img gocv.Mat) {
		frames, times = append(frames, img.Clone()), append(times, at)
	})
	b.Cleanup(func() {
		for _, f := range frames {
			f.Close()
		}
	})
	return frames, times
}

// cpuTime is the process's user+system time: OpenCV's and ONNX Runtime's threads included.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCameraBusyStreet runs 20 s of the busy street through a camera (motion gate, detectors,
// appearance schedule) on ONNX Runtime with one OpenCV thread, as `serve` runs it, and reports the CPU
// per frame (the perception part of `bench density`'s per-frame figure), the persons and faces found and
// the OSNet calls per frame, with faces searched in the whole frame and where FaceSearch plans.
func BenchmarkCameraBusyStreet(b *testing.B) {
	frames, times := busyStreet(b, 20*time.Second)
	engine := openORT(b)
	defer SetOpenCVThreads(SetOpenCVThreads(1))
	for _, v := range []struct {
		name   string
		search FaceSearch
	}{{"faces-whole-frame", FaceSearch{}}, {"face-search", DefaultFaceSearch()}} {
		b.Run(v.name, func(b *testing.B) {
			cfg := DefaultConfig(modelsDir(b))
			cfg.Engine, cfg.FaceSearch = engine, v.search
			p, err := NewPipeline(cfg)
			require.NoError(b, err)
			defer p.Close()
			gate := DefaultGateConfig()
			base := time.Unix(0, 0)
			var cpu time.Duration
			var n, faces, persons, osnet int
			for b.Loop() {
				cam := p.NewCamera("vtest", &gate)
				start := cpuTime(b)
				for i, f := range frames {
					res, err := cam.Process(context.Background(), f, base.Add(times[i]))
					require.NoError(b, err)
					faces, persons, osnet = faces+len(res.Faces), persons+len(res.Persons), osnet+res.Appearances
				}
				cpu += cpuTime(b) - start
				n += len(frames)
				require.NoError(b, cam.Close())
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/frame")
			b.ReportMetric(float64(faces)/float64(n), "faces/frame")
			b.ReportMetric(float64(persons)/float64(n), "persons/frame")
			b.ReportMetric(float64(osnet)/float64(n), "osnet/frame")
		})
	}
}
