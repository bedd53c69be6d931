package stitch

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/geo"
	"snowlight/tracks"
)

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

// people makes synthetic embeddings with the statistics of real ones: a face embedding of the same
// person in two sightings has cosine about 0.65, of two people about 0 ± 0.1; appearance shares a
// common component so two people still look 0.5 alike, the same person about 0.8.
type people struct {
	r         *rand.Rand
	face, app map[string][]float64
	common    []float64
	faceSigma float64
	appSigma  float64
	faceDim   int
	appDim    int
}

func newPeople(seed uint64) *people {
	p := &people{r: rand.New(rand.NewPCG(seed, 99)), face: map[string][]float64{}, app: map[string][]float64{},
		faceSigma: 0.7, appSigma: 0.45, faceDim: 128, appDim: 512}
	p.common = p.gauss(p.appDim, 1)
	return p
}

func (p *people) gauss(n int, sigma float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = p.r.NormFloat64() * sigma / math.Sqrt(float64(n))
	}
	return v
}

func norm(v []float64) []float32 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = math.Sqrt(s)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x / s)
	}
	return out
}

func (p *people) faceOf(who string) []float32 {
	id, ok := p.face[who]
	if !ok {
		id = p.gauss(p.faceDim, 1)
		p.face[who] = id
	}
	n := p.gauss(p.faceDim, p.faceSigma)
	for i := range n {
		n[i] += id[i]
	}
	return norm(n)
}

func (p *people) appOf(who string) []float32 {
	id, ok := p.app[who]
	if !ok {
		own := p.gauss(p.appDim, 1)
		id = make([]float64, p.appDim)
		for i := range id {
			id[i] = own[i] + p.common[i]
		}
		p.app[who] = id
	}
	n := p.gauss(p.appDim, p.appSigma*math.Sqrt2)
	for i := range n {
		n[i] += id[i]
	}
	return norm(n)
}

type sight struct {
	id, cam, who string
	enter, exit  time.Duration // after t0
	face, app    bool
	person       string
}

func (p *people) make(s sight) tracks.Sighting {
	out := tracks.Sighting{ID: s.id, Camera: s.cam, Enter: t0.Add(s.enter), Exit: t0.Add(s.exit), Final: true}
	if s.face {
		out.FaceEmbedding = p.faceOf(s.who)
	}
	if s.app {
		out.AppearanceEmbedding = p.appOf(s.who)
	}
	out.Evidence.PersonID = s.person
	return out
}

func newStitcher(t testing.TB, cams []Camera, learn Learning, mod func(*Config)) *Stitcher {
	t.Helper()
	topo, err := NewTopology(cams, learn)
	require.NoError(t, err)
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	st, err := New(cfg, topo)
	require.NoError(t, err)
	return st
}

func add(t testing.TB, st *Stitcher, s tracks.Sighting) []tracks.Decision {
	t.Helper()
	ds, err := st.Add(s)
	require.NoError(t, err)
	return ds
}

// chain returns the sighting ids of the trajectory containing id.
func chain(st *Stitcher, id string) []string {
	tr, _ := st.Trajectory(id)
	var out []string
	for _, s := range tr.Steps {
		out = append(out, s.Sighting)
	}
	return out
}

const sec = time.Second

func TestChainWithFaces(t *testing.T) {
	p := newPeople(1)
	st := newStitcher(t, line(4, 10*sec, 40*sec), DefaultLearning(), nil)
	seq := []sight{
		{"a1", "A", "ann", 0, 5 * sec, true, true, ""},
		{"b1", "B", "ann", 25 * sec, 30 * sec, true, true, ""},
		{"c1", "C", "ann", 50 * sec, 60 * sec, true, true, ""},
	}
	var last []tracks.Decision
	for _, s := range seq {
		last = add(t, st, p.make(s))
	}
	require.Equal(t, []string{"a1", "b1", "c1"}, chain(st, "c1"), "trajectory")
	d := last[len(last)-1]
	assert.Equal(t, "c1", d.Sighting, "decision %+v", d)
	assert.Equal(t, "a1", d.Trajectory, "decision %+v", d)
	assert.False(t, d.Revised, "decision %+v", d)
	require.NotNil(t, d.Link, "decision %+v", d)
	l := d.Link
	assert.Equal(t, "b1", l.From)
	assert.GreaterOrEqual(t, l.Confidence, 0.9, "confidence")
	assert.True(t, l.Evidence.HasFace, "link evidence %+v", l.Evidence)
	assert.Positive(t, l.Evidence.Face, "face evidence")
	assert.Equal(t, DefaultConfig().TransitInside, l.Evidence.Transit, "transit evidence")
	assert.Equal(t, 20.0, l.Evidence.TransitSeconds, "transit seconds")
	assert.InDelta(t, 1/(1+math.Exp(-l.Score)), l.Confidence, 1e-12, "confidence is not the logistic of score %v", l.Score)
	tr, ok := st.Trajectory("b1")
	require.True(t, ok, "no trajectory holds b1")
	assert.Equal(t, "a1", tr.ID, "trajectory id")
	if assert.Len(t, tr.Steps, 3, "trajectory %+v", tr) {
		assert.Nil(t, tr.Steps[0].Link, "the first step has a link")
		assert.NotNil(t, tr.Steps[1].Link, "the second step has no link")
		assert.True(t, tr.Steps[2].HasPos, "the last step has no position")
	}
}

func TestWindowAndEvidenceRules(t *testing.T) {
	tests := []struct {
		name   string
		second sight
		linked bool
	}{
		{"face in window", sight{"b", "B", "ann", 25 * sec, 30 * sec, true, false, ""}, true},
		{"transit alone never links", sight{"b", "B", "ann", 25 * sec, 30 * sec, false, false, ""}, false},
		{"another face", sight{"b", "B", "bob", 25 * sec, 30 * sec, true, false, ""}, false},
		{"too fast beyond slack", sight{"b", "B", "ann", 5*sec + 10*sec - 16*sec, 30 * sec, true, false, ""}, false},
		{"too slow beyond slack", sight{"b", "B", "ann", 5*sec + 40*sec + 10*sec, 60 * sec, true, false, ""}, false},
		{"not reachable", sight{"b", "E", "ann", 25 * sec, 30 * sec, true, false, ""}, false},
		{"same identity without faces", sight{"b", "B", "ann", 25 * sec, 30 * sec, false, false, "P1"}, true},
		{"different identities", sight{"b", "B", "ann", 25 * sec, 30 * sec, true, false, "P2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPeople(2)
			st := newStitcher(t, line(5, 10*sec, 40*sec), DefaultLearning(), nil)
			add(t, st, p.make(sight{"a", "A", "ann", 0, 5 * sec, true, false, "P1"}))
			ds := add(t, st, p.make(tt.second))
			assert.Equal(t, tt.linked, ds[len(ds)-1].Link != nil, "linked: %+v", ds)
		})
	}
}

// TestCrossingPaths has two people walk from A to B at the same time: only faces tell which is
// which, and the global assignment must not give both to one.
func TestCrossingPaths(t *testing.T) {
	p := newPeople(3)
	st := newStitcher(t, line(3, 10*sec, 40*sec), DefaultLearning(), nil)
	add(t, st, p.make(sight{"a-ann", "A", "ann", 0, 5 * sec, true, true, ""}))
	add(t, st, p.make(sight{"a-bob", "A", "bob", 1 * sec, 6 * sec, true, true, ""}))
	// Bob overtakes Ann and arrives first.
	add(t, st, p.make(sight{"b-bob", "B", "bob", 20 * sec, 24 * sec, true, true, ""}))
	add(t, st, p.make(sight{"b-ann", "B", "ann", 22 * sec, 27 * sec, true, true, ""}))
	assert.Equal(t, []string{"a-ann", "b-ann"}, chain(st, "b-ann"), "ann")
	assert.Equal(t, []string{"a-bob", "b-bob"}, chain(st, "b-bob"), "bob")
}

// TestRevision: a weak appearance-only match takes a link that a later, clearly better face match
// then takes over; the loser's decision is revised and it starts its own trajectory.
func TestRevision(t *testing.T) {
	p := newPeople(4)
	st := newStitcher(t, line(3, 10*sec, 60*sec), DefaultLearning(), nil)
	a := p.make(sight{"a", "A", "ann", 0, 5 * sec, true, true, ""})
	add(t, st, a)
	// Someone with no face visible whose clothes look exactly like Ann's.
	impostor := tracks.Sighting{ID: "b1", Camera: "B", Enter: t0.Add(20 * sec), Exit: t0.Add(25 * sec), AppearanceEmbedding: a.AppearanceEmbedding}
	ds := add(t, st, impostor)
	require.NotNil(t, ds[0].Link, "lookalike not linked at first: %+v", ds)
	require.Equal(t, "a", ds[0].Link.From, "lookalike linked at first")
	ds = add(t, st, p.make(sight{"b2", "B", "ann", 30 * sec, 35 * sec, true, true, ""}))
	byID := map[string]tracks.Decision{}
	for _, d := range ds {
		byID[d.Sighting] = d
	}
	if d, ok := byID["b1"]; assert.True(t, ok, "no new decision for b1") {
		assert.Nil(t, d.Link, "b1 still linked: %+v", d)
		assert.Equal(t, "b1", d.Trajectory, "b1 not a trajectory of its own")
		assert.True(t, d.Revised, "b1's decision not marked revised")
	}
	d := byID["b2"]
	assert.Equal(t, "a", d.Trajectory, "b2's trajectory")
	if assert.NotNil(t, d.Link, "b2 not linked") {
		assert.Equal(t, "a", d.Link.From, "b2 linked")
	}
}

func TestSkippedCamera(t *testing.T) {
	p := newPeople(5)
	st := newStitcher(t, line(4, 10*sec, 40*sec), DefaultLearning(), nil)
	add(t, st, p.make(sight{"a", "A", "ann", 0, 5 * sec, true, true, ""}))
	// Camera B missed her; she reappears at C.
	ds := add(t, st, p.make(sight{"c", "C", "ann", 55 * sec, 60 * sec, true, true, ""}))
	l := ds[0].Link
	require.NotNil(t, l, "decision %+v", ds[0])
	assert.Equal(t, "a", l.From)
	assert.Equal(t, 2, l.Evidence.Hops)
	assert.Less(t, l.Evidence.Transit, DefaultConfig().TransitInside, "skipping a camera cost nothing")
}

func TestOutOfOrderArrival(t *testing.T) {
	p := newPeople(6)
	st := newStitcher(t, line(3, 10*sec, 40*sec), DefaultLearning(), nil)
	later := p.make(sight{"b", "B", "ann", 25 * sec, 30 * sec, true, true, ""})
	// A long stay at A ends (and is reported) after Ann was already seen at B... which cannot be the
	// same person; but a short one reported late can.
	add(t, st, later)
	ds := add(t, st, p.make(sight{"a", "A", "ann", 0, 5 * sec, true, true, ""}))
	var got *tracks.Decision
	for i := range ds {
		if ds[i].Sighting == "b" {
			got = &ds[i]
		}
	}
	require.NotNil(t, got, "no new decision for b: %+v", ds)
	require.NotNil(t, got.Link, "late predecessor not linked: %+v", ds)
	assert.Equal(t, "a", got.Link.From)
	assert.Equal(t, "a", got.Trajectory)
}

func TestInterimSightingUpdated(t *testing.T) {
	p := newPeople(7)
	st := newStitcher(t, line(3, 10*sec, 40*sec), DefaultLearning(), nil)
	add(t, st, p.make(sight{"a", "A", "ann", 0, 5 * sec, true, true, ""}))
	interim := p.make(sight{"b", "B", "ann", 25 * sec, 26 * sec, false, false, ""})
	interim.Final = false
	ds := add(t, st, interim)
	require.Nil(t, ds[0].Link, "linked without evidence: %+v", ds)
	ds = add(t, st, p.make(sight{"b", "B", "ann", 25 * sec, 30 * sec, true, true, ""}))
	require.Len(t, ds, 1, "final sighting decisions")
	require.NotNil(t, ds[0].Link, "final sighting not linked: %+v", ds[0])
	require.True(t, ds[0].Revised, "final sighting decision not marked revised")
	assert.Equal(t, 2, st.Len(), "sightings remembered")
}

func TestAddRejects(t *testing.T) {
	st := newStitcher(t, line(2, sec, 2*sec), DefaultLearning(), nil)
	tests := []tracks.Sighting{
		{Camera: "A", Enter: t0, Exit: t0},
		{ID: "x", Enter: t0, Exit: t0},
		{ID: "x", Camera: "A", Enter: t0, Exit: t0.Add(-sec)},
		{ID: "x", Camera: "A"},
		{ID: "x", Camera: "Z", Enter: t0, Exit: t0},
	}
	for i, s := range tests {
		_, err := st.Add(s)
		assert.Error(t, err, "case %d accepted", i)
	}
	add(t, st, tracks.Sighting{ID: "x", Camera: "A", Enter: t0, Exit: t0})
	_, err := st.Add(tracks.Sighting{ID: "x", Camera: "B", Enter: t0, Exit: t0})
	assert.Error(t, err, "a sighting changed camera")
}

func TestForgetsOldSightings(t *testing.T) {
	p := newPeople(8)
	st := newStitcher(t, line(3, 10*sec, 40*sec), DefaultLearning(), nil)
	for i := 0; i < 2000; i++ {
		at := time.Duration(i) * 10 * sec
		add(t, st, p.make(sight{fmt.Sprint(i), camID(i % 3), fmt.Sprint("p", i), at, at + 5*sec, false, true, ""}))
	}
	// 2000 sightings over 5.5 hours; only the last retain window's worth stay.
	assert.LessOrEqual(t, st.Len(), 200, "sightings remembered")
}

func TestLearnsUnknownEdge(t *testing.T) {
	p := newPeople(9)
	// A and C are not neighbours, 200 m apart; people keep walking from A to C in about 90 s.
	learn := DefaultLearning()
	learn.Enabled = true
	cams := line(3, 10*sec, 40*sec)
	cams[0].Neighbours, cams[1].Neighbours, cams[2].Neighbours = nil, nil, nil
	st := newStitcher(t, cams, learn, nil)
	for i := 0; i < 8; i++ {
		who := fmt.Sprint("walker", i)
		base := time.Duration(i) * 10 * time.Minute
		add(t, st, p.make(sight{who + "-a", "A", who, base, base + 5*sec, true, true, ""}))
		ds := add(t, st, p.make(sight{who + "-c", "C", who, base + 95*sec, base + 100*sec, true, true, ""}))
		require.NotNil(t, ds[0].Link, "walker %d not linked on face evidence", i)
	}
	require.True(t, st.topo.Learned("A", "C"), "A->C not learned")
	lo, hi, _ := st.topo.Window("A", "C")
	assert.LessOrEqual(t, lo, 90*sec, "learned window %v..%v does not hold the 90 s transits", lo, hi)
	assert.GreaterOrEqual(t, hi, 90*sec, "learned window %v..%v does not hold the 90 s transits", lo, hi)
	// Too fast for the 200 m between them: impossible even with the same face.
	st2 := newStitcher(t, cams, learn, nil)
	add(t, st2, p.make(sight{"x-a", "A", "x", 0, 5 * sec, true, true, ""}))
	ds := add(t, st2, p.make(sight{"x-c", "C", "x", 10 * sec, 15 * sec, true, true, ""}))
	assert.Nil(t, ds[0].Link, "linked at %v m/s", 200/5.0)
}

// TestSimulatedCity walks people through a network of cameras along random routes, with faces seen
// in some sightings only, cameras that sometimes miss a person, people who cross paths, and
// strangers, then measures how many true links the stitcher finds and how many of its links are
// right.
func TestSimulatedCity(t *testing.T) {
	tests := []struct {
		persons  int
		faceRate float64
		seed     uint64
	}{
		{60, 0.7, 1}, {60, 0.7, 2}, {60, 0.3, 3}, {300, 0.3, 1}, {300, 0.7, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-people-%.0f%%-faces-seed%d", tt.persons, 100*tt.faceRate, tt.seed), func(t *testing.T) {
			recall, precision := simulate(t, tt.seed, tt.persons, tt.faceRate, 0.1)
			t.Logf("link recall %.3f precision %.3f", recall, precision)
			assert.GreaterOrEqual(t, recall, 0.9, "link recall")
			assert.GreaterOrEqual(t, precision, 0.98, "link precision")
		})
	}
}

// simulate returns link recall and precision over people walking a 3x3 grid of cameras.
func simulate(t testing.TB, seed uint64, persons int, faceRate, missRate float64) (recall, precision float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	p := newPeople(seed)
	const side = 3
	var cams []Camera
	id := func(x, y int) string { return fmt.Sprintf("c%d%d", x, y) }
	for x := 0; x < side; x++ {
		for y := 0; y < side; y++ {
			c := Camera{ID: id(x, y), Position: geo.LatLon{Lat: 52.5 + float64(y)*0.0018, Lon: 13.4 + float64(x)*0.003}}
			for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				nx, ny := x+d[0], y+d[1]
				if nx >= 0 && nx < side && ny >= 0 && ny < side {
					c.Neighbours = append(c.Neighbours, Neighbour{Camera: id(nx, ny), Min: 60 * sec, Max: 180 * sec})
				}
			}
			cams = append(cams, c)
		}
	}
	st := newStitcher(t, cams, DefaultLearning(), nil)
	var all []sight
	truth := map[string]string{} // sighting -> true predecessor sighting
	for i := 0; i < persons; i++ {
		who := fmt.Sprint("p", i)
		x, y := r.IntN(side), r.IntN(side)
		at := time.Duration(r.IntN(600)) * sec
		prev := ""
		for hop := 0; hop < 4; hop++ {
			dwell := time.Duration(3+r.IntN(20)) * sec
			if hop == 0 || r.Float64() >= missRate {
				s := sight{fmt.Sprintf("%s-%d", who, hop), id(x, y), who, at, at + dwell, r.Float64() < faceRate, true, ""}
				all = append(all, s)
				if prev != "" {
					truth[s.id] = prev
				}
				prev = s.id
			}
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
	// The edge reports a sighting when it ends.
	slices.SortFunc(all, func(a, b sight) int { return cmp.Compare(a.exit, b.exit) })
	got := map[string]string{}
	for _, s := range all {
		for _, d := range add(t, st, p.make(s)) {
			if d.Link != nil {
				got[d.Sighting] = d.Link.From
			} else {
				delete(got, d.Sighting)
			}
		}
	}
	right := 0
	for to, from := range got {
		if truth[to] == from {
			right++
		}
	}
	return float64(right) / float64(len(truth)), float64(right) / float64(max(1, len(got)))
}
