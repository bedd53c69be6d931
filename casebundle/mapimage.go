package casebundle

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"snowlight/geo"
)

// MapCamera is a camera drawn on the map.
type MapCamera struct {
	ID  string
	Pos geo.LatLon
}

// MapOptions sizes the picture (default 800 x 600).
type MapOptions struct{ Width, Height int }

// MapPNG draws a trajectory for the bundle: every camera as a small square (filled dark where the
// route passes), the route as a line through the positions in order, a dot per sighting, the start
// green and the end red, on a grid of 100 m squares. Equirectangular around the middle latitude, which
// over a city is exact to well under a pixel. No tiles and no text: the JSON beside it carries names
// and times.
func MapPNG(route []geo.LatLon, cameras []MapCamera, seen []string, o MapOptions) ([]byte, error) {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 800, 600
	}
	if o.Width > 4096 || o.Height > 4096 {
		return nil, fmt.Errorf("map picture: %dx%d is larger than 4096x4096", o.Width, o.Height)
	}
	all := append([]geo.LatLon(nil), route...)
	for _, c := range cameras {
		all = append(all, c.Pos)
	}
	if len(all) == 0 {
		return nil, errors.New("map picture: nothing to draw")
	}
	for _, p := range all {
		if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || math.Abs(p.Lat) > 85 || math.Abs(p.Lon) > 180 {
			return nil, fmt.Errorf("map picture: position %v is off the map", p)
		}
	}
	// Light ground, grey cameras, the route in a dark blue that reads on paper, its start green and its
	// end red.
	var (
		mapGround = color.RGBA{246, 244, 238, 255}
		mapCamera = color.RGBA{110, 110, 110, 255}
		mapRoute  = color.RGBA{22, 62, 140, 255}
		mapStart  = color.RGBA{20, 140, 60, 255}
		mapEnd    = color.RGBA{200, 30, 30, 255}
	)
	pr := fit(all, o.Width, o.Height)
	img := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
	fill(img, img.Bounds(), mapGround)
	pr.grid(img, color.RGBA{226, 223, 214, 255})

	seenSet := map[string]bool{}
	for _, id := range seen {
		seenSet[id] = true
	}
	for _, c := range cameras {
		x, y := pr.xy(c.Pos)
		r := image.Rect(x-5, y-5, x+6, y+6)
		fill(img, r, mapCamera)
		if !seenSet[c.ID] {
			fill(img, r.Inset(2), mapGround)
		}
	}
	for i := 1; i < len(route); i++ {
		x0, y0 := pr.xy(route[i-1])
		x1, y1 := pr.xy(route[i])
		line(img, x0, y0, x1, y1, 2, mapRoute)
	}
	for i, p := range route {
		x, y := pr.xy(p)
		c, r := mapRoute, 4
		switch i {
		case 0:
			c, r = mapStart, 7
		case len(route) - 1:
			c, r = mapEnd, 7
		}
		disc(img, x, y, r, c)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("map picture: %w", err)
	}
	return buf.Bytes(), nil
}

// projection maps positions to pixels.
type projection struct {
	lat0, lon0    float64 // the middle
	pxPerM        float64
	cosLat        float64
	width, height int
	metresPerDeg  float64
}

// earthMetresPerDegree is a degree of latitude on geo's sphere.
const earthMetresPerDegree = geo.EarthRadius * math.Pi / 180

func fit(ps []geo.LatLon, w, h int) projection {
	minLat, maxLat, minLon, maxLon := ps[0].Lat, ps[0].Lat, ps[0].Lon, ps[0].Lon
	for _, p := range ps {
		minLat, maxLat = min(minLat, p.Lat), max(maxLat, p.Lat)
		minLon, maxLon = min(minLon, p.Lon), max(maxLon, p.Lon)
	}
	pr := projection{lat0: (minLat + maxLat) / 2, lon0: (minLon + maxLon) / 2, width: w, height: h,
		metresPerDeg: earthMetresPerDegree}
	pr.cosLat = math.Cos(pr.lat0 * math.Pi / 180)
	spanX := max((maxLon-minLon)*pr.cosLat*pr.metresPerDeg, 50) // at least 50 m across
	spanY := max((maxLat-minLat)*pr.metresPerDeg, 50)
	margin := 40.0
	pr.pxPerM = min((float64(w)-2*margin)/spanX, (float64(h)-2*margin)/spanY)
	return pr
}

func (pr projection) metres(p geo.LatLon) (x, y float64) {
	return (p.Lon - pr.lon0) * pr.cosLat * pr.metresPerDeg, (p.Lat - pr.lat0) * pr.metresPerDeg
}

func (pr projection) xy(p geo.LatLon) (int, int) {
	mx, my := pr.metres(p)
	return int(math.Round(float64(pr.width)/2 + mx*pr.pxPerM)), int(math.Round(float64(pr.height)/2 - my*pr.pxPerM))
}

// grid draws lines every 100 m (every 1 km when 100 m is under 8 pixels).
func (pr projection) grid(img *image.RGBA, c color.RGBA) {
	step := 100.0
	if step*pr.pxPerM < 8 {
		step = 1000
	}
	if step*pr.pxPerM < 8 {
		return
	}
	stepPx := step * pr.pxPerM
	for x := math.Mod(float64(pr.width)/2, stepPx); x < float64(pr.width); x += stepPx {
		fill(img, image.Rect(int(x), 0, int(x)+1, pr.height), c)
	}
	for y := math.Mod(float64(pr.height)/2, stepPx); y < float64(pr.height); y += stepPx {
		fill(img, image.Rect(0, int(y), pr.width, int(y)+1), c)
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func disc(img *image.RGBA, cx, cy, r int, c color.RGBA) {
	for y := -r; y <= r; y++ {
		for x := -r; x <= r; x++ {
			if x*x+y*y <= r*r {
				if p := image.Pt(cx+x, cy+y); p.In(img.Bounds()) {
					img.SetRGBA(p.X, p.Y, c)
				}
			}
		}
	}
}

// line draws a thick line by stamping discs along it.
func line(img *image.RGBA, x0, y0, x1, y1, r int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		disc(img, x0+(x1-x0)*i/n, y0+(y1-y0)*i/n, r, c)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
