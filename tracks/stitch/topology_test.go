package stitch

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/geo"
)

func line(n int, lo, hi time.Duration) []Camera {
	// Cameras c0..c(n-1) along a street, 100 m apart, each a neighbour of the next both ways.
	cams := make([]Camera, n)
	for i := range cams {
		cams[i] = Camera{ID: camID(i), Position: geo.LatLon{Lat: 52.52, Lon: 13.40 + float64(i)*0.00147}}
		if i > 0 {
			cams[i].Neighbours = append(cams[i].Neighbours, Neighbour{Camera: camID(i - 1), Min: lo, Max: hi})
		}
		if i < n-1 {
			cams[i].Neighbours = append(cams[i].Neighbours, Neighbour{Camera: camID(i + 1), Min: lo, Max: hi})
		}
	}
	return cams
}

func camID(i int) string { return string(rune('A' + i)) }

func TestNewTopologyRejects(t *testing.T) {
	tests := []struct {
		name  string
		cams  []Camera
		learn Learning
	}{
		{"no id", []Camera{{Position: geo.LatLon{Lat: 1}}}, Learning{}},
		{"duplicate", []Camera{{ID: "a"}, {ID: "a"}}, Learning{}},
		{"latitude", []Camera{{ID: "a", Position: geo.LatLon{Lat: 91}}}, Learning{}},
		{"longitude", []Camera{{ID: "a", Position: geo.LatLon{Lon: math.NaN()}}}, Learning{}},
		{"unknown neighbour", []Camera{{ID: "a", Neighbours: []Neighbour{{Camera: "b", Max: time.Second}}}}, Learning{}},
		{"inverted window", []Camera{{ID: "a", Neighbours: []Neighbour{{Camera: "a", Min: 2 * time.Second, Max: time.Second}}}}, Learning{}},
		{"negative window", []Camera{{ID: "a", Neighbours: []Neighbour{{Camera: "a", Min: -time.Second, Max: time.Second}}}}, Learning{}},
		{"neighbour twice", []Camera{{ID: "a", Neighbours: []Neighbour{{Camera: "a", Max: 1}, {Camera: "a", Max: 2}}}}, Learning{}},
		{"learning samples", []Camera{{ID: "a"}}, Learning{Enabled: true, MinSamples: 1, MaxSamples: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTopology(tt.cams, tt.learn)
			assert.Error(t, err)
		})
	}
}

func TestRoute(t *testing.T) {
	topo, err := NewTopology(line(5, 10*time.Second, 30*time.Second), DefaultLearning())
	require.NoError(t, err)
	tests := []struct {
		from, to string
		maxHops  int
		lo, hi   time.Duration
		hops     int
		ok       bool
	}{
		{"A", "B", 3, 10 * time.Second, 30 * time.Second, 1, true},
		{"B", "A", 3, 10 * time.Second, 30 * time.Second, 1, true},
		// One camera passed unseen: windows add, plus dwell.
		{"A", "C", 3, 20 * time.Second, 60*time.Second + 7*time.Second, 2, true},
		{"A", "D", 3, 30 * time.Second, 90*time.Second + 14*time.Second, 3, true},
		{"A", "E", 3, 0, 0, 0, false},
		{"A", "C", 1, 0, 0, 0, false},
		// Back to the same camera through a neighbour.
		{"B", "B", 2, 20 * time.Second, 67 * time.Second, 2, true},
	}
	for _, tt := range tests {
		lo, hi, hops, ok := topo.Route(tt.from, tt.to, tt.maxHops, 7*time.Second)
		assert.Equal(t, tt.ok, ok, "Route(%s,%s,%d) found", tt.from, tt.to, tt.maxHops)
		assert.Equal(t, tt.lo, lo, "Route(%s,%s,%d) earliest", tt.from, tt.to, tt.maxHops)
		assert.Equal(t, tt.hi, hi, "Route(%s,%s,%d) latest", tt.from, tt.to, tt.maxHops)
		assert.Equal(t, tt.hops, hops, "Route(%s,%s,%d) hops", tt.from, tt.to, tt.maxHops)
	}
	assert.Equal(t, []string{"A", "B", "C", "D", "E"}, topo.Sources("C", 2), "Sources(C, 2)")
	assert.Equal(t, []string{"B"}, topo.Sources("A", 1), "Sources(A, 1)")
	assert.InDelta(t, 100, topo.Distance("A", "B"), 2, "distance A-B in metres")
}

func TestLearning(t *testing.T) {
	cams := line(3, 10*time.Second, 30*time.Second)
	off, err := NewTopology(cams, DefaultLearning())
	require.NoError(t, err)
	off.Observe("A", "C", 40*time.Second)
	_, _, ok := off.Window("A", "C")
	require.False(t, ok, "learned with learning off")
	learn := DefaultLearning()
	learn.Enabled = true
	topo, err := NewTopology(cams, learn)
	require.NoError(t, err)
	// A configured window is refined once enough transits are seen.
	for _, s := range []int{20, 21, 22, 23, 24} {
		topo.Observe("A", "B", time.Duration(s)*time.Second)
	}
	lo, hi, ok := topo.Window("A", "B")
	assert.True(t, ok, "A->B window")
	assert.True(t, topo.Learned("A", "B"), "A->B learned")
	assert.Equal(t, 15*time.Second+200*time.Millisecond, lo, "learned A->B window starts")
	assert.GreaterOrEqual(t, hi, 28*time.Second, "learned A->B window ends")
	assert.LessOrEqual(t, hi, 29*time.Second, "learned A->B window ends")
	// A path that was not configured appears after MinSamples transits.
	for i := 0; i < 4; i++ {
		topo.Observe("A", "C", 40*time.Second)
		_, _, ok := topo.Window("A", "C")
		require.False(t, ok, "edge after %d samples", i+1)
	}
	topo.Observe("A", "C", 42*time.Second)
	lo, hi, ok = topo.Window("A", "C")
	assert.True(t, ok, "A->C learned")
	assert.LessOrEqual(t, lo, 40*time.Second, "learned A->C window starts")
	assert.GreaterOrEqual(t, hi, 42*time.Second, "learned A->C window ends")
	_, _, hops, _ := topo.Route("A", "C", 3, 0)
	assert.Equal(t, 1, hops, "route A->C after learning takes the direct edge")
	topo.Observe("A", "nowhere", time.Second)
	_, _, ok = topo.Window("A", "nowhere")
	assert.False(t, ok, "learned an edge to an unknown camera")
}
