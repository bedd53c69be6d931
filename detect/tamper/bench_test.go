package tamper_test

import (
	"fmt"
	"image"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect/tamper"
)

// BenchmarkUpdate measures the detector's cost per frame on real footage (vtest.avi frames, cycled)
// at the video's own size and scaled to the common camera sizes, in wall time and in CPU time of the
// whole process. Run with:
// go test -run '^$' -bench Update -benchtime 3s ./detect/tamper/
func BenchmarkUpdate(b *testing.B) {
	vc := video(b, "vtest.avi")
	raw := gocv.NewMat()
	defer raw.Close()
	var src []gocv.Mat
	for i := 0; i < 50 && vc.Read(&raw); i++ {
		src = append(src, raw.Clone())
	}
	defer func() {
		for _, m := range src {
			m.Close()
		}
	}()
	for _, size := range []image.Point{{768, 576}, {1280, 720}, {1920, 1080}} {
		b.Run(sizeName(size), func(b *testing.B) {
			frames := make([]gocv.Mat, len(src))
			for i, m := range src {
				frames[i] = gocv.NewMat()
				gocv.Resize(m, &frames[i], size, 0, 0, gocv.InterpolationLinear)
			}
			defer func() {
				for _, m := range frames {
					m.Close()
				}
			}()
			d, err := tamper.New(tamper.DefaultConfig())
			require.NoError(b, err)
			defer d.Close()
			t0 := time.Unix(1_700_000_000, 0)
			// Past the learning period, so every frame is judged.
			for i := 0; i < 120; i++ {
				_, err := d.Update(frames[i%len(frames)], t0.Add(time.Duration(i)*100*time.Millisecond))
				require.NoError(b, err)
			}
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := 0; i < b.N; i++ {
				_, err := d.Update(frames[i%len(frames)], t0.Add(time.Duration(120+i)*100*time.Millisecond))
				require.NoError(b, err)
			}
			// CPU time of every thread of the process (OpenCV's workers too) per frame: on a shared,
			// loaded machine wall time per op overstates the cost.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e3, "cpu-µs/frame")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sizeName(p image.Point) string { return fmt.Sprintf("%dx%d", p.X, p.Y) }
