package rules

import (
	"math"

	"snowlight/alerts/dispatch"
	"snowlight/watchlist"
)

// earthRadius is the mean Earth radius in metres (IUGG), the one alerts/dispatch measures with.
const earthRadius = 6371008.8

// onBoundary is how close to a safe zone's boundary, in metres, a point counts as on it (and so
// inside): a camera surveyed onto the boundary line must not flip in and out with rounding.
const onBoundary = 0.01

// vec is a point on the unit sphere.
type vec struct{ x, y, z float64 }

func toVec(p dispatch.LatLon) vec {
	lat, lon := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	return vec{math.Cos(lat) * math.Cos(lon), math.Cos(lat) * math.Sin(lon), math.Sin(lat)}
}

func (v vec) latLon() dispatch.LatLon {
	return dispatch.LatLon{Lat: math.Atan2(v.z, math.Hypot(v.x, v.y)) * 180 / math.Pi, Lon: math.Atan2(v.y, v.x) * 180 / math.Pi}
}

func (v vec) dot(w vec) float64      { return v.x*w.x + v.y*w.y + v.z*w.z }
func (v vec) cross(w vec) vec        { return vec{v.y*w.z - v.z*w.y, v.z*w.x - v.x*w.z, v.x*w.y - v.y*w.x} }
func (v vec) scale(k float64) vec    { return vec{v.x * k, v.y * k, v.z * k} }
func (v vec) sub(w vec) vec          { return vec{v.x - w.x, v.y - w.y, v.z - w.z} }
func (v vec) norm() float64          { return math.Sqrt(v.dot(v)) }
func (v vec) angle(w vec) float64    { return math.Atan2(v.cross(w).norm(), v.dot(w)) }
func (v vec) unit() (vec, bool)      { n := v.norm(); return v.scale(1 / n), n > 1e-15 }
func (v vec) distance(w vec) float64 { return v.angle(w) * earthRadius }

// nearestOnArc returns the point of the great-circle arc a-b (the shorter one) nearest to p.
func nearestOnArc(p, a, b vec) vec {
	n, ok := a.cross(b).unit()
	if !ok {
		return a // a and b coincide
	}
	// p's projection onto the arc's great circle.
	c, ok := p.sub(n.scale(p.dot(n))).unit()
	if ok && a.cross(c).dot(n) >= 0 && c.cross(b).dot(n) >= 0 {
		return c
	}
	if p.angle(a) <= p.angle(b) {
		return a
	}
	return b
}

// ZoneDistance returns the great-circle distance in metres from p to the boundary of the polygon
// zone (vertices in order, the last joined to the first; edges are great-circle arcs), and the
// boundary point nearest to p. It returns +Inf and p for a zone of fewer than 2 points.
func ZoneDistance(zone []dispatch.LatLon, p dispatch.LatLon) (float64, dispatch.LatLon) {
	if len(zone) < 2 {
		return math.Inf(1), p
	}
	pv := toVec(p)
	best, bestPt := math.Inf(1), vec{}
	for i := range zone {
		a, b := toVec(zone[i]), toVec(zone[(i+1)%len(zone)])
		c := nearestOnArc(pv, a, b)
		if d := pv.distance(c); d < best {
			best, bestPt = d, c
		}
	}
	return best, bestPt.latLon()
}

// InZone reports whether p lies inside the polygon zone or on its boundary. Polygons may be concave;
// they must be simple (no self-crossing) and smaller than a hemisphere, which every safe zone is.
// The inside test casts a ray in a plane tangent at p (longitudes unwrapped around p, so a zone may
// straddle the antimeridian); at city scale its edges differ from the great-circle arcs by
// millimetres, and points within onBoundary of an edge count as inside whatever the plane says.
func InZone(zone []dispatch.LatLon, p dispatch.LatLon) bool {
	if len(zone) < 3 {
		return false
	}
	if d, _ := ZoneDistance(zone, p); d <= onBoundary {
		return true
	}
	k := math.Cos(p.Lat * math.Pi / 180)
	pts := make([][2]float64, len(zone))
	for i, z := range zone {
		dlon := math.Remainder(z.Lon-p.Lon, 360)
		pts[i] = [2]float64{dlon * k, z.Lat - p.Lat}
	}
	return crossings(pts, 0, 0)%2 == 1
}

// crossings counts the polygon's edges that a ray from (x, y) towards +x crosses, with the
// half-open rule that counts a vertex on the ray once.
func crossings(poly [][2]float64, x, y float64) int {
	n := 0
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		if (a[1] > y) != (b[1] > y) {
			xc := a[0] + (y-a[1])*(b[0]-a[0])/(b[1]-a[1])
			if xc > x {
				n++
			}
		}
	}
	return n
}

// inImageZone reports whether the pixel point (x, y) lies inside the polygon or on its boundary.
func inImageZone(poly [][2]float64, x, y float64) bool {
	if len(poly) < 3 {
		return false
	}
	for i := range poly {
		if onSegment(poly[i], poly[(i+1)%len(poly)], x, y) {
			return true
		}
	}
	return crossings(poly, x, y)%2 == 1
}

// onSegment reports whether (x, y) is on the segment a-b, within a millionth of a pixel.
func onSegment(a, b [2]float64, x, y float64) bool {
	const eps = 1e-6
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return math.Hypot(x-a[0], y-a[1]) <= eps
	}
	t := math.Max(0, math.Min(1, ((x-a[0])*dx+(y-a[1])*dy)/l2))
	return math.Hypot(x-(a[0]+t*dx), y-(a[1]+t*dy)) <= eps
}

// safeZone is a person's safe zone in the dispatch package's coordinates, which the geometry here
// and the patrol planner share.
func safeZone(p *watchlist.Person) []dispatch.LatLon {
	out := make([]dispatch.LatLon, len(p.SafeZone))
	for i, pt := range p.SafeZone {
		out[i] = dispatch.LatLon{Lat: pt.Lat, Lon: pt.Lon}
	}
	return out
}
