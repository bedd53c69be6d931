// Package stitch links sightings from different cameras into trajectories: one person's path through
// the camera network.
//
// A Topology says where cameras are and which camera a person can reach from which, in what time.
// The Stitcher scores every plausible pair of sightings with the log-likelihood ratio of "same
// person" from transit time, face similarity (strong), appearance similarity (weak) and watch-list
// identity, and keeps a maximum-weight assignment in which each sighting continues at most one
// trajectory and is continued by at most one sighting.
//
// It refuses the links a careful human would refuse. Two sightings in view at the same time on one
// camera, or on cameras too far apart for one person to be in both views, are two people: never
// linked, and never in one trajectory however plausible each link in between (the weakest link
// between them goes). A link resting on appearance and timing alone must clear a higher bar than
// one a face or watch-list identity vouches for, and one back to the camera it left must also stand
// out in appearance from every alternative. Recent decisions stay open for a while, so better
// evidence arriving later (a better continuation, a lookalike, a conflict) can still change them;
// every decision keeps its score and evidence, and Explain gives the reasons for the links weighed.
package stitch

import (
	"fmt"
	"math"
	"slices"
	"snowlight/geo"
	"sort"
	"time"
)

// Camera is one camera's place in the network.
type Camera struct {
	ID         string
	Position   geo.LatLon
	Neighbours []Neighbour
}

// Neighbour is a camera a person can reach next and the plausible transit time: from leaving this
// camera's view to entering the neighbour's.
type Neighbour struct {
	Camera   string
	Min, Max time.Duration
}

// Learning tunes how observed transits refine the topology.
type Learning struct {
	// Enabled lets confident links between cameras refine configured windows and discover transits
	// between cameras that are not configured as neighbours.
	Enabled bool
	// MinSamples is how many confident transits an edge needs before its window is learned.
	MinSamples int
	// MaxSamples bounds the transits remembered per edge (the most recent are kept).
	MaxSamples int
}

// DefaultLearning is learning switched off, with the sample counts it uses when switched on.
func DefaultLearning() Learning { return Learning{MinSamples: 5, MaxSamples: 200} }

// Topology is the camera network. It is not safe for concurrent use; the stitcher that owns it
// serialises access.
type Topology struct {
	cams  map[string]Camera
	edges map[[2]string]*edge
	learn Learning
	// Derived from edges, rebuilt after learning changes them.
	adj, radj map[string][]string
	routes    map[routeKey]route
}

type edge struct {
	min, max   time.Duration
	configured bool
	learned    bool
	samples    []time.Duration
}

// NewTopology checks the cameras and builds the network. Neighbours are directed: list both
// directions for a two-way path. A camera may list itself to allow re-entry.
func NewTopology(cams []Camera, learn Learning) (*Topology, error) {
	if learn.Enabled && (learn.MinSamples < 2 || learn.MaxSamples < learn.MinSamples) {
		return nil, fmt.Errorf("topology: learning needs 2 <= MinSamples <= MaxSamples, got %d and %d", learn.MinSamples, learn.MaxSamples)
	}
	t := &Topology{cams: map[string]Camera{}, edges: map[[2]string]*edge{}, learn: learn}
	for i, c := range cams {
		switch {
		case c.ID == "":
			return nil, fmt.Errorf("topology: camera %d has no id", i)
		case c.Position.Validate() != nil:
			return nil, fmt.Errorf("topology: camera %s: %w", c.ID, c.Position.Validate())
		}
		if _, dup := t.cams[c.ID]; dup {
			return nil, fmt.Errorf("topology: camera %s listed twice", c.ID)
		}
		t.cams[c.ID] = c
	}
	for _, c := range cams {
		for _, n := range c.Neighbours {
			if _, ok := t.cams[n.Camera]; !ok {
				return nil, fmt.Errorf("topology: camera %s: neighbour %q is not a camera", c.ID, n.Camera)
			}
			if n.Min < 0 || n.Max < n.Min {
				return nil, fmt.Errorf("topology: camera %s -> %s: transit window %v..%v is not 0 <= min <= max", c.ID, n.Camera, n.Min, n.Max)
			}
			k := [2]string{c.ID, n.Camera}
			if _, dup := t.edges[k]; dup {
				return nil, fmt.Errorf("topology: camera %s lists neighbour %s twice", c.ID, n.Camera)
			}
			t.edges[k] = &edge{min: n.Min, max: n.Max, configured: true}
		}
	}
	return t, nil
}

// Camera returns a camera by id.
func (t *Topology) Camera(id string) (Camera, bool) {
	c, ok := t.cams[id]
	return c, ok
}

// Window returns the transit window from one camera to another, configured or learned.
func (t *Topology) Window(from, to string) (min, max time.Duration, ok bool) {
	e, ok := t.edges[[2]string{from, to}]
	if !ok || (!e.configured && !e.learned) {
		return 0, 0, false
	}
	return e.min, e.max, true
}

// Distance is the great-circle distance between two cameras in metres, NaN when either is unknown.
func (t *Topology) Distance(a, b string) float64 {
	ca, okA := t.cams[a]
	cb, okB := t.cams[b]
	if !okA || !okB {
		return math.NaN()
	}
	return geo.Distance(ca.Position, cb.Position)
}

// route is the transit window over a path of one or more edges.
type route struct {
	min, max time.Duration
	hops     int
	ok       bool
}

type routeKey struct {
	from, to string
	maxHops  int
	dwell    time.Duration
}

// Route returns the transit window from one camera to another over at most maxHops edges, so that
// a person missed by the cameras in between can still be followed: the direct edge when there is
// one, else the fewest hops, the window spanning every such path (minimum of the sums of minimums
// to maximum of the sums of maximums plus dwell for each camera passed unseen).
func (t *Topology) Route(from, to string, maxHops int, dwell time.Duration) (lo, hi time.Duration, hops int, ok bool) {
	k := routeKey{from, to, maxHops, dwell}
	if r, hit := t.routes[k]; hit {
		return r.min, r.max, r.hops, r.ok
	}
	r := t.route(from, to, maxHops, dwell)
	if t.routes == nil {
		t.routes = map[routeKey]route{}
	}
	t.routes[k] = r
	return r.min, r.max, r.hops, r.ok
}

func (t *Topology) route(from, to string, maxHops int, dwell time.Duration) route {
	if lo, hi, ok := t.Window(from, to); ok {
		return route{lo, hi, 1, true}
	}
	type state struct {
		cam      string
		min, max time.Duration
		path     []string
	}
	var r route
	frontier := []state{{cam: from, path: []string{from}}}
	for h := 1; h <= maxHops && !r.ok; h++ {
		var next []state
		for _, st := range frontier {
			for _, n := range t.next(st.cam) {
				e := t.edges[[2]string{st.cam, n}]
				ns := state{cam: n, min: st.min + e.min, max: st.max + e.max}
				if n == to {
					ns.max += dwell * time.Duration(h-1)
					if !r.ok || ns.min < r.min {
						r.min = ns.min
					}
					if !r.ok || ns.max > r.max {
						r.max = ns.max
					}
					r.ok, r.hops = true, h
					continue
				}
				if slices.Contains(st.path, n) {
					continue
				}
				ns.path = append(slices.Clone(st.path), n)
				next = append(next, ns)
			}
		}
		frontier = next
	}
	return r
}

// next lists the cameras reachable over one configured or learned edge, sorted.
func (t *Topology) next(from string) []string {
	if t.adj == nil {
		t.adj = map[string][]string{}
		for k, e := range t.edges {
			if e.configured || e.learned {
				t.adj[k[0]] = append(t.adj[k[0]], k[1])
			}
		}
		for _, v := range t.adj {
			slices.Sort(v)
		}
	}
	return t.adj[from]
}

// Sources lists the cameras from which to can be reached within maxHops edges, sorted.
func (t *Topology) Sources(to string, maxHops int) []string {
	if t.radj == nil {
		t.radj = map[string][]string{}
		for k, e := range t.edges {
			if e.configured || e.learned {
				t.radj[k[1]] = append(t.radj[k[1]], k[0])
			}
		}
	}
	return reach(t.radj, to, maxHops)
}

// Targets lists the cameras that can be reached from from within maxHops edges, sorted.
func (t *Topology) Targets(from string, maxHops int) []string {
	t.next(from) // builds the adjacency
	return reach(t.adj, from, maxHops)
}

func reach(adj map[string][]string, start string, maxHops int) []string {
	seen := map[string]bool{}
	frontier := []string{start}
	for h := 0; h < maxHops; h++ {
		var next []string
		for _, c := range frontier {
			for _, p := range adj[c] {
				if !seen[p] {
					seen[p] = true
					next = append(next, p)
				}
			}
		}
		frontier = next
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// changed drops what was derived from the edges.
func (t *Topology) changed() {
	t.adj, t.radj, t.routes = nil, nil, nil
}

// MaxWindow is the longest transit window of any edge.
func (t *Topology) MaxWindow() time.Duration {
	var m time.Duration
	for _, e := range t.edges {
		if e.configured || e.learned {
			m = max(m, e.max)
		}
	}
	return m
}

// Observe records the transit of a confident link. With learning enabled, once an edge has
// MinSamples transits its window becomes the 5th..95th percentile of them widened by a quarter of
// that spread (at least 5 s) on each side; an edge between cameras that were not neighbours appears.
func (t *Topology) Observe(from, to string, transit time.Duration) {
	if !t.learn.Enabled || transit < 0 {
		return
	}
	k := [2]string{from, to}
	e, ok := t.edges[k]
	if !ok {
		if _, okA := t.cams[from]; !okA {
			return
		}
		if _, okB := t.cams[to]; !okB {
			return
		}
		e = &edge{}
		t.edges[k] = e
	}
	e.samples = append(e.samples, transit)
	if len(e.samples) > t.learn.MaxSamples {
		e.samples = slices.Delete(e.samples, 0, len(e.samples)-t.learn.MaxSamples)
	}
	if len(e.samples) < t.learn.MinSamples {
		return
	}
	s := slices.Clone(e.samples)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	lo, hi := quantile(s, 0.05), quantile(s, 0.95)
	pad := max((hi-lo)/4, 5*time.Second)
	e.min, e.max = max(0, lo-pad), hi+pad
	e.learned = true
	t.changed()
}

// Learned reports whether an edge's window comes from observed transits.
func (t *Topology) Learned(from, to string) bool {
	e, ok := t.edges[[2]string{from, to}]
	return ok && e.learned
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + time.Duration(f*float64(sorted[i+1]-sorted[i]))
}
