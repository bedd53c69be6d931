package tracks

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scene pre-generates frames of n people walking across a 1920x1080 view at 25 fps, with box
// noise and 5% missed detections, so the benchmark times the tracker alone.
func scene(n, frames int) [][]Detection {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	type person struct{ x, y, vx, vy, w, h float64 }
	ps := make([]person, n)
	for i := range ps {
		h := 80 + r.Float64()*120
		ps[i] = person{x: r.Float64() * 1800, y: r.Float64() * 900, vx: (r.Float64() - 0.5) * 8, vy: (r.Float64() - 0.5) * 2, w: h * 0.4, h: h}
	}
	out := make([][]Detection, frames)
	for f := range out {
		for i := range ps {
			p := &ps[i]
			p.x += p.vx
			p.y += p.vy
			if p.x < -p.w || p.x > 1920 {
				p.vx = -p.vx
			}
			if p.y < 0 || p.y > 1080-p.h {
				p.vy = -p.vy
			}
			if r.Float64() < 0.05 {
				continue
			}
			out[f] = append(out[f], Detection{
				Box:   Box{X: p.x + r.NormFloat64()*2, Y: p.y + r.NormFloat64()*2, W: p.w + r.NormFloat64(), H: p.h + r.NormFloat64()},
				Score: 0.3 + 0.7*r.Float64(),
			})
		}
	}
	return out
}

// BenchmarkTrackerUpdate times one Update (one frame) with 10 and 100 people in view.
func BenchmarkTrackerUpdate(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("%d-objects", n), func(b *testing.B) {
			frames := scene(n, 500)
			tr, err := NewTracker(DefaultConfig())
			require.NoError(b, err)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				tr.Update(t0.Add(time.Duration(i)*40*time.Millisecond), frames[i%len(frames)])
				i++
				if i%len(frames) == 0 {
					tr.Finish()
				}
			}
		})
	}
}

func BenchmarkSORTUpdate(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("%d-objects", n), func(b *testing.B) {
			frames := scene(n, 500)
			s := NewSORT(DefaultSORTConfig())
			i := 0
			for b.Loop() {
				s.Update(t0.Add(time.Duration(i)*40*time.Millisecond), frames[i%len(frames)])
				i++
			}
		})
	}
}
