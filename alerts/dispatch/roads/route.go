package roads

import (
	"container/heap"
	"context"
	"math"

	"snowlight/alerts/dispatch"
	"snowlight/geo"
)

// Travel implements dispatch.Router: for each unit position in from, the metres to drive to the
// incident at to. A unit is routed when both it and the incident are within MaxOffRoad of a road and a
// way along the roads (one-way streets respected) leads from its road to the incident's; its distance
// is then the leg to its road, the way along the roads, and the leg from the incident's road to the
// incident. Any other unit gets the great-circle distance times Detour, marked GreatCircleRoute.
func (g *Graph) Travel(ctx context.Context, to geo.LatLon, from []geo.LatLon) ([]dispatch.Travel, error) {
	out := make([]dispatch.Travel, len(from))
	for i, p := range from {
		out[i] = dispatch.Travel{Metres: g.o.Detour * geo.Distance(p, to), Route: dispatch.GreatCircleRoute}
	}
	inc, ok := g.snap(to)
	if !ok {
		return out, nil
	}
	units := make([]snap, len(from))
	snapped := make([]bool, len(from))
	var targets []int32
	for i, p := range from {
		if units[i], snapped[i] = g.snap(p); snapped[i] {
			s := g.segs[units[i].seg]
			targets = append(targets, s.a, s.b)
		}
	}
	if len(targets) == 0 {
		return out, nil
	}
	dist, err := g.toward(ctx, inc, targets)
	if err != nil {
		return nil, err
	}
	for i, u := range units {
		if !snapped[i] {
			continue
		}
		if road := g.along(u, inc, dist); !math.IsInf(road, 1) {
			out[i] = dispatch.Travel{Metres: u.off + road + inc.off, Route: dispatch.RoadRoute}
		}
	}
	return out, nil
}

// along is the road distance from snap u to the incident's snap inc, given dist, each node's distance
// to inc; +Inf if no way leads there.
func (g *Graph) along(u, inc snap, dist []float64) float64 {
	s := g.segs[u.seg]
	// Forward along the segment to b, and, on a two-way road or from a itself, back to a.
	best := (1-u.t)*s.length + dist[s.b]
	if !s.oneway || u.t == 0 {
		best = math.Min(best, u.t*s.length+dist[s.a])
	}
	if u.seg == inc.seg {
		// On the incident's own segment: straight there, if the direction allows.
		if u.t <= inc.t {
			best = math.Min(best, (inc.t-u.t)*s.length)
		} else if !s.oneway {
			best = math.Min(best, (u.t-inc.t)*s.length)
		}
	}
	return best
}

// toward runs one Dijkstra search backwards from the incident's snap over the incoming edges, giving
// each node's distance to the incident (+Inf if none), and stops once every target node is settled.
func (g *Graph) toward(ctx context.Context, inc snap, targets []int32) ([]float64, error) {
	dist := make([]float64, len(g.nodes))
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	want := make([]bool, len(g.nodes))
	left := 0 // targets not yet settled
	for _, t := range targets {
		if !want[t] {
			want[t] = true
			left++
		}
	}
	q := &queue{}
	push := func(n int32, d float64) {
		if d < dist[n] {
			dist[n] = d
			q.next = item{n, d}
			heap.Push(q, nil)
		}
	}
	// The incident lies on a segment: reached from a along it, and from b if it is two-way or the
	// incident is at b itself.
	s := g.segs[inc.seg]
	push(s.a, inc.t*s.length)
	if !s.oneway || inc.t == 1 {
		push(s.b, (1-inc.t)*s.length)
	}
	settled := make([]bool, len(g.nodes))
	for pops := 0; q.Len() > 0 && left > 0; pops++ {
		if pops%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		heap.Pop(q)
		it := q.next
		if settled[it.node] {
			continue // a stale entry, superseded by a shorter one
		}
		settled[it.node] = true
		if want[it.node] {
			left--
		}
		for _, e := range g.in[g.inStart[it.node]:g.inStart[it.node+1]] {
			push(e.from, it.dist+e.length)
		}
	}
	return dist, nil
}

type item struct {
	node int32
	dist float64
}

// queue is a min-heap of items by distance. Items go in and out through next rather than through
// heap.Push's and heap.Pop's any, which would allocate for every one.
type queue struct {
	items []item
	next  item
}

func (q *queue) Len() int           { return len(q.items) }
func (q *queue) Less(i, j int) bool { return q.items[i].dist < q.items[j].dist }
func (q *queue) Swap(i, j int)      { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *queue) Push(any)           { q.items = append(q.items, q.next) }
func (q *queue) Pop() any {
	q.next = q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return nil
}
