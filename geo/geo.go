// Package geo holds positions on the Earth and the little geometry the product needs: great-circle
// distance (one Earth radius for every package), the distance from a point to a polygon's boundary,
// and whether a point is inside a polygon, on the globe (safe zones) or in a plane (image zones).
package geo

import (
	"fmt"
	"math"
)

// LatLon is a WGS84 position in degrees. Its YAML and JSON forms are {lat, lon}.
type LatLon struct {
	Lat float64 `yaml:"lat" json:"lat"`
	Lon float64 `yaml:"lon" json:"lon"`
}

// Validate rejects positions outside the globe (and NaNs), which would poison every distance.
func (p LatLon) Validate() error {
	if !(p.Lat >= -90 && p.Lat <= 90) || !(p.Lon >= -180 && p.Lon <= 180) {
		return fmt.Errorf("position (%v, %v) outside lat [-90, 90], lon [-180, 180]", p.Lat, p.Lon)
	}
	return nil
}

// IsZero reports an unset position.
func (p LatLon) IsZero() bool { return p.Lat == 0 && p.Lon == 0 }

// EarthRadius is the mean Earth radius (IUGG) in metres: the sphere every distance here is measured on.
const EarthRadius = 6371008.8

// Distance is the great-circle distance between a and b in metres (haversine).
func Distance(a, b LatLon) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

// onBoundary is how close to a zone's boundary, in metres, a point counts as on it (and so
// inside): a camera surveyed onto the boundary line must not flip in and out with rounding.
const onBoundary = 0.01

// vec is a point on the unit sphere.
type vec struct{ x, y, z float64 }

func toVec(p LatLon) vec {
	lat, lon := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	return vec{math.Cos(lat) * math.Cos(lon), math.Cos(lat) * math.Sin(lon), math.Sin(lat)}
}

func (v vec) latLon() LatLon {
	return LatLon{Lat: math.Atan2(v.z, math.Hypot(v.x, v.y)) * 180 / math.Pi, Lon: math.Atan2(v.y, v.x) * 180 / math.Pi}
}

func (v vec) dot(w vec) float64      { return v.x*w.x + v.y*w.y + v.z*w.z }
func (v vec) cross(w vec) vec        { return vec{v.y*w.z - v.z*w.y, v.z*w.x - v.x*w.z, v.x*w.y - v.y*w.x} }
func (v vec) scale(k float64) vec    { return vec{v.x * k, v.y * k, v.z * k} }
func (v vec) sub(w vec) vec          { return vec{v.x - w.x, v.y - w.y, v.z - w.z} }
func (v vec) norm() float64          { return math.Sqrt(v.dot(v)) }
func (v vec) angle(w vec) float64    { return math.Atan2(v.cross(w).norm(), v.dot(w)) }
func (v vec) unit() (vec, bool)      { n := v.norm(); return v.scale(1 / n), n > 1e-15 }
func (v vec) distance(w vec) float64 { return v.angle(w) * EarthRadius }

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
func ZoneDistance(zone []LatLon, p LatLon) (float64, LatLon) {
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
func InZone(zone []LatLon, p LatLon) bool {
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

// InPolygon reports whether the point (x, y) of a plane lies inside the polygon poly (vertices in
// order, the last joined to the first; concave is fine) or on its boundary, within a millionth of a
// unit. Fewer than 3 vertices are no polygon.
func InPolygon(poly [][2]float64, x, y float64) bool {
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

// onSegment reports whether (x, y) is on the segment a-b, within a millionth of a unit.
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
