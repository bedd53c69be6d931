package mot

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsLikePyMotmetrics replays py-motmetrics' own test_mota_motp sequence, which feeds
// distances directly: all false positives, all misses, matches, switches, and a frame where history
// wins over a cheaper new pairing.
func TestEventsLikePyMotmetrics(t *testing.T) {
	nan := math.NaN()
	a := NewAccumulator(0.5)
	a.events(nil, []int{1, 2}, [][]float64{})
	a.events([]int{1, 2}, nil, [][]float64{{}, {}})
	a.events([]int{1, 2}, []int{1, 2}, [][]float64{{1, 0.5}, {0.3, 1}})
	a.events([]int{1, 2}, []int{1, 2}, [][]float64{{0.2, nan}, {nan, 0.1}})
	a.events([]int{1, 2}, []int{1, 2}, [][]float64{{5, 1}, {1, 5}})
	a.events(nil, nil, nil)

	checks := []struct {
		name      string
		got, want float64
	}{
		{"matches", float64(a.matches), 4},
		{"false positives", float64(a.falsePos), 2},
		{"misses", float64(a.misses), 2},
		{"switches", float64(a.switches), 2},
		{"objects", float64(a.numObjects), 8},
		{"motp", a.distSum / 6, 11.1 / 6},
	}
	for _, c := range checks {
		assert.InDelta(t, c.want, c.got, 1e-12, c.name)
	}
}

func box(frame, id int, x float64) Row {
	return Row{Frame: frame, ID: id, X: x, Y: 0, W: 10, H: 10, Conf: 1}
}

// TestTrackedStates checks fragmentations and the mostly tracked / partially tracked / mostly lost
// split on sequences whose answers can be counted by hand.
func TestTrackedStates(t *testing.T) {
	var gt, res []Row
	// Object 1: 10 frames, tracked in frames 1-3 and 6-10 (8/10 = MT), one fragmentation.
	// Object 2: 10 frames, tracked in 1-2, 5, 9 (4/10 = PT), two fragmentations (the trailing miss
	// after the last tracked frame is not one).
	// Object 3: 10 frames, tracked once (ML).
	tracked := map[int][]int{1: {1, 2, 3, 6, 7, 8, 9, 10}, 2: {1, 2, 5, 9}, 3: {4}}
	for id := 1; id <= 3; id++ {
		x := float64(id * 100)
		for f := 1; f <= 10; f++ {
			gt = append(gt, box(f, id, x))
		}
		for _, f := range tracked[id] {
			res = append(res, box(f, id+10, x))
		}
	}
	m, err := Evaluate(gt, res, Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, m.MT, "mostly tracked")
	assert.Equal(t, 1, m.PT, "partially tracked")
	assert.Equal(t, 1, m.ML, "mostly lost")
	assert.Equal(t, 3, m.Frag, "fragmentations")
	assert.Equal(t, 30-13, m.FN, "misses")
	assert.Equal(t, 0, m.FP, "false positives")
	assert.Equal(t, 0, m.IDSW, "id switches")
	assert.Equal(t, 2*13.0/(2*13+17), m.IDF1, "IDF1")
}

func TestEvaluateRejects(t *testing.T) {
	tests := []struct {
		name    string
		gt, res []Row
		opt     Options
	}{
		{"empty ground truth", nil, []Row{box(1, 1, 0)}, Options{}},
		{"ground truth all ignored", []Row{{Frame: 1, ID: 1, W: 1, H: 1, Conf: 0}}, nil, Options{}},
		{"duplicate result id", []Row{box(1, 1, 0)}, []Row{box(1, 2, 0), box(1, 2, 5)}, Options{}},
		{"duplicate gt id", []Row{box(1, 1, 0), box(1, 1, 50)}, nil, Options{}},
		{"bad IoU", []Row{box(1, 1, 0)}, nil, Options{MinIoU: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.gt, tt.res, tt.opt)
			assert.Error(t, err)
		})
	}
}

func TestHOTAByHand(t *testing.T) {
	seq := func(n int, id func(f int) int, x float64) []Row {
		var rows []Row
		for f := 1; f <= n; f++ {
			if i := id(f); i != 0 {
				rows = append(rows, box(f, i, x))
			}
		}
		return rows
	}
	gt := seq(4, func(int) int { return 1 }, 0)
	tests := []struct {
		name             string
		res              []Row
		hota, deta, assa float64
	}{
		{"perfect", seq(4, func(int) int { return 7 }, 0), 1, 1, 1},
		// Two of four frames found, one id: DetA 2/4; AssA = 2/(4+2-2) = 0.5.
		{"half detected", seq(4, func(f int) int { return map[bool]int{true: 7}[f <= 2] }, 0), 0.5, 0.5, 0.5},
		// All found, id changes halfway: DetA 1; each id pair aligns 2/(4+2-2) = 0.5.
		{"switch", seq(4, func(f int) int { return 7 + f/3 }, 0), math.Sqrt(0.5), 1, 0.5},
		// Shifted by a third of the width: IoU = (20/3)/(40/3) = 0.5, matched for alpha 0.05..0.50
		// (10 of 19 thresholds) and perfect there.
		{"localisation", seq(4, func(int) int { return 7 }, 10.0/3), 10.0 / 19, 10.0 / 19, 10.0 / 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Evaluate(gt, tt.res, Options{})
			require.NoError(t, err)
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"HOTA", m.HOTA.HOTA, tt.hota}, {"DetA", m.DetA, tt.deta}, {"AssA", m.AssA, tt.assa}} {
				assert.InDelta(t, c.want, c.got, 1e-9, c.name)
			}
		})
	}
}
