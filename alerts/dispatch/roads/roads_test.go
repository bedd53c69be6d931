package roads_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/dispatch/roads"
	"snowlight/geo"
)

// origin is the south-west corner of the test towns; at(e, n) is e metres east and n metres north of it.
var origin = geo.LatLon{Lat: 48.2000, Lon: 16.3700}

func at(e, n float64) geo.LatLon {
	const m = 111195.08 // metres per degree of latitude on dispatch's sphere
	return geo.LatLon{Lat: origin.Lat + n/m, Lon: origin.Lon + e/(m*math.Cos(origin.Lat*math.Pi/180))}
}

func road(oneway bool, pts ...[2]float64) roads.Road {
	r := roads.Road{Oneway: oneway}
	for _, p := range pts {
		r.Points = append(r.Points, at(p[0], p[1]))
	}
	return r
}

// length is the great-circle length of a path through points given in metres east and north.
func length(pts ...[2]float64) float64 {
	d := 0.0
	for i := 1; i < len(pts); i++ {
		d += geo.Distance(at(pts[i-1][0], pts[i-1][1]), at(pts[i][0], pts[i][1]))
	}
	return d
}

type pt = [2]float64

func TestTravel(t *testing.T) {
	// A river runs east-west between n = -50 and n = 50. Each bank has a street along it and two side
	// streets; the only bridge is at e = 2000.
	river := []roads.Road{
		road(false, pt{0, -50}, pt{1000, -50}, pt{2000, -50}),
		road(false, pt{0, 50}, pt{1000, 50}, pt{2000, 50}),
		road(false, pt{1000, -50}, pt{1000, -500}),
		road(false, pt{0, 50}, pt{0, 500}),
		road(false, pt{2000, -50}, pt{2000, 50}), // the bridge
		// An island with its own street, reached by no road.
		road(false, pt{0, 3000}, pt{500, 3000}),
	}
	// A one-way street east along n = 0, and a two-way bypass north of it; a two-way street south of it.
	oneway := []roads.Road{
		road(true, pt{0, 0}, pt{1000, 0}),
		road(false, pt{1000, 0}, pt{1000, 300}, pt{0, 300}, pt{0, 0}),
		road(false, pt{0, -400}, pt{1000, -400}),
	}
	tests := []struct {
		name     string
		roads    []roads.Road
		incident pt
		unit     pt
		route    dispatch.Route
		want     float64 // metres
	}{
		{"across the river, the long way over the bridge", river, pt{0, -50}, pt{0, 100},
			dispatch.RoadRoute, length(pt{0, 100}, pt{0, 50}, pt{2000, 50}, pt{2000, -50}, pt{0, -50})},
		{"same bank, farther as the crow flies", river, pt{0, -50}, pt{800, -50},
			dispatch.RoadRoute, length(pt{800, -50}, pt{0, -50})},
		{"off-road legs at both ends", river, pt{300, -80}, pt{1020, -300},
			dispatch.RoadRoute, length(pt{1020, -300}, pt{1000, -300}, pt{1000, -50}, pt{300, -50}, pt{300, -80})},
		{"island: no road leads there", river, pt{0, -50}, pt{250, 3000},
			dispatch.GreatCircleRoute, 1.4 * length(pt{250, 3000}, pt{0, -50})},
		{"unit too far from any road", river, pt{0, -50}, pt{1500, -900},
			dispatch.GreatCircleRoute, 1.4 * length(pt{1500, -900}, pt{0, -50})},
		{"incident too far from any road", river, pt{1500, -900}, pt{0, -50},
			dispatch.GreatCircleRoute, 1.4 * length(pt{1500, -900}, pt{0, -50})},
		{"same one-way segment, behind the incident", oneway, pt{600, 0}, pt{200, 0},
			dispatch.RoadRoute, length(pt{200, 0}, pt{600, 0})},
		{"same one-way segment, past the incident: round the bypass", oneway, pt{200, 0}, pt{600, 0},
			dispatch.RoadRoute, length(pt{600, 0}, pt{1000, 0}, pt{1000, 300}, pt{0, 300}, pt{0, 0}, pt{200, 0})},
		{"same two-way segment, either way", oneway, pt{700, 300}, pt{200, 300},
			dispatch.RoadRoute, length(pt{200, 300}, pt{700, 300})},
		{"same two-way segment, the other way", oneway, pt{200, 300}, pt{700, 300},
			dispatch.RoadRoute, length(pt{200, 300}, pt{700, 300})},
		{"one-way street against its direction: the bypass", oneway, pt{100, 300}, pt{900, 0},
			dispatch.RoadRoute, length(pt{900, 0}, pt{1000, 0}, pt{1000, 300}, pt{100, 300})},
		{"one-way street with its direction", oneway, pt{900, 10}, pt{100, 300},
			dispatch.RoadRoute, length(pt{100, 300}, pt{0, 300}, pt{0, 0}, pt{900, 0}, pt{900, 10})},
		{"a separate street is not the one-way street", oneway, pt{500, 0}, pt{500, -400},
			dispatch.GreatCircleRoute, 1.4 * 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := roads.New(tc.roads, roads.Options{})
			require.NoError(t, err)
			got, err := g.Travel(t.Context(), at(tc.incident[0], tc.incident[1]), []geo.LatLon{at(tc.unit[0], tc.unit[1])})
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tc.route, got[0].Route)
			assert.InDelta(t, tc.want, got[0].Metres, 0.5, "metres")
		})
	}
}

func TestTravelMany(t *testing.T) {
	// One search answers for every unit, in their order, whatever the mix of routed and not.
	g, err := roads.New([]roads.Road{road(false, pt{0, 0}, pt{1000, 0}, pt{1000, 1000})}, roads.Options{MaxOffRoad: 100, Detour: 2})
	require.NoError(t, err)
	units := []pt{{1000, 900}, {500, 500}, {0, 0}, {1000, 0}}
	from := make([]geo.LatLon, len(units))
	for i, u := range units {
		from[i] = at(u[0], u[1])
	}
	got, err := g.Travel(t.Context(), at(0, 0), from)
	require.NoError(t, err)
	want := []dispatch.Travel{
		{Metres: length(pt{1000, 900}, pt{1000, 0}, pt{0, 0}), Route: dispatch.RoadRoute},
		{Metres: 2 * length(pt{500, 500}, pt{0, 0}), Route: dispatch.GreatCircleRoute}, // 500 m off the road
		{Metres: 0, Route: dispatch.RoadRoute},
		{Metres: length(pt{1000, 0}, pt{0, 0}), Route: dispatch.RoadRoute},
	}
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Route, got[i].Route, "unit %d", i)
		assert.InDelta(t, want[i].Metres, got[i].Metres, 0.5, "unit %d: metres", i)
	}
}

func TestJunctions(t *testing.T) {
	// Points less than MergeRadius apart are one junction; a bridge drawn over a street, sharing no
	// point with it, is not.
	tests := []struct {
		name    string
		roads   []roads.Road
		nodes   int
		crosses bool // whether a unit on the second road reaches an incident on the first
	}{
		{"shared point", []roads.Road{road(false, pt{0, 0}, pt{100, 0}), road(false, pt{100, 0}, pt{100, 100})}, 3, true},
		{"half a metre apart", []roads.Road{road(false, pt{0, 0}, pt{100, 0}), road(false, pt{100.5, 0}, pt{100, 100})}, 3, true},
		{"two metres apart", []roads.Road{road(false, pt{0, 0}, pt{100, 0}), road(false, pt{102, 0}, pt{100, 100})}, 4, false},
		{"bridge over a street", []roads.Road{road(false, pt{0, 0}, pt{100, 0}), road(false, pt{50, -50}, pt{50, 50})}, 4, false},
	}
	for _, tc := range tests {
		g, err := roads.New(tc.roads, roads.Options{})
		require.NoError(t, err)
		n, _ := g.Size()
		assert.Equal(t, tc.nodes, n, "%s: nodes", tc.name)
		last := tc.roads[1].Points[len(tc.roads[1].Points)-1]
		got, err := g.Travel(t.Context(), tc.roads[0].Points[0], []geo.LatLon{last})
		require.NoError(t, err, tc.name)
		require.Len(t, got, 1, tc.name)
		assert.Equal(t, tc.crosses, got[0].Route == dispatch.RoadRoute, "%s: unit at the end of the second road measured %+v", tc.name, got[0])
	}
}

func TestNewRejects(t *testing.T) {
	ok := road(false, pt{0, 0}, pt{100, 0})
	tests := []struct {
		name  string
		roads []roads.Road
		o     roads.Options
		want  string // in the error
	}{
		{"no roads", nil, roads.Options{}, "no roads"},
		{"one point", []roads.Road{ok, {ID: "stub", Points: []geo.LatLon{origin}}}, roads.Options{}, "road 1 (stub): needs at least 2 points"},
		{"latitude off the globe", []roads.Road{ok, ok, {Points: []geo.LatLon{origin, {Lat: 91, Lon: 16}}}}, roads.Options{}, "road 2: point 1: position"},
		{"NaN", []roads.Road{{Points: []geo.LatLon{{Lat: math.NaN()}, origin}}}, roads.Options{}, "road 0: point 0"},
		{"lat and lon swapped", []roads.Road{{Points: []geo.LatLon{origin, {Lat: origin.Lon, Lon: origin.Lat}}}}, roads.Options{}, "road 0: points 0 and 1 are"},
		{"too many points", []roads.Road{{Points: make([]geo.LatLon, roads.MaxPoints+1)}}, roads.Options{}, "road 0: more than 1000000 points"},
		{"negative off-road distance", []roads.Road{ok}, roads.Options{MaxOffRoad: -1}, "max off-road"},
		{"detour below one", []roads.Road{ok}, roads.Options{Detour: 0.5}, "detour"},
	}
	for _, tc := range tests {
		_, err := roads.New(tc.roads, tc.o)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestTravelFarAway(t *testing.T) {
	// Positions at the poles, or on the other side of the globe, fall back at once: the search for a
	// nearby road is bounded by the network, not by a radius that grows without bound near the poles.
	// A network of roads all shorter than MergeRadius has nothing to snap to, nor has a position off
	// the globe.
	g, err := roads.New([]roads.Road{road(false, pt{0, 0}, pt{100, 0})}, roads.Options{})
	require.NoError(t, err)
	dot, err := roads.New([]roads.Road{road(false, pt{0, 0}, pt{0.5, 0})}, roads.Options{})
	require.NoError(t, err)
	far := []geo.LatLon{{Lat: 90, Lon: 0}, {Lat: -90, Lon: 180}, {Lat: 89.999999, Lon: 16.37}, {Lat: -48.2, Lon: -163.63}, at(50, 0)}
	for _, gr := range []*roads.Graph{g, dot} {
		for _, inc := range []geo.LatLon{at(0, 0), {Lat: 90, Lon: 0}} {
			got, err := gr.Travel(t.Context(), inc, far)
			require.NoError(t, err)
			nan, err := gr.Travel(t.Context(), inc, []geo.LatLon{{Lat: math.NaN()}})
			require.NoError(t, err, "unit at NaN")
			require.Len(t, nan, 1, "unit at NaN")
			assert.Equal(t, dispatch.GreatCircleRoute, nan[0].Route, "unit at NaN")
			require.Len(t, got, len(far))
			for i, tr := range got {
				routed := gr == g && inc == at(0, 0) && i == len(far)-1
				assert.Equal(t, routed, tr.Route == dispatch.RoadRoute, "unit at %+v, incident at %+v: %+v", far[i], inc, tr)
				if !routed {
					assert.InDelta(t, 1.4*geo.Distance(inc, far[i]), tr.Metres, 0.5, "unit at %+v, incident at %+v: metres", far[i], inc)
				}
			}
		}
	}
}

func TestTravelCancelled(t *testing.T) {
	g, err := roads.New([]roads.Road{road(false, pt{0, 0}, pt{100, 0})}, roads.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = g.Travel(ctx, at(0, 0), []geo.LatLon{at(100, 0)})
	assert.Error(t, err, "a cancelled search answered")
}
