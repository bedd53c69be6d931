package roads

import (
	"math"
	"snowlight/geo"
)

// segmentIndex buckets segments by the grid cells their bounding boxes cover, so that snapping a
// position looks at the segments near it instead of all of them.
type segmentIndex struct {
	cell  float64 // metres
	cells map[[2]int32][]int32
	// wide holds segments whose boxes cover too many cells to list (long diagonal roads); every snap
	// looks at them.
	wide []int32
	// lo and hi are the corner cells of the network: no search looks beyond them, however far its
	// radius reaches in cells (it grows without bound towards the poles).
	lo, hi [2]int32
}

// maxCellsPerSegment keeps one long segment from filling the index.
const maxCellsPerSegment = 1024

func newSegmentIndex(g *Graph, cell float64) segmentIndex {
	ix := segmentIndex{cell: cell, cells: map[[2]int32][]int32{}, lo: [2]int32{math.MaxInt32, math.MaxInt32}, hi: [2]int32{math.MinInt32, math.MinInt32}}
	for i, s := range g.segs {
		ax, ay := g.frame.xy(g.nodes[s.a])
		bx, by := g.frame.xy(g.nodes[s.b])
		x0, x1 := ix.at(math.Min(ax, bx)), ix.at(math.Max(ax, bx))
		y0, y1 := ix.at(math.Min(ay, by)), ix.at(math.Max(ay, by))
		ix.lo = [2]int32{min(ix.lo[0], x0), min(ix.lo[1], y0)}
		ix.hi = [2]int32{max(ix.hi[0], x1), max(ix.hi[1], y1)}
		if (int64(x1)-int64(x0)+1)*(int64(y1)-int64(y0)+1) > maxCellsPerSegment {
			ix.wide = append(ix.wide, int32(i))
			continue
		}
		for cx := x0; cx <= x1; cx++ {
			for cy := y0; cy <= y1; cy++ {
				k := [2]int32{cx, cy}
				ix.cells[k] = append(ix.cells[k], int32(i))
			}
		}
	}
	return ix
}

func (ix *segmentIndex) at(v float64) int32 { return int32(math.Floor(v / ix.cell)) }

// clamp limits a cell coordinate, computed in float64 so that it cannot overflow, to [lo, hi].
func clamp(v float64, lo, hi int32) int32 {
	return int32(math.Max(float64(lo), math.Min(float64(hi), v)))
}

// snap is where a position joins the network: at fraction t of segment seg, off metres away.
type snap struct {
	seg int32
	t   float64
	off float64
}

// snap finds the nearest point on any segment within MaxOffRoad of p; ok is false if there is none.
// The nearest point is found in an equirectangular frame centred on p, where a projection onto a
// segment a few hundred metres long is exact to well under a metre.
func (g *Graph) snap(p geo.LatLon) (s snap, ok bool) {
	if len(g.segs) == 0 || p.Validate() != nil {
		return snap{}, false // every road was shorter than MergeRadius, or p is off the globe
	}
	local := frameAt(p.Lat)
	best := math.Inf(1)
	try := func(i int32) {
		seg := g.segs[i]
		a, b := g.nodes[seg.a], g.nodes[seg.b]
		ax, ay := (a.Lon-p.Lon)*local.kx, (a.Lat-p.Lat)*local.ky
		bx, by := (b.Lon-p.Lon)*local.kx, (b.Lat-p.Lat)*local.ky
		dx, dy := bx-ax, by-ay
		t := 0.0
		if l2 := dx*dx + dy*dy; l2 > 0 {
			t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
		}
		x, y := ax+t*dx, ay+t*dy
		if d := x*x + y*y; d < best || (d == best && i < s.seg) {
			best, s = d, snap{seg: i, t: t}
		}
	}
	// The index's cells are in the network's frame; at p's latitude a cell may be narrower in metres.
	x, y := g.frame.xy(p)
	rx := math.Ceil(g.o.MaxOffRoad*g.frame.kx/local.kx/g.index.cell) + 1
	ry := math.Ceil(g.o.MaxOffRoad/g.index.cell) + 1
	cx, cy := math.Floor(x/g.index.cell), math.Floor(y/g.index.cell)
	x0, x1 := clamp(cx-rx, g.index.lo[0], g.index.hi[0]), clamp(cx+rx, g.index.lo[0], g.index.hi[0])
	y0, y1 := clamp(cy-ry, g.index.lo[1], g.index.hi[1]), clamp(cy+ry, g.index.lo[1], g.index.hi[1])
	for ix := x0; ix <= x1; ix++ {
		for iy := y0; iy <= y1; iy++ {
			// A segment listed in several cells is tried again, which costs less than remembering it.
			for _, i := range g.index.cells[[2]int32{ix, iy}] {
				try(i)
			}
		}
	}
	for _, i := range g.index.wide {
		try(i)
	}
	if math.IsInf(best, 1) {
		return snap{}, false
	}
	s.off = geo.Distance(p, g.point(s))
	return s, s.off <= g.o.MaxOffRoad
}

// point is the position of a snap, interpolated in degrees like the projection it was found in.
func (g *Graph) point(s snap) geo.LatLon {
	a, b := g.nodes[g.segs[s.seg].a], g.nodes[g.segs[s.seg].b]
	return geo.LatLon{Lat: a.Lat + s.t*(b.Lat-a.Lat), Lon: a.Lon + s.t*(b.Lon-a.Lon)}
}
