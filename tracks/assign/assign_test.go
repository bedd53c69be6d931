package assign

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxCardinalityTable(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		cost [][]float64
		want []int
	}{
		{"empty", [][]float64{}, []int{}},
		{"no columns", [][]float64{{}, {}}, []int{Unassigned, Unassigned}},
		{"all forbidden", [][]float64{{nan, nan}, {nan, nan}}, []int{Unassigned, Unassigned}},
		{"diagonal", [][]float64{{1, 9}, {9, 1}}, []int{0, 1}},
		{"anti diagonal", [][]float64{{9, 1}, {1, 9}}, []int{1, 0}},
		// Minimum cost alone would take (0,0) for 0.1 and leave row 1 out; maximum cardinality first
		// forces (0,1) and (1,0).
		{"cardinality before cost", [][]float64{{0.1, 0.4}, {0.4, nan}}, []int{1, 0}},
		{"wide", [][]float64{{5, 1, 3}}, []int{1}},
		{"tall", [][]float64{{5}, {1}, {3}}, []int{Unassigned, 0, Unassigned}},
		{"inf forbids", [][]float64{{math.Inf(1), 2}, {3, math.Inf(1)}}, []int{1, 0}},
		{"negative costs", [][]float64{{-1, -5}, {-2, -1}}, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, MaxCardinality(tt.cost))
		})
	}
}

func TestWithLimitTable(t *testing.T) {
	tests := []struct {
		name  string
		cost  [][]float64
		limit float64
		want  []int
	}{
		{"above limit stays free", [][]float64{{0.9}}, 0.8, []int{Unassigned}},
		{"at limit allowed", [][]float64{{0.8}}, 0.8, []int{0}},
		// Pairing (0,0)+(1,1) costs 0.1+0.7 = 0.8 against the limit 0.8 each; (0,1) alone costs 0.2 and
		// leaves two ends free (0.8): pairing both is better (0.8-1.6 < 0.2-0.8).
		{"two pairs", [][]float64{{0.1, 0.2}, {0.9, 0.7}}, 0.8, []int{0, 1}},
		{"nan forbids", [][]float64{{math.NaN(), 0.1}}, 0.8, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, WithLimit(tt.cost, tt.limit))
		})
	}
}

// brute enumerates every partial assignment and returns the best score under less.
func brute(cost [][]float64, allowed func(float64) bool, better func(card int, sum float64, bestCard int, bestSum float64) bool) (int, float64) {
	n := len(cost)
	m := len(cost[0])
	used := make([]bool, m)
	bestCard, bestSum := -1, 0.0
	var rec func(i, card int, sum float64)
	rec = func(i, card int, sum float64) {
		if i == n {
			if bestCard < 0 || better(card, sum, bestCard, bestSum) {
				bestCard, bestSum = card, sum
			}
			return
		}
		rec(i+1, card, sum)
		for j := 0; j < m; j++ {
			if !used[j] && allowed(cost[i][j]) {
				used[j] = true
				rec(i+1, card+1, sum+cost[i][j])
				used[j] = false
			}
		}
	}
	rec(0, 0, 0)
	return bestCard, bestSum
}

func randomMatrix(r *rand.Rand, forbidden float64) [][]float64 {
	n, m := 1+r.IntN(5), 1+r.IntN(5)
	c := make([][]float64, n)
	for i := range c {
		c[i] = make([]float64, m)
		for j := range c[i] {
			if r.Float64() < forbidden {
				c[i][j] = math.NaN()
			} else {
				c[i][j] = r.Float64()
			}
		}
	}
	return c
}

func score(cost [][]float64, a []int) (int, float64) {
	seen := map[int]bool{}
	card, sum := 0, 0.0
	for i, j := range a {
		if j == Unassigned {
			continue
		}
		if seen[j] {
			return -1, 0
		}
		seen[j] = true
		card++
		sum += cost[i][j]
	}
	return card, sum
}

func TestMaxCardinalityMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	allowed := func(c float64) bool { return !math.IsNaN(c) }
	for k := 0; k < 2000; k++ {
		c := randomMatrix(r, 0.4)
		wantCard, wantSum := brute(c, allowed, func(card int, sum float64, bc int, bs float64) bool {
			return card > bc || card == bc && sum < bs
		})
		card, sum := score(c, MaxCardinality(c))
		require.Equal(t, wantCard, card, "case %d %v: pairs", k, c)
		require.InDelta(t, wantSum, sum, 1e-9, "case %d %v: cost", k, c)
	}
}

func TestWithLimitMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const limit = 0.6
	allowed := func(c float64) bool { return !math.IsNaN(c) && c <= limit }
	for k := 0; k < 2000; k++ {
		c := randomMatrix(r, 0.2)
		a := WithLimit(c, limit)
		card, sum := score(c, a)
		require.GreaterOrEqual(t, card, 0, "case %d: column used twice: %v", k, a)
		for i, j := range a {
			require.False(t, j != Unassigned && !allowed(c[i][j]), "case %d: forbidden pair (%d,%d) chosen", k, i, j)
		}
		// Objective: sum of pair costs + limit/2 per free row and column, i.e. sum(c - limit) + const.
		bc, bs := brute(c, allowed, func(card int, sum float64, bc int, bs float64) bool {
			return sum-float64(card)*limit < bs-float64(bc)*limit
		})
		require.InDelta(t, bs-float64(bc)*limit, sum-float64(card)*limit, 1e-9, "case %d %v: objective", k, c)
	}
}

func BenchmarkMaxCardinalityDense100(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	c := make([][]float64, 100)
	for i := range c {
		c[i] = make([]float64, 100)
		for j := range c[i] {
			c[i][j] = r.Float64()
		}
	}
	for b.Loop() {
		MaxCardinality(c)
	}
}
