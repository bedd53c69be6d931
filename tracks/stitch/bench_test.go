package stitch

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/geo"
	"snowlight/tracks"
)

// cityStream returns n sightings of people walking a side x side grid of cameras (neighbours 60-180
// s apart), people starting at a steady rate so that about perMinute sightings end per minute, in
// the order the edge reports them (by exit).
func cityStream(side, n, perMinute int, faceRate float64) ([]Camera, []tracks.Sighting) {
	r := rand.New(rand.NewPCG(11, 12))
	p := newPeople(13)
	id := func(x, y int) string { return fmt.Sprintf("c%03d-%03d", x, y) }
	var cams []Camera
	for x := 0; x < side; x++ {
		for y := 0; y < side; y++ {
			c := Camera{ID: id(x, y), Position: geo.LatLon{Lat: 52.5 + float64(y)*0.0018, Lon: 13.4 + float64(x)*0.003}}
			for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				if nx, ny := x+d[0], y+d[1]; nx >= 0 && nx < side && ny >= 0 && ny < side {
					c.Neighbours = append(c.Neighbours, Neighbour{Camera: id(nx, ny), Min: 60 * sec, Max: 180 * sec})
				}
			}
			cams = append(cams, c)
		}
	}
	const hops = 5
	var out []tracks.Sighting
	gap := time.Minute / time.Duration(perMinute) * hops
	for i := 0; len(out) < n; i++ {
		who := fmt.Sprint("p", i)
		x, y := r.IntN(side), r.IntN(side)
		at := time.Duration(i) * gap
		for h := 0; h < hops; h++ {
			dwell := time.Duration(3+r.IntN(20)) * sec
			s := sight{fmt.Sprintf("%s-%d", who, h), id(x, y), who, at, at + dwell, r.Float64() < faceRate, true, ""}
			out = append(out, p.make(s))
			at += dwell + time.Duration(70+r.IntN(100))*sec
			for {
				d := [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}}[r.IntN(4)]
				if nx, ny := x+d[0], y+d[1]; nx >= 0 && nx < side && ny >= 0 && ny < side {
					x, y = nx, ny
					break
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b tracks.Sighting) int { return cmp.Compare(a.Exit.UnixNano(), b.Exit.UnixNano()) })
	return cams, out
}

// BenchmarkStitcherAdd reports sightings stitched per second on a 10x10 camera grid with 600
// sightings ending per minute (10 per second across the district).
func BenchmarkStitcherAdd(b *testing.B) {
	for _, rate := range []int{600, 3000} {
		b.Run(fmt.Sprintf("%d-per-minute", rate), func(b *testing.B) {
			cams, stream := cityStream(10, 20000, rate, 0.5)
			var st *Stitcher
			i := 0
			b.ResetTimer()
			for b.Loop() {
				if i%len(stream) == 0 {
					b.StopTimer()
					st = newStitcher(b, cams, DefaultLearning(), nil)
					b.StartTimer()
				}
				_, err := st.Add(stream[i%len(stream)])
				require.NoError(b, err)
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sightings/s")
		})
	}
}
