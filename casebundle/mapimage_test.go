package casebundle_test

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/casebundle"
	"snowlight/geo"
)

// TestMapPNG: the route starts green and ends red where its first and last positions fall, cameras on
// the route are filled and the others hollow, and the whole scene fits inside the margins.
func TestMapPNG(t *testing.T) {
	cams := []casebundle.MapCamera{
		{ID: "c1", Pos: geo.LatLon{Lat: 52.2297, Lon: 21.0122}},
		{ID: "c2", Pos: geo.LatLon{Lat: 52.2310, Lon: 21.0160}},
		{ID: "c3", Pos: geo.LatLon{Lat: 52.2280, Lon: 21.0200}},
	}
	route := []geo.LatLon{cams[0].Pos, cams[1].Pos}
	b, err := casebundle.MapPNG(route, cams, []string{"c1", "c2"}, casebundle.MapOptions{Width: 400, Height: 300})
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, 400, img.Bounds().Dx())
	require.Equal(t, 300, img.Bounds().Dy())

	// The map's scale: the scene's longer side spans the picture less 40-pixel margins.
	at := func(p geo.LatLon) (int, int) {
		cos := math.Cos((52.2280 + 52.2310) / 2 * math.Pi / 180)
		spanX := (21.0200 - 21.0122) * cos * 111320
		spanY := (52.2310 - 52.2280) * 111320
		s := math.Min(320/spanX, 220/spanY)
		return int(math.Round(200 + (p.Lon-(21.0122+21.0200)/2)*cos*111320*s)),
			int(math.Round(150 - (p.Lat-(52.2280+52.2310)/2)*111320*s))
	}
	rgb := func(x, y int) color.RGBA {
		r, g, b, _ := img.At(x, y).RGBA()
		return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
	}
	x, y := at(route[0])
	assert.Equal(t, color.RGBA{20, 140, 60, 255}, rgb(x, y), "start")
	x, y = at(route[1])
	assert.Equal(t, color.RGBA{200, 30, 30, 255}, rgb(x, y), "end")
	x, y = at(cams[2].Pos)
	assert.Equal(t, color.RGBA{246, 244, 238, 255}, rgb(x, y), "a camera not on the route is hollow")
	assert.Equal(t, color.RGBA{110, 110, 110, 255}, rgb(x-5, y), "its outline")

	_, err = casebundle.MapPNG(nil, nil, nil, casebundle.MapOptions{})
	assert.Error(t, err)
	_, err = casebundle.MapPNG([]geo.LatLon{{Lat: math.NaN()}}, nil, nil, casebundle.MapOptions{})
	assert.Error(t, err)
	_, err = casebundle.MapPNG(route, nil, nil, casebundle.MapOptions{Width: 100000, Height: 10})
	assert.Error(t, err)
	one, err := casebundle.MapPNG(route[:1], nil, nil, casebundle.MapOptions{})
	require.NoError(t, err, "a single sighting is a dot in a 50 m square")
	assert.NotEmpty(t, one)
}
