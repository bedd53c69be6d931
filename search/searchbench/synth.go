// Package searchbench is `snowlight bench search`: synthetic sightings with the structure of real ones,
// indexed by package search and queried by example and by description, latency and memory reported,
// recall measured against an exact scan.
package searchbench

import (
	"cmp"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"snowlight/colour"
	"snowlight/search"
)

// City is a synthetic population of sightings. People pass a few cameras near each other within an
// hour; each person's appearance embedding is their own point in an OSNet-like space and every
// sighting of them a noisy view of it.
//
// The space copies what OSNet x0.25 gives on MOT17's people (measured on 268 ground-truth crops of
// boxmot's MOT17-mini when this was written): every value non-negative (the network ends in a ReLU),
// the mean vector about 0.68 of a unit vector's length, a tenth of the dimensions nearly dead, and the
// cosine of two different people p5/p50/p95 = 0.32/0.44/0.61. The same person seen again by another
// camera is less alike than in consecutive frames (0.95 there); the generator aims at about 0.75.
// Generated: different people 0.31/0.41/0.50, one person 0.54/0.74/0.84, mean 0.64.
// TestCityStatistics checks these figures on the generated vectors.
type City struct {
	Sightings int
	// PerPerson is the mean number of sightings of one person (geometric; default 6).
	PerPerson float64
	// Cameras is how many cameras there are (default 200); a person walks between neighbours.
	Cameras int
	// Span is the time the sightings cover, ending at End (default 30 days ending 2026-12-01).
	Span time.Duration
	End  time.Time
	Seed uint64
}

func (c City) withDefaults() City {
	if c.PerPerson <= 1 {
		c.PerPerson = 6
	}
	if c.Cameras <= 0 {
		c.Cameras = 200
	}
	if c.Span <= 0 {
		c.Span = 30 * 24 * time.Hour
	}
	if c.End.IsZero() {
		c.End = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	return c
}

// pass is one sighting before its vector is made.
type pass struct {
	person int32
	camera int32
	time   int64 // unix ms
}

// Generated is a city's sightings in time order, vectors made on demand from the seed.
type Generated struct {
	city   City
	passes []pass
	space  space
}

// Generate lays out the city's sightings (24 bytes each; vectors are made when read).
func (c City) Generate() *Generated {
	c = c.withDefaults()
	rng := rand.New(rand.NewPCG(c.Seed, 1))
	g := &Generated{city: c, space: newSpace(c.Seed)}
	start := c.End.Add(-c.Span).UnixMilli()
	span := c.Span.Milliseconds()
	g.passes = make([]pass, 0, c.Sightings)
	for person := int32(0); len(g.passes) < c.Sightings; person++ {
		n := 1
		for rng.Float64() > 1/c.PerPerson && n < 60 {
			n++
		}
		t := start + rng.Int64N(span)
		cam := rng.IntN(c.Cameras)
		for range n {
			if len(g.passes) == c.Sightings {
				break
			}
			g.passes = append(g.passes, pass{person: person, camera: int32(cam), time: t})
			t += 60_000 + rng.Int64N(10*60_000) // a neighbour 1-11 minutes on
			cam = (cam + 1 + rng.IntN(3) + c.Cameras) % c.Cameras
		}
	}
	slices.SortStableFunc(g.passes, func(a, b pass) int { return cmp.Compare(a.time, b.time) })
	return g
}

// Len is the number of sightings.
func (g *Generated) Len() int { return len(g.passes) }

// Person is the person seen in sighting i.
func (g *Generated) Person(i int) int { return int(g.passes[i].person) }

// Entry makes sighting i.
func (g *Generated) Entry(i int) search.Entry {
	p := g.passes[i]
	return search.Entry{
		ID:         sightingID(i),
		Camera:     cameraName(int(p.camera)),
		Time:       time.UnixMilli(p.time).UTC(),
		Appearance: g.space.sighting(p.person, uint64(i)),
		Colours:    g.space.colours(p.person, uint64(i)),
	}
}

// Entries yields every sighting in time order.
func (g *Generated) Entries() iter.Seq2[search.Entry, error] {
	return func(yield func(search.Entry, error) bool) {
		for i := range g.passes {
			if !yield(g.Entry(i), nil) {
				return
			}
		}
	}
}

func sightingID(i int) string { return "s" + itoa(i) }

func cameraName(c int) string { return "cam-" + itoa(c) }

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(b[n:])
		}
	}
}

// space is the embedding model: x = relu(mean + spread ⊙ (person ⊙ pw + noise ⊙ nw)), normalised.
type space struct {
	seed   uint64
	mean   [search.Dim]float32
	spread [search.Dim]float32
	styles [styles][search.Dim]float32
}

// styles is the number of shared directions people vary along (clothing colours, build, light): two
// people alike in them are alike to OSNet, which spreads the different-person cosines as real ones are.
const styles = 24

// The weights of a person's own direction and of a sighting's noise, set so that the cosines match
// the figures in City's comment.
const (
	personWeight = 0.5
	noiseWeight  = 1.3
	styleWeight  = 0.3
)

func newSpace(seed uint64) space {
	rng := rand.New(rand.NewPCG(seed, 2))
	s := space{seed: seed}
	for k := range search.Dim {
		if rng.Float64() < 0.1 { // a dead unit: almost always zero
			s.mean[k], s.spread[k] = -1, 0.3
			continue
		}
		s.mean[k] = float32(math.Abs(rng.NormFloat64()))
		s.spread[k] = float32(0.4 + 0.8*rng.Float64())
	}
	for j := range s.styles {
		normals(rand.NewPCG(seed, 100+uint64(j)), s.styles[j][:])
	}
	return s
}

// normals fills v with approximately standard normal values: the centred sum of four uniform bytes
// (Irwin-Hall), eight times cheaper than NormFloat64 and alike enough for the shape of a cluster.
func normals(rng *rand.PCG, v []float32) {
	const scale = 1 / 73.9 // the sum's standard deviation: sqrt(4 * (256²-1)/12)
	for i := 0; i < len(v); i += 2 {
		u := rng.Uint64()
		a := int(u&0xff) + int(u>>8&0xff) + int(u>>16&0xff) + int(u>>24&0xff) - 510
		b := int(u>>32&0xff) + int(u>>40&0xff) + int(u>>48&0xff) + int(u>>56&0xff) - 510
		v[i] = float32(a) * scale
		v[i+1] = float32(b) * scale
	}
}

func (s *space) sighting(person int32, i uint64) []float32 {
	var own, noise [search.Dim]float32
	normals(rand.NewPCG(s.seed^0x9e3779b97f4a7c15, uint64(person)), own[:])
	var mix [styles]float32
	normals(rand.NewPCG(s.seed^0x94d049bb133111eb, uint64(person)), mix[:])
	for j, w := range mix {
		for k := range own {
			own[k] += styleWeight * w * s.styles[j][k]
		}
	}
	normals(rand.NewPCG(s.seed^0xd1b54a32d192ed03, i), noise[:])
	// How far a person is from the typical one varies: some look like everybody, some like nobody.
	pw := personWeight * (0.35 + 1.3*float32(rand.New(rand.NewPCG(s.seed, uint64(person))).Float64()))
	v := make([]float32, search.Dim)
	for k := range v {
		v[k] = max(0, s.mean[k]+s.spread[k]*(pw*own[k]+noiseWeight*noise[k]))
	}
	return v
}

// worn lists the colours people wear on top and below, each as often as in a northern city's street
// (dark and neutral most).
func worn() (upper, lower []colour.Name) {
	return []colour.Name{colour.Black, colour.Black, colour.Black, colour.Grey, colour.Grey, colour.White,
			colour.Blue, colour.Blue, colour.Red, colour.Green, colour.Brown, colour.Yellow, colour.Pink, colour.Purple, colour.Orange},
		[]colour.Name{colour.Black, colour.Black, colour.Black, colour.Blue, colour.Blue, colour.Blue,
			colour.Grey, colour.Grey, colour.Brown, colour.White, colour.Green}
}

// colours is what the person wears as a camera sees it: the garment's colour 55-90%, a second name
// (shade, shadow, a bag), and one view in ten mostly the wrong name.
func (s *space) colours(person int32, i uint64) colour.Description {
	pr := rand.New(rand.NewPCG(s.seed^0x7f4a7c159e3779b9, uint64(person)))
	wornUpper, wornLower := worn()
	up, low := wornUpper[pr.IntN(len(wornUpper))], wornLower[pr.IntN(len(wornLower))]
	vr := rand.New(rand.NewPCG(s.seed^0x2545f4914f6cdd1d, i))
	region := func(n colour.Name) colour.Region {
		var r colour.Region
		main := 55 + vr.IntN(36)
		if vr.IntN(10) == 0 {
			main = 20 + vr.IntN(20)
		}
		other := colour.Name(vr.IntN(int(colour.NumNames)))
		if other == n {
			other = colour.Grey
		}
		r.Shares[n] = uint8(main)
		r.Shares[other] += uint8(100 - main)
		switch n {
		case colour.Black:
			r.Dark = uint8(main)
		case colour.Blue, colour.Brown, colour.Grey:
			r.Dark = uint8(vr.IntN(main + 1))
		}
		return r
	}
	return colour.Description{Upper: region(up), Lower: region(low)}
}
