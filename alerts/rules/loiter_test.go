package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/tracks"
)

// t0 is 10:00 UTC on Saturday 1 March 2025.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// path is a track's boxes, one per step, each 80x200 pixels standing with its feet at the given
// points.
func path(step time.Duration, feet ...[2]float64) []tracks.TimedBox {
	out := make([]tracks.TimedBox, len(feet))
	for i, f := range feet {
		out[i] = tracks.TimedBox{Time: t0.Add(time.Duration(i) * step), Box: tracks.Box{X: f[0] - 40, Y: f[1] - 200, W: 80, H: 200}, Score: 0.9}
	}
	return out
}

// repeat returns n copies of p.
func repeat(p [2]float64, n int) [][2]float64 {
	out := make([][2]float64, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func cat(parts ...[][2]float64) [][2]float64 {
	var out [][2]float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestStays(t *testing.T) {
	// The zone: an ATM's forecourt, x 400-600, y 500-700.
	zone := [][2]float64{{400, 500}, {600, 500}, {600, 700}, {400, 700}}
	in, out, edge := [2]float64{500, 600}, [2]float64{900, 600}, [2]float64{600, 650}
	type stay struct{ from, to int } // in steps
	tests := []struct {
		name  string
		feet  [][2]float64
		grace time.Duration
		want  []stay
	}{
		{"never inside", repeat(out, 10), 5 * time.Second, nil},
		{"always inside", repeat(in, 10), 5 * time.Second, []stay{{0, 9}}},
		{"walks in, stays, walks out", cat(repeat(out, 3), repeat(in, 5), repeat(out, 3)), 5 * time.Second, []stay{{3, 7}}},
		{"standing on the zone's edge counts", repeat(edge, 4), 0, []stay{{0, 3}}},
		{"steps out for 2 s within a 5 s grace", cat(repeat(in, 5), repeat(out, 2), repeat(in, 5)), 5 * time.Second, []stay{{0, 11}}},
		// Out at steps 5-10: the absence runs from the first box outside (5) to the next inside
		// (11), 6 s, more than the grace.
		{"steps out for 6 s", cat(repeat(in, 5), repeat(out, 6), repeat(in, 5)), 5 * time.Second, []stay{{0, 4}, {11, 15}}},
		{"no grace", cat(repeat(in, 3), repeat(out, 1), repeat(in, 3)), 0, []stay{{0, 2}, {4, 6}}},
		// The box's centre is inside but the feet are below the zone: not in it.
		{"only the body over the zone", repeat([2]float64{500, 750}, 5), 5 * time.Second, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Stays(path(time.Second, tc.feet...), zone, tc.grace)
			require.Len(t, got, len(tc.want), "stays %v, want %v", got, tc.want)
			for i, w := range tc.want {
				assert.Equal(t, t0.Add(time.Duration(w.from)*time.Second), got[i].From, "stay %d starts", i)
				assert.Equal(t, t0.Add(time.Duration(w.to)*time.Second), got[i].To, "stay %d ends", i)
			}
		})
	}
}
