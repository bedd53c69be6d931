package dispatch_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/dispatch/roads"
	"snowlight/geo"
)

// east is m metres east of elm.
func east(m float64) geo.LatLon {
	return geo.LatLon{Lat: elm.Lat, Lon: elm.Lon + m/(111195.08*math.Cos(elm.Lat*math.Pi/180))}
}

// offset is e metres east and n metres north of elm.
func offset(e, n float64) geo.LatLon {
	p := east(e)
	p.Lat = north(n).Lat
	return p
}

func TestPlanByRoad(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := newRegistry(t, &now)
	// Elm Street runs along the south bank of a river; the north bank has its own street, and the only
	// bridge is 2 km east. u-across is 150 m away as the crow flies but across the water; u-bank is
	// 800 m down Elm Street.
	graph, err := roads.New([]roads.Road{
		{ID: "elm", Points: []geo.LatLon{offset(-500, 0), elm, east(2000)}},
		{ID: "north-bank", Points: []geo.LatLon{offset(-500, 150), north(150), offset(2000, 150)}},
		{ID: "bridge", Points: []geo.LatLon{east(2000), offset(2000, 150)}},
	}, roads.Options{})
	require.NoError(t, err)
	for id, p := range map[string]geo.LatLon{"u-across": north(150), "u-bank": east(800)} {
		require.NoError(t, r.Register(ctx, dispatch.Unit{ID: id, Area: "elm-st", Status: dispatch.Available, Position: p, PositionAt: now}))
	}
	tests := []struct {
		name   string
		router dispatch.Router
		want   []string
		routes []dispatch.Route
		metres []float64
	}{
		{"as the crow flies", nil, []string{"u-across", "u-bank"}, []dispatch.Route{"", ""},
			[]float64{geo.Distance(elm, north(150)), geo.Distance(elm, east(800))}},
		{"by road", graph, []string{"u-bank", "u-across"}, []dispatch.Route{dispatch.RoadRoute, dispatch.RoadRoute},
			[]float64{geo.Distance(elm, east(800)), geo.Distance(north(150), offset(2000, 150)) + geo.Distance(offset(2000, 150), east(2000)) + geo.Distance(east(2000), elm)}},
	}
	for _, tc := range tests {
		plan, err := r.Plan(ctx, dispatch.Incident{Position: elm, Area: "elm-st"}, dispatch.PlanOptions{Router: tc.router})
		require.NoError(t, err)
		require.Greater(t, len(plan), 2, "%s: plan %+v", tc.name, plan)
		for i, id := range tc.want {
			p := plan[i]
			assert.Equal(t, id, p.ID, "%s: plan[%d]", tc.name, i)
			assert.Equal(t, tc.routes[i], p.Route, "%s: plan[%d] (%s) route", tc.name, i, p.ID)
			assert.InDelta(t, tc.metres[i], p.Distance, 0.5, "%s: plan[%d] (%s) metres", tc.name, i, p.ID)
		}
		assert.Equal(t, dispatch.SupervisorTarget, plan[2].Kind, "%s: no supervisors after the units: %+v", tc.name, plan)
	}
}

// failing is a router that cannot answer.
type failing struct{}

func (failing) Travel(context.Context, geo.LatLon, []geo.LatLon) ([]dispatch.Travel, error) {
	return nil, context.DeadlineExceeded
}

func TestPlanRouterFails(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := newRegistry(t, &now)
	require.NoError(t, r.Register(t.Context(), dispatch.Unit{ID: "u1", Area: "elm-st", Status: dispatch.Available, Position: north(10), PositionAt: now}))
	_, err := r.Plan(t.Context(), dispatch.Incident{Position: elm, Area: "elm-st"}, dispatch.PlanOptions{Router: failing{}})
	assert.Error(t, err, "a plan without the router's answer")
}

// units is a Store over a fixed list, so that the benchmark measures planning, not the database.
type units []dispatch.Unit

func (u units) PatrolUnits(context.Context) ([]dispatch.Unit, error) { return u, nil }
func (u units) PatrolUnit(context.Context, string) (dispatch.Unit, error) {
	return dispatch.Unit{}, dispatch.ErrUnknownUnit
}
func (u units) PutPatrolUnit(context.Context, dispatch.Unit) error { return nil }
func (u units) SetPatrolPosition(context.Context, string, geo.LatLon, time.Time) error {
	return nil
}
func (u units) SetPatrolStatus(context.Context, string, dispatch.Status, time.Time) error { return nil }

// cityGrid is n by n intersections spacing metres apart north-east of elm, every street two-way
// except every fifth, one-way in alternating directions.
func cityGrid(n int, spacing float64) []roads.Road {
	var rs []roads.Road
	for i := range n {
		var row, col []geo.LatLon
		for j := range n {
			row = append(row, offset(float64(j)*spacing, float64(i)*spacing))
			col = append(col, offset(float64(i)*spacing, float64(j)*spacing))
		}
		oneway := i%5 == 0
		if oneway && i%10 == 0 {
			for k, l := 0, n-1; k < l; k, l = k+1, l-1 {
				row[k], row[l] = row[l], row[k]
			}
		}
		rs = append(rs, roads.Road{Oneway: oneway, Points: row}, roads.Road{Oneway: oneway, Points: col})
	}
	return rs
}

func BenchmarkPlanRoads(b *testing.B) {
	const n, spacing, nUnits = 100, 100.0, 50
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var us units
	for i := range nUnits {
		// Anywhere in the city, up to 30 m off the nearest street (a car park, a courtyard).
		p := offset(rng.Float64()*spacing*(n-1), math.Round(rng.Float64()*(n-1))*spacing+rng.Float64()*30)
		us = append(us, dispatch.Unit{ID: fmt.Sprintf("u%02d", i), Area: "elm-st", Status: dispatch.Available, Position: p, PositionAt: now})
	}
	r, err := dispatch.NewRegistry(us, grid(), func() time.Time { return now })
	require.NoError(b, err)
	start := time.Now()
	graph, err := roads.New(cityGrid(n, spacing), roads.Options{})
	require.NoError(b, err)
	nodes, segs := graph.Size()
	b.Logf("graph of %d nodes, %d segments built in %v", nodes, segs, time.Since(start))
	incidents := make([]dispatch.Incident, 64)
	for i := range incidents {
		incidents[i] = dispatch.Incident{Position: offset(rng.Float64()*spacing*(n-1), rng.Float64()*spacing*(n-1)), Area: "elm-st"}
	}
	for _, bc := range []struct {
		name   string
		router dispatch.Router
	}{{"great_circle", nil}, {"roads", graph}} {
		b.Run(bc.name, func(b *testing.B) {
			routed := 0
			i := 0
			for b.Loop() {
				plan, err := r.Plan(b.Context(), incidents[i%len(incidents)], dispatch.PlanOptions{Router: bc.router})
				require.NoError(b, err)
				if plan[0].Route == dispatch.RoadRoute {
					routed++
				}
				i++
			}
			b.ReportMetric(float64(routed)/float64(i), "routed/op")
		})
	}
}
