package stitch

import (
	"math"
	"reflect"
	"snowlight/geo"
	"testing"
	"time"
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
			if _, err := NewTopology(tt.cams, tt.learn); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRoute(t *testing.T) {
	topo, err := NewTopology(line(5, 10*time.Second, 30*time.Second), DefaultLearning())
	if err != nil {
		t.Fatal(err)
	}
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
		if ok != tt.ok || lo != tt.lo || hi != tt.hi || hops != tt.hops {
			t.Errorf("Route(%s,%s,%d) = %v %v %d %v, want %v %v %d %v", tt.from, tt.to, tt.maxHops, lo, hi, hops, ok, tt.lo, tt.hi, tt.hops, tt.ok)
		}
	}
	if got, want := topo.Sources("C", 2), []string{"A", "B", "C", "D", "E"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources(C, 2) = %v, want %v", got, want)
	}
	if got, want := topo.Sources("A", 1), []string{"B"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources(A, 1) = %v, want %v", got, want)
	}
	if d := topo.Distance("A", "B"); math.Abs(d-100) > 2 {
		t.Errorf("distance A-B %.1f m, want about 100", d)
	}
}

func TestLearning(t *testing.T) {
	cams := line(3, 10*time.Second, 30*time.Second)
	off, _ := NewTopology(cams, DefaultLearning())
	off.Observe("A", "C", 40*time.Second)
	if _, _, ok := off.Window("A", "C"); ok {
		t.Fatal("learned with learning off")
	}
	learn := DefaultLearning()
	learn.Enabled = true
	topo, err := NewTopology(cams, learn)
	if err != nil {
		t.Fatal(err)
	}
	// A configured window is refined once enough transits are seen.
	for _, s := range []int{20, 21, 22, 23, 24} {
		topo.Observe("A", "B", time.Duration(s)*time.Second)
	}
	lo, hi, ok := topo.Window("A", "B")
	if !ok || !topo.Learned("A", "B") || lo != 15*time.Second+200*time.Millisecond || hi < 28*time.Second || hi > 29*time.Second {
		t.Errorf("learned A->B window %v..%v", lo, hi)
	}
	// A path that was not configured appears after MinSamples transits.
	for i := 0; i < 4; i++ {
		topo.Observe("A", "C", 40*time.Second)
		if _, _, ok := topo.Window("A", "C"); ok {
			t.Fatalf("edge after %d samples", i+1)
		}
	}
	topo.Observe("A", "C", 42*time.Second)
	if lo, hi, ok := topo.Window("A", "C"); !ok || lo > 40*time.Second || hi < 42*time.Second {
		t.Errorf("learned A->C %v..%v %v", lo, hi, ok)
	}
	if _, _, hops, _ := topo.Route("A", "C", 3, 0); hops != 1 {
		t.Errorf("route A->C takes %d hops after learning, want the direct edge", hops)
	}
	topo.Observe("A", "nowhere", time.Second)
	if _, _, ok := topo.Window("A", "nowhere"); ok {
		t.Error("learned an edge to an unknown camera")
	}
}
