// Package assign solves linear assignment problems (the Hungarian method) for the tracker, the
// cross-camera stitcher and the tracking metrics.
//
// Cost matrices are sparse in practice (a track overlaps few detections), so both solvers first split
// the bipartite graph of admissible pairs into connected components and solve each one on its own; the
// optimum of the whole problem is the union of the components' optima.
package assign

import "math"

// Unassigned marks a row or column left without a partner.
const Unassigned = -1

// MaxCardinality pairs rows with columns of cost (rows x columns, every row the same length). A cost
// that is NaN or infinite forbids the pair. Among all assignments with the largest number of pairs it
// returns one of minimum total cost, which is the contract of py-motmetrics' linear_sum_assignment over
// matrices with missing edges. The result maps each row to its column or Unassigned.
func MaxCardinality(cost [][]float64) []int {
	allowed := func(c float64) bool { return !math.IsNaN(c) && !math.IsInf(c, 0) }
	return solve(cost, allowed, func(sub [][]float64) {
		// Assume admissible costs lie within [-c, c]. A forbidden pair must cost more than choosing the
		// worst admissible pair r times over choosing r-1 best ones: l > (2r-1)c; l = 2rc+1 does.
		r := min(len(sub), len(sub[0]))
		c := 0.0
		for _, row := range sub {
			for _, v := range row {
				if allowed(v) {
					c = max(c, math.Abs(v))
				}
			}
		}
		c++
		large := 2*float64(r)*c + 1
		for _, row := range sub {
			for j, v := range row {
				if !allowed(v) {
					row[j] = large
				}
			}
		}
	})
}

// WithLimit pairs rows with columns so that the sum of the chosen pairs' costs plus limit/2 for every
// row and every column left alone is smallest; a pair costing more than limit is never chosen. This is
// the contract of lapjv with cost_limit that ByteTrack and its relatives use: a pair is worth making
// only when it costs less than leaving both of its ends unassigned. NaN forbids a pair.
func WithLimit(cost [][]float64, limit float64) []int {
	allowed := func(c float64) bool { return !math.IsNaN(c) && c <= limit }
	return solve(cost, allowed, func(sub [][]float64) {
		// Minimising sum(c - limit) over chosen pairs is the same problem; a pair at cost 0 in this
		// form is as good as leaving both ends free, and such pairs are dropped afterwards.
		for _, row := range sub {
			for j, v := range row {
				if allowed(v) {
					row[j] = v - limit
				} else {
					row[j] = 0
				}
			}
		}
	})
}

// solve splits cost into connected components of allowed pairs, lets prepare rewrite each
// component's sub-matrix into a dense minimisation problem, solves it and keeps the allowed pairs.
func solve(cost [][]float64, allowed func(float64) bool, prepare func([][]float64)) []int {
	n := len(cost)
	out := make([]int, n)
	for i := range out {
		out[i] = Unassigned
	}
	if n == 0 || len(cost[0]) == 0 {
		return out
	}
	for _, comp := range components(cost, allowed) {
		rows, cols := comp.rows, comp.cols
		if len(rows) == 1 && len(cols) == 1 {
			out[rows[0]] = cols[0]
			continue
		}
		sub := make([][]float64, len(rows))
		for a, i := range rows {
			sub[a] = make([]float64, len(cols))
			for b, j := range cols {
				sub[a][b] = cost[i][j]
			}
		}
		prepare(sub)
		for a, b := range hungarian(sub) {
			if b == Unassigned {
				continue
			}
			i, j := rows[a], cols[b]
			if allowed(cost[i][j]) {
				out[i] = j
			}
		}
	}
	return out
}

type component struct{ rows, cols []int }

// components returns the connected components (with at least one allowed pair) of the bipartite
// graph whose edges are the allowed pairs. Rows and columns keep their original order inside each
// component so that ties are broken the same way as on the whole matrix.
func components(cost [][]float64, allowed func(float64) bool) []component {
	n, m := len(cost), len(cost[0])
	parent := make([]int, n+m)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	hasEdge := make([]bool, n+m)
	for i, row := range cost {
		for j, v := range row {
			if !allowed(v) {
				continue
			}
			hasEdge[i], hasEdge[n+j] = true, true
			a, b := find(i), find(n+j)
			if a != b {
				parent[a] = b
			}
		}
	}
	index := map[int]int{}
	var comps []component
	for x := 0; x < n+m; x++ {
		if !hasEdge[x] {
			continue
		}
		r := find(x)
		k, ok := index[r]
		if !ok {
			k = len(comps)
			index[r] = k
			comps = append(comps, component{})
		}
		if x < n {
			comps[k].rows = append(comps[k].rows, x)
		} else {
			comps[k].cols = append(comps[k].cols, x-n)
		}
	}
	return comps
}

// hungarian returns a minimum-cost assignment of a dense finite matrix in which every element of the
// smaller side gets a partner.
func hungarian(cost [][]float64) []int {
	n, m := len(cost), len(cost[0])
	if n <= m {
		return hungarianRows(cost, n, m)
	}
	t := make([][]float64, m)
	for j := range t {
		t[j] = make([]float64, n)
		for i := range n {
			t[j][i] = cost[i][j]
		}
	}
	colToRow := hungarianRows(t, m, n)
	out := make([]int, n)
	for i := range out {
		out[i] = Unassigned
	}
	for j, i := range colToRow {
		if i != Unassigned {
			out[i] = j
		}
	}
	return out
}

// hungarianRows is the O(n²m) shortest-augmenting-path method with potentials for n <= m: it assigns
// every row to a distinct column at minimum total cost.
func hungarianRows(a [][]float64, n, m int) []int {
	inf := math.Inf(1)
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1) // p[j]: row (1-based) assigned to column j; column 0 is the virtual start
	way := make([]int, m+1)
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = inf
			used[j] = false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], inf, 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := a[i0-1][j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	out := make([]int, n)
	for i := range out {
		out[i] = Unassigned
	}
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			out[p[j]-1] = j - 1
		}
	}
	return out
}
