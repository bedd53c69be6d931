package roads_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/dispatch/roads"
	"snowlight/geo"
)

// TestTravelMatchesFloydWarshall compares the search with all-pairs shortest paths on small grids with
// random one-way streets and missing blocks, for units and incidents at intersections.
func TestTravelMatchesFloydWarshall(t *testing.T) {
	const n, spacing = 6, 150.0
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 20 {
		// Each block between neighbouring intersections is a road of its own: two-way, one-way either
		// way, or missing.
		id := func(i, j int) int { return i*n + j }
		var rs []roads.Road
		inf := math.Inf(1)
		d := make([][]float64, n*n)
		for i := range d {
			d[i] = make([]float64, n*n)
			for j := range d[i] {
				d[i][j] = inf
			}
			d[i][i] = 0
		}
		block := func(a, b [2]int) {
			pa, pb := pt{float64(a[1]) * spacing, float64(a[0]) * spacing}, pt{float64(b[1]) * spacing, float64(b[0]) * spacing}
			w := length(pa, pb)
			u, v := id(a[0], a[1]), id(b[0], b[1])
			switch rng.IntN(5) {
			case 0: // missing
			case 1:
				rs = append(rs, road(true, pa, pb))
				d[u][v] = w
			case 2:
				rs = append(rs, road(true, pb, pa))
				d[v][u] = w
			default:
				rs = append(rs, road(false, pa, pb))
				d[u][v], d[v][u] = w, w
			}
		}
		for i := range n {
			for j := range n {
				if j+1 < n {
					block([2]int{i, j}, [2]int{i, j + 1})
				}
				if i+1 < n {
					block([2]int{i, j}, [2]int{i + 1, j})
				}
			}
		}
		for k := range n * n {
			for i := range n * n {
				for j := range n * n {
					if d[i][k]+d[k][j] < d[i][j] {
						d[i][j] = d[i][k] + d[k][j]
					}
				}
			}
		}
		g, err := roads.New(rs, roads.Options{MaxOffRoad: 1})
		require.NoError(t, err)
		var from []geo.LatLon
		for i := range n {
			for j := range n {
				from = append(from, at(float64(j)*spacing, float64(i)*spacing))
			}
		}
		inc := rng.IntN(n * n)
		got, err := g.Travel(t.Context(), from[inc], from)
		require.NoError(t, err)
		require.Len(t, got, len(from))
		// An intersection no block touches is off the network; so is one that cannot reach the incident.
		touched := map[geo.LatLon]bool{}
		for _, r := range rs {
			for _, p := range r.Points {
				touched[p] = true
			}
		}
		for u := range from {
			want := d[u][inc]
			if !touched[from[inc]] || !touched[from[u]] || math.IsInf(want, 1) {
				assert.Equal(t, dispatch.GreatCircleRoute, got[u].Route, "trial %d: unit at %d to incident at %d: %+v, want the fallback", trial, u, inc, got[u])
				continue
			}
			assert.Equal(t, dispatch.RoadRoute, got[u].Route, "trial %d: unit at %d to incident at %d", trial, u, inc)
			assert.InDelta(t, want, got[u].Metres, 0.01, "trial %d: unit at %d to incident at %d: metres", trial, u, inc)
		}
	}
}
