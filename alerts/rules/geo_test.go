package rules

import (
	"math"
	"testing"

	"snowlight/alerts/dispatch"
)

// metres per degree of latitude on the mean-radius sphere.
const mPerDegLat = earthRadius * math.Pi / 180

func ll(lat, lon float64) dispatch.LatLon { return dispatch.LatLon{Lat: lat, Lon: lon} }

// The home community of the tests: a square about 1.1 km on a side around (48.2, 16.37), and a
// concave "U" (a courtyard open to the north) inside the same box.
var (
	square = []dispatch.LatLon{ll(48.195, 16.3625), ll(48.195, 16.3775), ll(48.205, 16.3775), ll(48.205, 16.3625)}
	// The U: the notch spans lon 16.3675-16.3725 from lat 48.199 up to the top edge.
	uShape = []dispatch.LatLon{
		ll(48.195, 16.3625), ll(48.195, 16.3775), ll(48.205, 16.3775), ll(48.205, 16.3725),
		ll(48.199, 16.3725), ll(48.199, 16.3675), ll(48.205, 16.3675), ll(48.205, 16.3625),
	}
)

func TestInZone(t *testing.T) {
	tests := []struct {
		name string
		zone []dispatch.LatLon
		p    dispatch.LatLon
		want bool
	}{
		{"centre of the square", square, ll(48.2, 16.37), true},
		{"north of the square", square, ll(48.21, 16.37), false},
		{"east of the square", square, ll(48.2, 16.38), false},
		{"on the south edge", square, ll(48.195, 16.37), true},
		{"on the east edge", square, ll(48.2, 16.3775), true},
		{"on a corner", square, ll(48.205, 16.3625), true},
		{"a metre outside the south edge", square, ll(48.195-1/mPerDegLat, 16.37), false},
		{"a metre inside the south edge", square, ll(48.195+1/mPerDegLat, 16.37), true},
		{"level with the top edge, outside", square, ll(48.205, 16.36), false},
		{"U: in the west arm", uShape, ll(48.203, 16.365), true},
		{"U: in the east arm", uShape, ll(48.203, 16.375), true},
		{"U: in the notch (concave part)", uShape, ll(48.203, 16.37), false},
		{"U: below the notch", uShape, ll(48.197, 16.37), true},
		{"U: on the notch's floor", uShape, ll(48.199, 16.37), true},
		{"U: on the notch's wall", uShape, ll(48.202, 16.3675), true},
		{"U: ray through the notch's vertices", uShape, ll(48.199, 16.365), true},
		{"zone across the antimeridian: inside", []dispatch.LatLon{ll(-17, 179.9), ll(-17, -179.9), ll(-16.9, -179.9), ll(-16.9, 179.9)}, ll(-16.95, 179.99), true},
		{"zone across the antimeridian: outside", []dispatch.LatLon{ll(-17, 179.9), ll(-17, -179.9), ll(-16.9, -179.9), ll(-16.9, 179.9)}, ll(-16.95, 179.8), false},
		{"two points are no zone", square[:2], ll(48.2, 16.37), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := InZone(tc.zone, tc.p); got != tc.want {
				t.Errorf("InZone(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestZoneDistance(t *testing.T) {
	equatorMetresPerDeg := earthRadius * math.Pi / 180
	tests := []struct {
		name    string
		zone    []dispatch.LatLon
		p       dispatch.LatLon
		want    float64 // metres
		tol     float64
		nearest dispatch.LatLon
	}{
		// On the equator the distance to a meridian is exactly the longitude difference.
		{"equator to a meridian segment", []dispatch.LatLon{ll(-1, 0), ll(1, 0)}, ll(0, 0.01), 0.01 * equatorMetresPerDeg, 1e-6, ll(0, 0)},
		// Beyond the segment's end the nearest point is the end.
		{"past the end of a segment", []dispatch.LatLon{ll(-1, 0), ll(1, 0)}, ll(2, 0), equatorMetresPerDeg, 1e-6, ll(1, 0)},
		// 500 m north of the square's north edge (a great-circle arc bulges north by millimetres).
		{"500 m north of the square", square, ll(48.205+500/mPerDegLat, 16.37), 500, 0.05, ll(48.205, 16.37)},
		{"2 km west of the square", square, ll(48.2, 16.3625-2000/(mPerDegLat*math.Cos(48.2*math.Pi/180))), 2000, 1, ll(48.2, 16.3625)},
		// Diagonally off a corner the corner is nearest: the distance is the corner's.
		{"off the north-east corner", square, ll(48.206, 16.379), haversine(ll(48.206, 16.379), ll(48.205, 16.3775)), 1e-3, ll(48.205, 16.3775)},
		// In the U's notch (outside the zone) the nearest boundary is the notch's east wall.
		{"in the U's notch", uShape, ll(48.202, 16.371), 0.0015 * mPerDegLat * math.Cos(48.202*math.Pi/180), 0.05, ll(48.202, 16.3725)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, near := ZoneDistance(tc.zone, tc.p)
			if math.Abs(d-tc.want) > tc.tol {
				t.Errorf("distance %.4f m, want %.4f ± %v", d, tc.want, tc.tol)
			}
			// The foot of the perpendicular to a meridian arc lies a little poleward of the point's
			// latitude (0.35 m at 2 km here): half a metre is close enough for a map.
			if dn := haversine(near, tc.nearest); dn > 0.5 {
				t.Errorf("nearest point %v, want %v (%.3f m apart)", near, tc.nearest, dn)
			}
			// The distance is the one to the point it names.
			if dd := haversine(tc.p, near); math.Abs(dd-d) > 1e-3 {
				t.Errorf("distance %.4f m but the nearest point is %.4f m away", d, dd)
			}
		})
	}
	if d, p := ZoneDistance(nil, ll(1, 2)); !math.IsInf(d, 1) || p != ll(1, 2) {
		t.Errorf("empty zone: %v %v", d, p)
	}
}

// haversine is an independent great-circle distance (the dispatcher's).
func haversine(a, b dispatch.LatLon) float64 { return dispatch.Distance(a, b) }

func TestInImageZone(t *testing.T) {
	// An L-shaped zone: a pavement along the bottom and up the right side of a 1280x720 view.
	l := [][2]float64{{0, 600}, {1280, 600}, {1280, 0}, {1100, 0}, {1100, 450}, {0, 450}}
	tri := [][2]float64{{100, 100}, {300, 100}, {200, 300}}
	tests := []struct {
		name string
		poly [][2]float64
		x, y float64
		want bool
	}{
		{"on the pavement", l, 500, 500, true},
		{"up the right side", l, 1200, 100, true},
		{"in the concave corner", l, 500, 200, false},
		{"below the zone", l, 500, 700, false},
		{"on the bottom edge", l, 500, 600, true},
		{"on the inner corner vertex", l, 1100, 450, true},
		{"on the inner vertical edge", l, 1100, 300, true},
		{"just left of the inner vertical edge", l, 1099.9, 300, false},
		{"triangle: inside", tri, 200, 150, true},
		{"triangle: on the slanted edge", tri, 150, 200, true},
		{"triangle: just outside the slanted edge", tri, 149, 200, false},
		{"triangle: level with the apex", tri, 250, 300, false},
		{"degenerate", [][2]float64{{0, 0}, {10, 10}}, 5, 5, false},
	}
	for _, tc := range tests {
		if got := inImageZone(tc.poly, tc.x, tc.y); got != tc.want {
			t.Errorf("%s: inImageZone(%v, %v) = %v, want %v", tc.name, tc.x, tc.y, got, tc.want)
		}
	}
}
