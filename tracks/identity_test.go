package tracks

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frame is one face: candidate person -> similarity, all against a list threshold of 0.5.
type frame map[string]float64

func faceOf(f frame) *Face {
	face := &Face{Score: 0.9, Embedding: []float32{1}}
	for id, sim := range f {
		face.Matches = append(face.Matches, FaceMatch{PersonID: id, Similarity: sim, Threshold: 0.5})
	}
	return face
}

func TestIdentityEvidence(t *testing.T) {
	llr := DefaultIdentityConfig()
	llr.Method = LogLikelihood
	vote := DefaultIdentityConfig()
	vote.Method = Vote
	tests := []struct {
		name    string
		cfg     IdentityConfig
		frames  []frame
		want    string
		decided int // frame index at which the identity was first decided, -1 for none
	}{
		{"two clear matches", llr, []frame{{"ann": 0.7}, {"ann": 0.68}}, "ann", 1},
		{"one strong frame is not enough", llr, []frame{{"ann": 0.95}}, "", -1},
		// 25 x 0.02 = 0.5 per frame: six frames reach 3.
		{"marginal matches add up", llr, []frame{{"ann": 0.52}, {"ann": 0.52}, {"ann": 0.52}, {"ann": 0.52}, {"ann": 0.52}, {"ann": 0.52}}, "ann", 5},
		{"below threshold never", llr, []frame{{"ann": 0.49}, {"ann": 0.45}, {"ann": 0.48}, {"ann": 0.4}}, "", -1},
		// Unrecognised faces (matching nobody) count against: two clear matches after three
		// unrecognised frames give 5 - 3 = 2 < 3; a third match decides.
		{"unrecognised frames count against", llr, []frame{{}, {}, {}, {"ann": 0.7}, {"ann": 0.7}, {"ann": 0.7}}, "ann", 5},
		// Alternating best matches: each frame that prefers the other person cannot add.
		{"two people compete", llr, []frame{{"ann": 0.6, "bob": 0.55}, {"ann": 0.55, "bob": 0.6}, {"ann": 0.6, "bob": 0.55}, {"ann": 0.55, "bob": 0.6}}, "", -1},
		{"clear winner over a lookalike", llr, []frame{{"ann": 0.7, "bob": 0.52}, {"ann": 0.72, "bob": 0.51}}, "ann", 1},
		// Evidence that turns: the identity lapses when later frames contradict it.
		{"identity lapses", llr, []frame{{"ann": 0.7}, {"ann": 0.7}, {"bob": 0.7}, {"bob": 0.7}, {"bob": 0.7}}, "bob", 4},
		{"vote majority", vote, []frame{{"ann": 0.6}, {"ann": 0.55}, {}, {"ann": 0.51}}, "ann", 1},
		{"vote minority", vote, []frame{{"ann": 0.6}, {}, {}, {}, {"ann": 0.6}}, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEvidence(tt.cfg)
			decided := -1
			for i, f := range tt.frames {
				e.add(t0.Add(time.Duration(i)*time.Second), faceOf(f))
				if e.PersonID != "" && decided < 0 {
					decided = i
				}
				if e.PersonID == "" {
					decided = -1
				}
			}
			require.Equal(t, tt.want, e.PersonID, "candidates %+v", e.Candidates)
			assert.Equal(t, tt.decided, decided)
			if tt.want != "" {
				assert.WithinDuration(t, t0.Add(time.Duration(tt.decided)*time.Second), e.Decided, 0, "decided at frame %d", tt.decided)
			}
			assert.Equal(t, len(tt.frames), e.FaceFrames, "face frames")
		})
	}
}

func TestEvidenceKeepsStrongestFrames(t *testing.T) {
	cfg := DefaultIdentityConfig()
	cfg.MaxEvidence = 3
	e := newEvidence(cfg)
	for i, sim := range []float64{0.6, 0.9, 0.7, 0.8, 0.65} {
		e.add(t0.Add(time.Duration(i)*time.Second), faceOf(frame{"ann": sim}))
	}
	require.Len(t, e.Candidates, 1)
	c := e.Candidates[0]
	require.Len(t, c.Frames, 3, "the three most similar")
	assert.Equal(t, 0.9, c.Frames[0].Similarity, "most similar first")
	assert.Equal(t, 0.7, c.Frames[2].Similarity, "least similar kept last")
	assert.Equal(t, 5, c.Above, "frames above")
	assert.Equal(t, 5, c.Listed, "frames listed")
	assert.Equal(t, 5, c.Best, "frames best")
	// A face without embedding or matches is not a face frame.
	e.add(t0, &Face{Score: 0.5})
	e.add(t0, nil)
	assert.Equal(t, 5, e.FaceFrames, "face frames")
}

func TestTrackTakesIdentity(t *testing.T) {
	tr := newTestTracker(t, nil)
	var got []Track
	for f := 0; f < 4; f++ {
		var face *Face
		if f >= 2 {
			face = faceOf(frame{"ann": 0.7})
		}
		got = tr.Update(at(f, 10), []Detection{{Box: Box{X: 10, Y: 10, W: 40, H: 100}, Score: 0.9, Face: face}})
		require.NotEmpty(t, got)
		if f < 3 {
			require.Empty(t, got[0].PersonID, "identity at frame %d, before two clear matches", f)
		}
	}
	require.Equal(t, "ann", got[0].PersonID, "identity after two clear matches")
	done := tr.Finish()
	require.NotEmpty(t, done)
	s := done[0]
	assert.Equal(t, "ann", s.PersonID())
	require.Len(t, s.Evidence.Candidates, 1)
	assert.Len(t, s.Evidence.Candidates[0].Frames, 2, "the two face frames")
	assert.WithinDuration(t, at(3, 10), s.Evidence.Decided, 0, "decided")
}

// The template method on frames with explicit embeddings (ann's faces along one axis, bob's along
// another), qualities and similarities; the list's threshold is 0.5 and the margin 0.08.
func TestTemplateEvidence(t *testing.T) {
	annFace, bobFace := []float32{1, 0}, []float32{0, 1}
	type obs struct {
		emb  []float32
		q    float64
		sims map[string]float64
	}
	ann := func(sim, q float64) obs { return obs{annFace, q, map[string]float64{"ann": sim}} }
	tests := []struct {
		name    string
		frames  []obs
		want    string
		decided int // frame index of the first decision, -1 for none
	}{
		{"two clear frames", []obs{ann(0.7, 1), ann(0.68, 1)}, "ann", 1},
		{"one strong frame is not enough", []obs{ann(0.95, 1)}, "", -1},
		{"a clear frame carries weak ones", []obs{ann(0.45, 1), ann(0.45, 1), ann(0.65, 1)}, "ann", 2},
		{"below the threshold on average never", []obs{ann(0.55, 1), ann(0.4, 1), ann(0.4, 1)}, "", -1},
		// Unweighted the mean is 0.39; weighted by quality (0.03 + 0.03 + 0.56) / 1.2 = 0.52.
		{"poor frames count less", []obs{ann(0.3, 0.1), ann(0.3, 0.1), ann(0.56, 1)}, "ann", 2},
		{"a look-alike within the margin", []obs{
			{annFace, 1, map[string]float64{"ann": 0.7, "bob": 0.65}},
			{annFace, 1, map[string]float64{"ann": 0.7, "bob": 0.66}}}, "", -1},
		{"two people compete", []obs{
			{annFace, 1, map[string]float64{"ann": 0.6, "bob": 0.55}},
			{annFace, 1, map[string]float64{"ann": 0.55, "bob": 0.6}}}, "", -1},
		// Two of ann's faces then three of bob's: the template leans to bob, cos 2.1/sqrt(13) = 0.58
		// against ann's 1.4/sqrt(13) = 0.39.
		{"identity turns with the faces", []obs{ann(0.7, 1), ann(0.7, 1),
			{bobFace, 1, map[string]float64{"bob": 0.7}}, {bobFace, 1, map[string]float64{"bob": 0.7}},
			{bobFace, 1, map[string]float64{"bob": 0.7}}}, "bob", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEvidence(DefaultIdentityConfig())
			decided := -1
			for i, o := range tt.frames {
				f := &Face{Score: 0.9, Embedding: o.emb, Quality: o.q}
				for id, sim := range o.sims {
					f.Matches = append(f.Matches, FaceMatch{PersonID: id, Similarity: sim, Threshold: 0.5, Margin: 0.08})
				}
				e.add(t0.Add(time.Duration(i)*time.Second), f)
				switch {
				case e.PersonID == "":
					decided = -1
				case decided < 0:
					decided = i
				}
			}
			require.Equal(t, tt.want, e.PersonID, "candidates %+v", e.Candidates)
			assert.Equal(t, tt.decided, decided)
			if tt.want != "" {
				c := e.Candidates[0]
				assert.Equal(t, tt.want, c.PersonID)
				assert.GreaterOrEqual(t, c.Score, c.Threshold)
			}
		})
	}
}

// A person a face lists twice counts once, by the first (most similar) listing.
func TestTemplateEvidenceListedTwice(t *testing.T) {
	e := newEvidence(DefaultIdentityConfig())
	for i := range 2 {
		e.add(t0.Add(time.Duration(i)*time.Second), &Face{Score: 0.9, Embedding: []float32{1, 0}, Quality: 1,
			Matches: []FaceMatch{{PersonID: "ann", Similarity: 0.7, Threshold: 0.5, Margin: 0.08},
				{PersonID: "ann", Similarity: 0.1, Threshold: 0.5, Margin: 0.08}}})
	}
	require.Equal(t, "ann", e.PersonID, "candidates %+v", e.Candidates)
	assert.InDelta(t, 0.7, e.Candidates[0].Score, 1e-9)
	assert.InDelta(t, 0.5, e.Candidates[0].Threshold, 1e-9)
}

// The evidence's Template is the quality-weighted mean of the faces, what the rule compared.
func TestEvidenceTemplate(t *testing.T) {
	e := newEvidence(DefaultIdentityConfig())
	assert.Nil(t, e.snapshot().Template, "no face yet")
	e.add(t0, &Face{Score: 0.9, Embedding: []float32{1, 0}, Quality: 0.9})
	e.add(t0.Add(time.Second), &Face{Score: 0.9, Embedding: []float32{0, 1}, Quality: 0.3})
	tpl := e.snapshot().Template
	require.Len(t, tpl, 2)
	assert.InDelta(t, 0.9/math.Hypot(0.9, 0.3), tpl[0], 1e-6)
	assert.InDelta(t, 0.3/math.Hypot(0.9, 0.3), tpl[1], 1e-6)
	assert.Nil(t, newEvidence(IdentityConfig{Method: Vote}).snapshot().Template, "only the template rule keeps one")
}

// With MinAppearance, a face that looks unlike its track's (another person at a shot cut, in the same
// place) starts a track of its own, so neither person's name reaches the other's frames; a face without
// an embedding, or a track without one, still follows by overlap alone.
func TestMinAppearanceSplitsTracks(t *testing.T) {
	ann, bob := []float32{1, 0, 0}, []float32{0, 1, 0}
	annTurned := []float32{0.8, 0.6, 0} // cosine 0.8 with ann
	box := Box{X: 100, Y: 100, W: 60, H: 60}
	frames := [][]float32{ann, annTurned, nil, ann, bob, bob}
	for _, tc := range []struct {
		name string
		min  float64
		want []uint64 // track id per frame
	}{
		{"off", 0, []uint64{1, 1, 1, 1, 1, 1}},
		{"0.4", 0.4, []uint64{1, 1, 1, 1, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(t, func(c *Config) { c.MinAppearance, c.ConfirmHits = tc.min, 1 })
			var got []uint64
			for i, emb := range frames {
				out := tr.Update(at(i, 25), []Detection{{Box: box, Score: 0.9, Appearance: emb}})
				require.Len(t, out, 1)
				got = append(got, out[0].ID)
			}
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := NewTracker(Config{MinAppearance: 2})
	assert.Error(t, err)
}
