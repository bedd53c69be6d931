package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSampler: the grid keeps every fifth picture of 25 fps at 5 fps despite timestamps rounded to
// the millisecond, restarts at the first picture after a gap, and without a rate keeps them all.
func TestSampler(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name string
		fps  float64
		pts  []time.Duration
		kept []time.Duration
	}{
		{"25 fps at 5", 5, ms(0, 40, 80, 120, 160, 199, 240, 280, 320, 360, 399), ms(0, 199, 399)},
		{"gap restarts the grid", 5, ms(0, 40, 200, 1000, 1040, 1200), ms(0, 200, 1000, 1200)},
		{"no rate keeps all", 0, ms(0, 40, 80), ms(0, 40, 80)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSampler(tc.fps)
			var kept []time.Duration
			for _, p := range tc.pts {
				if s.wants(p) {
					s.take(p)
					kept = append(kept, p)
				}
			}
			assert.Equal(t, tc.kept, kept)
		})
	}
}
