// Package roads routes patrol units over a road network given in the configuration, for deployments
// with no map service: one shortest-path search from an incident measures how far every unit has to
// drive. A Graph is a dispatch.Router.
//
// The network is meant for one city or region: positions are projected into one equirectangular frame,
// which is accurate to a fraction of a percent over tens of kilometres but does not handle roads across
// the antimeridian or near the poles.
package roads

import (
	"errors"
	"fmt"
	"math"
	"snowlight/geo"
)

// Road is one street or part of one: a polyline, drawn in the order traffic flows if it is one-way.
// Roads meet where they share a point (equal, or within MergeRadius); roads that merely cross, such as
// a bridge over a street, do not meet.
type Road struct {
	ID     string // names the road in errors; optional
	Oneway bool
	Points []geo.LatLon
}

// Limits on the input.
const (
	// MaxPoints bounds the points of all roads together: a city's streets are tens of thousands.
	MaxPoints = 1_000_000
	// MaxSegment bounds the distance between two consecutive points of a road; a longer one is a typo
	// (say, latitude and longitude swapped), not a road.
	MaxSegment = 100_000.0 // metres
	// MergeRadius is how close two points of different roads must be to be one junction: drawings of
	// the same crossing rarely agree to the last digit.
	MergeRadius = 1.0 // metres
)

// Options tune how units that the network cannot route are measured.
type Options struct {
	// MaxOffRoad is how far a position may be from its nearest road to be routed [500 m]. Beyond it the
	// unit (or, for the incident, every unit) is measured as the crow flies.
	MaxOffRoad float64
	// Detour scales the great-circle distance of a unit that cannot be routed [1.4, a common circuity
	// of city streets], so that it neither wins over routed units for being measured in a straight line
	// nor is dropped: an unmapped unit may still be the nearest help.
	Detour float64
}

// Graph is a road network. It is immutable after New and safe for concurrent use.
type Graph struct {
	o     Options
	frame frame
	nodes []geo.LatLon
	segs  []segment
	// in lists, for node v, the edges that end at v (in[inStart[v]:inStart[v+1]]): the search runs
	// from the incident backwards, so that one-way streets count in the direction units drive.
	inStart []int32
	in      []edge
	index   segmentIndex
}

// segment is a straight piece of a road between two nodes, a to b in the direction of a one-way road.
type segment struct {
	a, b   int32
	length float64 // metres
	oneway bool
}

// edge is a way into a node, from node from.
type edge struct {
	from   int32
	length float64
}

// New builds the graph of roads. Errors name the road by its index in roads.
func New(roads []Road, o Options) (*Graph, error) {
	if o.MaxOffRoad == 0 {
		o.MaxOffRoad = 500
	}
	if o.Detour == 0 {
		o.Detour = 1.4
	}
	if !(o.MaxOffRoad >= 1 && o.MaxOffRoad <= 100_000) || !(o.Detour >= 1 && o.Detour <= 10) {
		return nil, fmt.Errorf("road graph: max off-road %v m must be in [1 m, 100 km], detour %v in [1, 10]", o.MaxOffRoad, o.Detour)
	}
	if len(roads) == 0 {
		return nil, errors.New("road graph: no roads")
	}
	if err := validate(roads); err != nil {
		return nil, fmt.Errorf("road graph: %w", err)
	}
	g := &Graph{o: o, frame: newFrame(roads)}
	junctions := newJunctions(g.frame)
	for _, r := range roads {
		prev := int32(-1)
		for _, p := range r.Points {
			n := junctions.node(p, &g.nodes)
			if prev >= 0 && n != prev {
				g.segs = append(g.segs, segment{a: prev, b: n, length: geo.Distance(g.nodes[prev], g.nodes[n]), oneway: r.Oneway})
			}
			prev = n
		}
	}
	g.link()
	g.index = newSegmentIndex(g, o.MaxOffRoad/2)
	return g, nil
}

func validate(roads []Road) error {
	total := 0
	for i, r := range roads {
		name := fmt.Sprintf("road %d", i)
		if r.ID != "" {
			name = fmt.Sprintf("road %d (%s)", i, r.ID)
		}
		if len(r.Points) < 2 {
			return fmt.Errorf("%s: needs at least 2 points, has %d", name, len(r.Points))
		}
		if total += len(r.Points); total > MaxPoints {
			return fmt.Errorf("%s: more than %d points in all roads", name, MaxPoints)
		}
		for j, p := range r.Points {
			if err := p.Validate(); err != nil {
				return fmt.Errorf("%s: point %d: %w", name, j, err)
			}
			if j > 0 {
				if d := geo.Distance(r.Points[j-1], p); d > MaxSegment {
					return fmt.Errorf("%s: points %d and %d are %.0f km apart, more than %.0f km", name, j-1, j, d/1000, MaxSegment/1000)
				}
			}
		}
	}
	return nil
}

// link builds the incoming edges of each node.
func (g *Graph) link() {
	count := make([]int32, len(g.nodes)+1)
	for _, s := range g.segs {
		count[s.b+1]++
		if !s.oneway {
			count[s.a+1]++
		}
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	g.inStart = count
	g.in = make([]edge, count[len(count)-1])
	next := append([]int32(nil), count[:len(g.nodes)]...)
	for _, s := range g.segs {
		g.in[next[s.b]] = edge{from: s.a, length: s.length}
		next[s.b]++
		if !s.oneway {
			g.in[next[s.a]] = edge{from: s.b, length: s.length}
			next[s.a]++
		}
	}
}

// Size reports the junctions and road segments of the graph.
func (g *Graph) Size() (nodes, segments int) { return len(g.nodes), len(g.segs) }

// frame is an equirectangular projection to metres around the network's middle latitude.
type frame struct{ kx, ky float64 }

func newFrame(roads []Road) frame {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range roads {
		for _, p := range r.Points {
			lo, hi = math.Min(lo, p.Lat), math.Max(hi, p.Lat)
		}
	}
	return frameAt((lo + hi) / 2)
}

func frameAt(lat float64) frame {
	ky := geo.EarthRadius * math.Pi / 180
	return frame{kx: ky * math.Cos(lat*math.Pi/180), ky: ky}
}

func (f frame) xy(p geo.LatLon) (x, y float64) { return p.Lon * f.kx, p.Lat * f.ky }

// junctions finds the node of a point: an existing one within MergeRadius, or a new one.
type junctions struct {
	f     frame
	cells map[[2]int64][]int32
}

// junctionCell is larger than MergeRadius so that the 3x3 cells around a point hold every node within
// MergeRadius even where the frame's scale is off by up to a factor of two.
const junctionCell = 2 * MergeRadius

func newJunctions(f frame) *junctions { return &junctions{f: f, cells: map[[2]int64][]int32{}} }

func (j *junctions) node(p geo.LatLon, nodes *[]geo.LatLon) int32 {
	x, y := j.f.xy(p)
	cx, cy := int64(math.Floor(x/junctionCell)), int64(math.Floor(y/junctionCell))
	for dx := int64(-1); dx <= 1; dx++ {
		for dy := int64(-1); dy <= 1; dy++ {
			for _, n := range j.cells[[2]int64{cx + dx, cy + dy}] {
				if geo.Distance((*nodes)[n], p) <= MergeRadius {
					return n
				}
			}
		}
	}
	n := int32(len(*nodes))
	*nodes = append(*nodes, p)
	k := [2]int64{cx, cy}
	j.cells[k] = append(j.cells[k], n)
	return n
}
