package geo

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metres per degree of latitude on the mean-radius sphere.
const mPerDegLat = EarthRadius * math.Pi / 180

func ll(lat, lon float64) LatLon { return LatLon{Lat: lat, Lon: lon} }

// The home community of the tests: a square about 1.1 km on a side around (48.2, 16.37), and a
// concave "U" (a courtyard open to the north) inside the same box.
var (
	square = []LatLon{ll(48.195, 16.3625), ll(48.195, 16.3775), ll(48.205, 16.3775), ll(48.205, 16.3625)}
	// The U: the notch spans lon 16.3675-16.3725 from lat 48.199 up to the top edge.
	uShape = []LatLon{
		ll(48.195, 16.3625), ll(48.195, 16.3775), ll(48.205, 16.3775), ll(48.205, 16.3725),
		ll(48.199, 16.3725), ll(48.199, 16.3675), ll(48.205, 16.3675), ll(48.205, 16.3625),
	}
)

func TestInZone(t *testing.T) {
	tests := []struct {
		name string
		zone []LatLon
		p    LatLon
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
		{"zone across the antimeridian: inside", []LatLon{ll(-17, 179.9), ll(-17, -179.9), ll(-16.9, -179.9), ll(-16.9, 179.9)}, ll(-16.95, 179.99), true},
		{"zone across the antimeridian: outside", []LatLon{ll(-17, 179.9), ll(-17, -179.9), ll(-16.9, -179.9), ll(-16.9, 179.9)}, ll(-16.95, 179.8), false},
		{"two points are no zone", square[:2], ll(48.2, 16.37), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, InZone(tc.zone, tc.p), "InZone(%v)", tc.p)
		})
	}
}

func TestZoneDistance(t *testing.T) {
	equatorMetresPerDeg := EarthRadius * math.Pi / 180
	tests := []struct {
		name    string
		zone    []LatLon
		p       LatLon
		want    float64 // metres
		tol     float64
		nearest LatLon
	}{
		// On the equator the distance to a meridian is exactly the longitude difference.
		{"equator to a meridian segment", []LatLon{ll(-1, 0), ll(1, 0)}, ll(0, 0.01), 0.01 * equatorMetresPerDeg, 1e-6, ll(0, 0)},
		// Beyond the segment's end the nearest point is the end.
		{"past the end of a segment", []LatLon{ll(-1, 0), ll(1, 0)}, ll(2, 0), equatorMetresPerDeg, 1e-6, ll(1, 0)},
		// 500 m north of the square's north edge (a great-circle arc bulges north by millimetres).
		{"500 m north of the square", square, ll(48.205+500/mPerDegLat, 16.37), 500, 0.05, ll(48.205, 16.37)},
		{"2 km west of the square", square, ll(48.2, 16.3625-2000/(mPerDegLat*math.Cos(48.2*math.Pi/180))), 2000, 1, ll(48.2, 16.3625)},
		// Diagonally off a corner the corner is nearest: the distance is the corner's.
		{"off the north-east corner", square, ll(48.206, 16.379), Distance(ll(48.206, 16.379), ll(48.205, 16.3775)), 1e-3, ll(48.205, 16.3775)},
		// In the U's notch (outside the zone) the nearest boundary is the notch's east wall.
		{"in the U's notch", uShape, ll(48.202, 16.371), 0.0015 * mPerDegLat * math.Cos(48.202*math.Pi/180), 0.05, ll(48.202, 16.3725)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, near := ZoneDistance(tc.zone, tc.p)
			assert.InDelta(t, tc.want, d, tc.tol, "distance")
			// The foot of the perpendicular to a meridian arc lies a little poleward of the point's
			// latitude (0.35 m at 2 km here): half a metre is close enough for a map.
			assert.LessOrEqual(t, Distance(near, tc.nearest), 0.5, "nearest point %v, want %v", near, tc.nearest)
			// The distance is the one to the point it names, measured independently (haversine).
			assert.InDelta(t, d, Distance(tc.p, near), 1e-3, "distance to the nearest point")
		})
	}
	d, p := ZoneDistance(nil, ll(1, 2))
	assert.True(t, math.IsInf(d, 1), "empty zone: distance %v", d)
	assert.Equal(t, ll(1, 2), p)
}

func TestDistance(t *testing.T) {
	quarter := EarthRadius * math.Pi / 2
	tests := []struct {
		name string
		a, b LatLon
		want float64
	}{
		{"same point", ll(48.2, 16.37), ll(48.2, 16.37), 0},
		{"a degree of latitude", ll(48, 16), ll(49, 16), mPerDegLat},
		{"a degree of longitude on the equator", ll(0, 0), ll(0, 1), mPerDegLat},
		{"equator to the pole", ll(0, 30), ll(90, 0), quarter},
		{"a quarter of the equator", ll(0, -45), ll(0, 45), quarter},
		{"antipodes", ll(10, 20), ll(-10, -160), 2 * quarter},
		{"across the antimeridian", ll(0, 179.5), ll(0, -179.5), mPerDegLat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, Distance(tc.a, tc.b), 1e-6*max(1, tc.want))
			assert.InDelta(t, Distance(tc.a, tc.b), Distance(tc.b, tc.a), 1e-9, "symmetric")
		})
	}
}

// Known distances on the ground, to the metres they are usually quoted to.
func TestDistanceKnown(t *testing.T) {
	tests := []struct {
		name      string
		a, b      LatLon
		want, tol float64 // metres
	}{
		{"one degree of longitude at 60N is half", ll(60, 0), ll(60, 1), 55597, 10},
		{"Paris to London", ll(48.8566, 2.3522), ll(51.5074, -0.1278), 343_556, 500},
		{"across the date line", ll(0, 179.999), ll(0, -179.999), 222.4, 0.5},
	}
	for _, tc := range tests {
		assert.InDelta(t, tc.want, Distance(tc.a, tc.b), tc.tol, "%s: metres", tc.name)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []LatLon{ll(0, 0), ll(90, 180), ll(-90, -180), ll(48.2, 16.37)} {
		require.NoError(t, p.Validate(), "%v", p)
	}
	for _, p := range []LatLon{ll(90.1, 0), ll(0, -180.5), ll(math.NaN(), 0), ll(0, math.Inf(1))} {
		assert.Error(t, p.Validate(), "%v", p)
	}
	assert.True(t, LatLon{}.IsZero())
	assert.False(t, ll(0, 1).IsZero())
}

func TestInPolygon(t *testing.T) {
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
		assert.Equal(t, tc.want, InPolygon(tc.poly, tc.x, tc.y), "%s: InPolygon(%v, %v)", tc.name, tc.x, tc.y)
	}
}
