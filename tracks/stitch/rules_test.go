package stitch

import (
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

// unitVec returns a random unit vector.
func unitVec(r *rand.Rand, n int) []float32 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return norm(v)
}

// near returns a unit vector whose cosine with the unit vector base is cos.
func near(r *rand.Rand, base []float32, cos float64) []float32 {
	o := make([]float64, len(base))
	var proj float64
	for i := range o {
		o[i] = r.NormFloat64()
		proj += o[i] * float64(base[i])
	}
	var n float64
	for i := range o {
		o[i] -= proj * float64(base[i])
		n += o[i] * o[i]
	}
	n = math.Sqrt(n)
	out := make([]float64, len(base))
	for i := range out {
		out[i] = cos*float64(base[i]) + math.Sqrt(1-cos*cos)*o[i]/n
	}
	return norm(out)
}

// seen builds a final sighting from seconds after t0.
func seen(id, cam string, enter, exit float64, face, app []float32) tracks.Sighting {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	return tracks.Sighting{ID: id, Camera: cam, Enter: at(enter), Exit: at(exit), FaceEmbedding: face, AppearanceEmbedding: app, Final: true}
}

// explained returns what the stitcher says about the link from one sighting into another.
func explained(t *testing.T, st *Stitcher, from, to string) (Considered, bool) {
	t.Helper()
	ex, ok := st.Explain(to)
	require.True(t, ok, "%s is not remembered", to)
	for _, k := range ex {
		if k.Link.From == from {
			return k, true
		}
	}
	return Considered{}, false
}

func TestScoreRules(t *testing.T) {
	// A, B and C stand 20 m apart along a street (A-C 40 m, A-F about 210 m); S sees people leave
	// and come back into its view; Z is nobody's neighbour.
	const lat = 50.879
	win := func(cam string, lo, hi time.Duration) Neighbour { return Neighbour{Camera: cam, Min: lo, Max: hi} }
	topo, err := NewTopology([]Camera{
		{ID: "A", Position: geo.LatLon{Lat: lat, Lon: 4.70000}, Neighbours: []Neighbour{win("B", 0, 20*sec), win("F", 0, 20*sec)}},
		{ID: "B", Position: geo.LatLon{Lat: lat, Lon: 4.70028}, Neighbours: []Neighbour{win("A", 0, 20*sec)}},
		{ID: "F", Position: geo.LatLon{Lat: lat, Lon: 4.70300}},
		{ID: "S", Position: geo.LatLon{Lat: lat, Lon: 4.71000}, Neighbours: []Neighbour{win("S", 2*sec, 60*sec)}},
		{ID: "Z", Position: geo.LatLon{Lat: lat, Lon: 4.72000}},
	}, DefaultLearning())
	require.NoError(t, err)
	face := unitVec(rand.New(rand.NewPCG(1, 2)), 128)
	tests := []struct {
		name   string
		p, q   tracks.Sighting
		pid    string // p's watch-list identity (q's is "P1")
		reason Reason
	}{
		{"two tracks on one camera at once", seen("p", "S", 0, 10, face, nil), seen("q", "S", 5, 15, face, nil), "", SameCameraAtOnce},
		{"one camera, handed over at one instant", seen("p", "S", 0, 10, face, nil), seen("q", "S", 10, 15, face, nil), "", ""},
		{"one camera, back later", seen("p", "S", 0, 10, face, nil), seen("q", "S", 30, 35, face, nil), "", ""},
		{"neighbours whose views overlap", seen("p", "A", 0, 10, face, nil), seen("q", "B", 8, 15, face, nil), "", ""},
		{"cameras 210 m apart at once", seen("p", "A", 0, 10, face, nil), seen("q", "F", 8, 15, face, nil), "", TwoPlacesAtOnce},
		{"cameras 210 m apart one after the other", seen("p", "A", 0, 10, face, nil), seen("q", "F", 12, 15, face, nil), "", ""},
		{"different identities", seen("p", "A", 0, 10, face, nil), seen("q", "B", 12, 15, face, nil), "P2", OtherIdentity},
		{"beyond the window's slack", seen("p", "A", 0, 10, face, nil), seen("q", "B", 40, 45, face, nil), "", OutsideWindow},
		{"no route", seen("p", "A", 0, 10, face, nil), seen("q", "Z", 12, 15, face, nil), "", Unreachable},
	}
	cfg := DefaultConfig()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Evidence.PersonID, tt.q.Evidence.PersonID = tt.pid, "P1"
			p, q := summarise(tt.p), summarise(tt.q)
			_, score, reason := cfg.score(topo, &p, &q)
			require.Equal(t, tt.reason, reason)
			if reason == "" {
				assert.GreaterOrEqual(t, score, cfg.Threshold, "possible pair with one face")
			}
		})
	}
}

// TestEvidenceBars: a link that rests on appearance and timing alone must clear WeakThreshold; a
// face (or identity) lets it through at Threshold.
func TestEvidenceBars(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	face, clothes := unitVec(r, 128), unitVec(r, 512)
	cfg := DefaultConfig()
	tests := []struct {
		name      string
		q         tracks.Sighting
		linked    bool
		refused   Reason
		weak, bar bool // the link counts as weak; its score is at least its bar
	}{
		{"face over a direct transit", seen("q", "B", 25, 30, near(r, face, 0.65), nil), true, "", false, true},
		{"close clothes over a direct transit", seen("q", "B", 25, 30, nil, near(r, clothes, 0.9)), true, "", true, true},
		// -1 + 1 + 6*(0.75-0.65) = 0.6: enough with a face, not without.
		{"loose clothes over a direct transit", seen("q", "B", 25, 30, nil, near(r, clothes, 0.75)), false, WeakEvidence, true, false},
		// A face at cosine 0.42 adds 0.3: present, but no evidence of who it is.
		{"a blurred face and loose clothes", seen("q", "B", 25, 30, near(r, face, 0.42), near(r, clothes, 0.7)), false, WeakEvidence, true, false},
		// -1 + (1 - 1) + 1.5 = 0.5: clothes alone never bridge a camera that missed the person.
		{"the same clothes through an unseen camera", seen("q", "C", 55, 60, nil, clothes), false, WeakEvidence, true, false},
		{"a face through an unseen camera", seen("q", "C", 55, 60, near(r, face, 0.65), nil), true, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStitcher(t, line(4, 10*sec, 40*sec), DefaultLearning(), nil)
			add(t, st, seen("p", "A", 0, 5, face, clothes))
			ds := add(t, st, tt.q)
			require.Equal(t, tt.linked, ds[len(ds)-1].Link != nil, "linked: %+v", ds)
			k, ok := explained(t, st, "p", "q")
			require.True(t, ok, "the link was not weighed")
			assert.Equal(t, tt.linked, k.Chosen, "chosen (%s)", k.Detail)
			assert.Equal(t, tt.refused, k.Refused, "refused (%s)", k.Detail)
			parts := k.Link.Evidence
			assert.Equal(t, tt.weak, cfg.weak(&parts), "weak, evidence %+v", parts)
			assert.Equal(t, tt.bar, k.Link.Score >= cfg.bar(&parts), "score %.2f at least its bar %.2f, evidence %+v", k.Link.Score, cfg.bar(&parts), parts)
		})
	}
}

// TestReturnToSameCamera: one camera sees strangers from one viewpoint in one light, so they look
// alike to it. Coming back to the camera one left needs a face, or clothes that stand out from
// every alternative by ReturnMargin.
func TestReturnToSameCamera(t *testing.T) {
	// S lists itself (people leave its view and come back) and N is a neighbour both ways, so S can
	// also be reached from S through N.
	cams := []Camera{
		{ID: "S", Position: geo.LatLon{Lat: 50.879, Lon: 4.7}, Neighbours: []Neighbour{{Camera: "S", Min: 2 * sec, Max: 60 * sec}, {Camera: "N", Min: 3 * sec, Max: 30 * sec}}},
		{ID: "N", Position: geo.LatLon{Lat: 50.8792, Lon: 4.7}, Neighbours: []Neighbour{{Camera: "S", Min: 3 * sec, Max: 30 * sec}}},
	}
	viaN := slices.Clone(cams)
	viaN[0].Neighbours = viaN[0].Neighbours[1:]
	r := rand.New(rand.NewPCG(5, 6))
	face, clothes := unitVec(r, 128), unitVec(r, 512)
	again := near(r, clothes, 0.95)
	tests := []struct {
		name    string
		cams    []Camera
		mod     func(*Config)
		others  []tracks.Sighting // added between p and q
		q       tracks.Sighting
		linked  bool
		refused Reason
	}{
		{"clothes alone, nobody else like them", cams, nil, nil,
			seen("q", "S", 20, 25, nil, again), true, ""},
		{"a face among lookalikes", cams, nil, []tracks.Sighting{seen("x", "S", 1, 6, nil, near(r, clothes, 0.97))},
			seen("q", "S", 20, 25, near(r, face, 0.65), again), true, ""},
		{"clothes alone, a lookalike left at the same time", cams, nil, []tracks.Sighting{seen("x", "S", 1, 6, nil, near(r, clothes, 0.97))},
			seen("q", "S", 20, 25, nil, again), false, AmbiguousReturn},
		{"clothes alone, a lookalike came back first", cams, nil, []tracks.Sighting{seen("x", "S", 15, 19, nil, near(r, clothes, 0.97))},
			seen("q", "S", 20, 25, nil, again), false, AmbiguousReturn},
		{"clothes alone, others clearly different", cams, nil, []tracks.Sighting{seen("x", "S", 1, 6, nil, near(r, clothes, 0.6))},
			seen("q", "S", 20, 25, nil, again), true, ""},
		// What city5's c6 passers-by did: c6 -> c3 (unseen) -> c6 on clothes alone.
		{"through a neighbour on clothes alone", viaN, nil, nil,
			seen("q", "S", 20, 25, nil, clothes), false, WeakEvidence},
		{"through a neighbour with a lookalike, weak bar lowered", viaN, func(c *Config) { c.WeakThreshold = c.Threshold },
			[]tracks.Sighting{seen("x", "S", 1, 6, nil, near(r, clothes, 0.97))},
			seen("q", "S", 20, 25, nil, clothes), false, AmbiguousReturn},
		{"through a neighbour with a face", viaN, nil, nil,
			seen("q", "S", 20, 25, near(r, face, 0.65), nil), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStitcher(t, tt.cams, DefaultLearning(), tt.mod)
			add(t, st, seen("p", "S", 0, 5, face, clothes))
			for _, o := range tt.others {
				add(t, st, o)
			}
			ds := add(t, st, tt.q)
			last := ds[len(ds)-1]
			require.Equal(t, tt.linked, last.Link != nil && last.Link.From == "p", "linked to p: %+v", last)
			k, ok := explained(t, st, "p", "q")
			require.True(t, ok, "the link was not weighed")
			assert.Equal(t, tt.linked, k.Chosen, "chosen (%s)", k.Detail)
			assert.Equal(t, tt.refused, k.Refused, "refused (%s)", k.Detail)
		})
	}
}

// TestReturnWithdrawnWhenLookalikeArrives: a return made on clothes alone stays open to revision;
// a lookalike who could equally have come back takes the link away.
func TestReturnWithdrawnWhenLookalikeArrives(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	clothes := unitVec(r, 512)
	st := newStitcher(t, []Camera{{ID: "S", Position: geo.LatLon{Lat: 50, Lon: 4}, Neighbours: []Neighbour{{Camera: "S", Min: 2 * sec, Max: 60 * sec}}}}, DefaultLearning(), nil)
	add(t, st, seen("p", "S", 0, 5, nil, clothes))
	ds := add(t, st, seen("q", "S", 20, 25, nil, near(r, clothes, 0.95)))
	require.NotNil(t, ds[0].Link, "return not linked at first: %+v", ds)
	require.Equal(t, "p", ds[0].Link.From, "return linked at first")
	ds = add(t, st, seen("x", "S", 22, 27, nil, near(r, clothes, 0.96)))
	byID := map[string]tracks.Decision{}
	for _, d := range ds {
		byID[d.Sighting] = d
	}
	if d, ok := byID["q"]; assert.True(t, ok, "no new decision for q") {
		assert.Nil(t, d.Link, "q still linked: %+v", d)
		assert.Equal(t, "q", d.Trajectory, "q not a trajectory of its own")
		assert.True(t, d.Revised, "q's decision not marked revised")
	}
	assert.Nil(t, byID["x"].Link, "the lookalike was linked instead: %+v", byID["x"])
	for _, id := range []string{"q", "x"} {
		k, _ := explained(t, st, "p", id)
		assert.False(t, k.Chosen, "p -> %s chosen", id)
		assert.Equal(t, AmbiguousReturn, k.Refused, "p -> %s", id)
		assert.Contains(t, k.Detail, "margin", "p -> %s", id)
	}
}

// TestTrajectoryCannotLink: a trajectory never holds two sightings that cannot be one person, even
// when every link in it is plausible on its own; the weakest link between them goes.
func TestTrajectoryCannotLink(t *testing.T) {
	// A, B, C 20 m apart along a street (A-C 40 m); D 60 m from A. Every trajectory below goes
	// a -> b -> c with a still in view when c appears: a plausible link each, b between them.
	const lat = 50.879
	win := []Neighbour{{Min: 0, Max: 20 * sec}}
	nb := func(cams ...string) []Neighbour {
		var out []Neighbour
		for _, c := range cams {
			n := win[0]
			n.Camera = c
			out = append(out, n)
		}
		return out
	}
	cams := []Camera{
		{ID: "A", Position: geo.LatLon{Lat: lat, Lon: 4.70000}, Neighbours: nb("B")},
		{ID: "B", Position: geo.LatLon{Lat: lat, Lon: 4.70028}, Neighbours: nb("A", "C", "D")},
		{ID: "C", Position: geo.LatLon{Lat: lat, Lon: 4.70056}, Neighbours: nb("B")},
		{ID: "D", Position: geo.LatLon{Lat: lat, Lon: 4.70084}, Neighbours: nb("B")},
	}
	r := rand.New(rand.NewPCG(9, 10))
	face := unitVec(r, 128)
	fuzzy := near(r, face, 0.6)
	tests := []struct {
		name    string
		mod     func(*Config)
		a, b, c tracks.Sighting
		chains  [][]string
		dropped [2]string // the link refused for the conflict
		because string
	}{
		{"back on one camera while still there", nil,
			seen("a", "A", 0, 12, face, nil), seen("b", "B", 10.5, 11, face, nil), seen("c", "A", 11.5, 15, fuzzy, nil),
			[][]string{{"a", "b"}, {"c"}}, [2]string{"b", "c"}, "a and c: " + string(SameCameraAtOnce)},
		{"the weaker link goes", nil,
			seen("a", "A", 0, 12, fuzzy, nil), seen("b", "B", 10.5, 11, face, nil), seen("c", "A", 11.5, 15, face, nil),
			[][]string{{"a"}, {"b", "c"}}, [2]string{"a", "b"}, "a and c: " + string(SameCameraAtOnce)},
		{"in two places at once", nil,
			seen("a", "A", 0, 12, face, nil), seen("b", "B", 10.5, 11, face, nil), seen("c", "D", 11.5, 15, fuzzy, nil),
			[][]string{{"a", "b"}, {"c"}}, [2]string{"b", "c"}, "a and c: " + string(TwoPlacesAtOnce)},
		{"views that overlap", nil,
			seen("a", "A", 0, 12, face, nil), seen("b", "B", 10.5, 11, face, nil), seen("c", "C", 11.5, 15, fuzzy, nil),
			[][]string{{"a", "b", "c"}}, [2]string{}, ""},
		{"in two places at once, wider views", func(c *Config) { c.ViewRadius = 35 },
			seen("a", "A", 0, 12, face, nil), seen("b", "B", 10.5, 11, face, nil), seen("c", "D", 11.5, 15, fuzzy, nil),
			[][]string{{"a", "b", "c"}}, [2]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStitcher(t, cams, DefaultLearning(), tt.mod)
			all := []tracks.Sighting{tt.a, tt.b, tt.c}
			// The edge reports sightings as they end.
			slices.SortStableFunc(all, func(x, y tracks.Sighting) int { return x.Exit.Compare(y.Exit) })
			var last []tracks.Decision
			for _, s := range all {
				last = add(t, st, s)
			}
			for _, want := range tt.chains {
				assert.Equal(t, want, chain(st, want[0]), "trajectory of %s", want[0])
			}
			if tt.because == "" {
				return
			}
			k, ok := explained(t, st, tt.dropped[0], tt.dropped[1])
			if assert.True(t, ok, "%s -> %s not weighed", tt.dropped[0], tt.dropped[1]) {
				assert.False(t, k.Chosen, "%s -> %s chosen", tt.dropped[0], tt.dropped[1])
				assert.Equal(t, Conflict, k.Refused, "%s -> %s", tt.dropped[0], tt.dropped[1])
				assert.Equal(t, tt.because, k.Detail, "%s -> %s", tt.dropped[0], tt.dropped[1])
			}
			// Whatever the last sighting changed was reported.
			for _, d := range last {
				assert.False(t, d.Sighting == tt.dropped[1] && d.Link != nil && d.Link.From == tt.dropped[0],
					"decision %+v keeps the refused link", d)
			}
		})
	}
}

// TestSwappedTrackOnOneCamera is city5's wrong link at 2 fps: where two people crossed, the tracker
// swapped a passer-by's track for Tom's for two frames, so that track carried Tom's face while Tom's
// own track was in view. A face that strong cannot join two tracks seen at once on one camera.
func TestSwappedTrackOnOneCamera(t *testing.T) {
	cams := []Camera{
		{ID: "c6", Position: geo.LatLon{Lat: 50.87925, Lon: 4.7006}, Neighbours: []Neighbour{{Camera: "c3", Min: 3 * sec, Max: 30 * sec}}},
		{ID: "c3", Position: geo.LatLon{Lat: 50.879, Lon: 4.7006}, Neighbours: []Neighbour{{Camera: "c6", Min: 3 * sec, Max: 30 * sec}}},
	}
	r := rand.New(rand.NewPCG(11, 12))
	tom := unitVec(r, 128)
	st := newStitcher(t, cams, DefaultLearning(), nil)
	add(t, st, seen("swapped", "c6", 5.5, 11, near(r, tom, 0.8), unitVec(r, 512)))
	ds := add(t, st, seen("tom", "c6", 8.5, 14, tom, unitVec(r, 512)))
	require.Nil(t, ds[0].Link, "linked")
	_, weighed := explained(t, st, "swapped", "tom")
	assert.False(t, weighed, "the pair was weighed as a possible link")
	// The same two, one after the other (out through c3 and back), are one person.
	st = newStitcher(t, cams, DefaultLearning(), nil)
	add(t, st, seen("before", "c6", 0, 5, near(r, tom, 0.8), nil))
	ds = add(t, st, seen("tom", "c6", 20, 25, tom, nil))
	if assert.NotNil(t, ds[0].Link, "return with a face not linked: %+v", ds[0]) {
		assert.Equal(t, "before", ds[0].Link.From, "return with a face linked")
	}
}

func TestConfigRejectsUnsoundRules(t *testing.T) {
	topo, err := NewTopology(line(2, sec, 2*sec), DefaultLearning())
	require.NoError(t, err)
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"weak bar below the bar", func(c *Config) { c.WeakThreshold = c.Threshold - 0.1 }},
		{"weak bar NaN", func(c *Config) { c.WeakThreshold = math.NaN() }},
		{"negative strong evidence", func(c *Config) { c.StrongEvidence = -1 }},
		{"negative return margin", func(c *Config) { c.ReturnMargin = -0.1 }},
		{"return margin NaN", func(c *Config) { c.ReturnMargin = math.NaN() }},
		{"negative view radius", func(c *Config) { c.ViewRadius = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mod(&cfg)
			_, err := New(cfg, topo)
			assert.Error(t, err)
		})
	}
}
