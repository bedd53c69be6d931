package tracks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/colour"
)

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func at(frame int, fps float64) time.Time {
	return t0.Add(time.Duration(float64(frame) / fps * float64(time.Second)))
}

func newTestTracker(t *testing.T, mod func(*Config)) *Tracker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Camera = "cam-1"
	if mod != nil {
		mod(&cfg)
	}
	tr, err := NewTracker(cfg)
	require.NoError(t, err)
	return tr
}

func walker(x0, vx float64) func(sec float64) Box {
	return func(sec float64) Box { return Box{X: x0 + vx*sec, Y: 100, W: 50, H: 120} }
}

func ids(ts []Track) []uint64 {
	out := make([]uint64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func TestLifecycle(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.LostMaxAge = 500 * time.Millisecond })
	const fps = 10.0
	a := walker(100, 30)
	// Frame 0: nobody. A person appears at frame 1: tentative, not reported.
	require.Empty(t, tr.Update(at(0, fps), nil), "reported on an empty frame")
	require.Empty(t, tr.Update(at(1, fps), []Detection{{Box: a(0.1), Score: 0.9}}), "tentative track reported")
	all := tr.Tracks()
	require.Len(t, all, 1, "want one tentative track")
	require.Equal(t, Tentative, all[0].State, "want one tentative track")
	// Second hit confirms.
	got := tr.Update(at(2, fps), []Detection{{Box: a(0.2), Score: 0.9}})
	require.Len(t, got, 1, "after two hits")
	require.Equal(t, Confirmed, got[0].State, "after two hits")
	require.Equal(t, 0, got[0].Detection, "after two hits")
	id := got[0].ID
	for f := 3; f <= 5; f++ {
		got = tr.Update(at(f, fps), []Detection{{Box: a(float64(f) / fps), Score: 0.9}})
		require.Equal(t, []uint64{id}, ids(got), "frame %d", f)
	}
	// Missed for 0.3 s: lost, not reported, then found again with the same id.
	for f := 6; f <= 8; f++ {
		got = tr.Update(at(f, fps), nil)
		require.Empty(t, got, "lost track reported at frame %d", f)
	}
	all = tr.Tracks()
	require.Len(t, all, 1, "want one lost track")
	require.Equal(t, Lost, all[0].State, "want one lost track")
	got = tr.Update(at(9, fps), []Detection{{Box: a(0.9), Score: 0.9}})
	require.Equal(t, []uint64{id}, ids(got), "after the gap")
	require.Empty(t, tr.Sightings(), "sighting before the track ended")
	// Gone for longer than LostMaxAge: removed, one final sighting from first to last detection.
	for f := 10; f <= 16; f++ {
		tr.Update(at(f, fps), nil)
	}
	require.Empty(t, tr.Tracks(), "tracks left")
	s := tr.Sightings()
	require.Len(t, s, 1)
	assert.True(t, s[0].Enter.Equal(at(1, fps)), "enter %v", s[0].Enter)
	assert.True(t, s[0].Exit.Equal(at(9, fps)), "exit %v", s[0].Exit)
	assert.True(t, s[0].Final, "final")
	assert.Equal(t, "cam-1", s[0].Camera)
	assert.Len(t, s[0].Boxes, 6) // frames 1-5 and 9
	assert.Empty(t, tr.Sightings(), "Sightings returned the same sighting twice")
}

func TestTentativeNeverBecomesSighting(t *testing.T) {
	tr := newTestTracker(t, nil)
	tr.Update(at(0, 10), nil)
	tr.Update(at(1, 10), []Detection{{Box: Box{X: 10, Y: 10, W: 40, H: 100}, Score: 0.9}})
	tr.Update(at(2, 10), nil)
	require.Empty(t, tr.Tracks(), "tentative track survived a miss")
	require.Empty(t, tr.Finish(), "sightings from a tentative track")
}

func TestFirstFrameConfirmsAtOnce(t *testing.T) {
	tr := newTestTracker(t, nil)
	got := tr.Update(at(0, 10), []Detection{{Box: Box{X: 10, Y: 10, W: 40, H: 100}, Score: 0.9}})
	require.Len(t, got, 1, "people in view at start not reported")
}

func TestScoreBands(t *testing.T) {
	tr := newTestTracker(t, nil)
	a := walker(100, 20)
	tr.Update(at(0, 10), []Detection{{Box: a(0), Score: 0.9}})
	// A low-score detection (an occluded person) continues the confirmed track...
	got := tr.Update(at(1, 10), []Detection{{Box: a(0.1), Score: 0.3}})
	require.Len(t, got, 1, "low detection did not continue the track")
	require.Equal(t, 0.3, got[0].Score, "low detection did not continue the track")
	// ...but never starts one, and one below LowScore is ignored.
	got = tr.Update(at(2, 10), []Detection{{Box: a(0.2), Score: 0.9}, {Box: Box{X: 400, Y: 100, W: 50, H: 120}, Score: 0.4}, {Box: Box{X: 600, Y: 100, W: 50, H: 120}, Score: 0.05}})
	require.Len(t, tr.Tracks(), 1, "weak detections started tracks")
	require.Len(t, got, 1, "weak detections started tracks")
}

func TestBadDetectionsIgnored(t *testing.T) {
	tr := newTestTracker(t, nil)
	nan := math.NaN()
	dets := []Detection{
		{Box: Box{X: nan, Y: 0, W: 10, H: 10}, Score: 0.9},
		{Box: Box{X: 0, Y: 0, W: 0, H: 10}, Score: 0.9},
		{Box: Box{X: 0, Y: 0, W: 10, H: math.Inf(1)}, Score: 0.9},
		{Box: Box{X: 0, Y: 0, W: 10, H: 10}, Score: nan},
		{Box: Box{X: 100, Y: 0, W: 40, H: 100}, Score: 0.9},
	}
	got := tr.Update(at(0, 10), dets)
	require.Len(t, got, 1, "want only detection 4")
	require.Equal(t, 4, got[0].Detection, "want only detection 4")
	// Time going backwards is treated as no time passing.
	got = tr.Update(at(-5, 10), []Detection{{Box: Box{X: 100, Y: 0, W: 40, H: 100}, Score: 0.9}})
	require.Len(t, got, 1, "update with an earlier time lost the track")
}

// TestSkippedFramesByWallTime checks that a camera whose detector runs on every fifth frame keeps a
// fast walker's identity because prediction steps by wall time: the person moves more than a box
// width between detections.
func TestSkippedFramesByWallTime(t *testing.T) {
	const fps = 25.0
	a := walker(0, 150)     // 150 px/s, 6 px per frame
	b := walker(1200, -150) // coming the other way
	for _, every := range []int{1, 5, 10} {
		t.Run(fmt.Sprintf("every %d frames", every), func(t *testing.T) {
			tr := newTestTracker(t, nil)
			seen := map[uint64]int{}
			for f := 0; f <= 100; f += every {
				sec := float64(f) / fps
				got := tr.Update(at(f, fps), []Detection{{Box: a(sec), Score: 0.9}, {Box: b(sec), Score: 0.9}})
				for _, g := range got {
					seen[g.ID]++
				}
			}
			require.Len(t, seen, 2, "identities for two walkers")
		})
	}
}

// TestCrossingKeepsIdentities has two people walk past each other in opposite directions with the
// nearer one occluding the other for a few frames.
func TestCrossingKeepsIdentities(t *testing.T) {
	const fps = 25.0
	a := func(s float64) Box { return Box{X: 100 + 80*s, Y: 100, W: 60, H: 160} }
	b := func(s float64) Box { return Box{X: 500 - 80*s, Y: 104, W: 56, H: 150} }
	tr := newTestTracker(t, nil)
	first := map[string]uint64{}
	for f := 0; f <= 150; f++ {
		s := float64(f) / fps
		dets := []Detection{{Box: a(s), Score: 0.95}}
		ba, bb := a(s), b(s)
		occluded := ba.IoU(bb) > 0.3
		if !occluded {
			dets = append(dets, Detection{Box: bb, Score: 0.9})
		}
		for _, g := range tr.Update(at(f, fps), dets) {
			who := "b"
			if g.Detection == 0 {
				who = "a"
			}
			if id, ok := first[who]; !ok {
				first[who] = g.ID
			} else {
				require.Equal(t, id, g.ID, "frame %d: %s changed id", f, who)
			}
		}
	}
	require.Len(t, first, 2, "identities")
	require.NotEqual(t, first["a"], first["b"], "identities")
}

type fakeCrops struct {
	face, body *int
	err        error
}

func (c fakeCrops) FaceJPEG() ([]byte, error) {
	*c.face++
	return []byte(fmt.Sprint("face", *c.face)), c.err
}
func (c fakeCrops) BodyJPEG() ([]byte, error) {
	*c.body++
	return []byte(fmt.Sprint("body", *c.body)), c.err
}

// BodyColours numbers the crop like BodyJPEG, so a test can tell the colours belong to that view.
func (c fakeCrops) BodyColours() colour.Description {
	return colour.Description{Upper: colour.Region{Dark: uint8(*c.body)}}
}

func TestSightingContents(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.MaxBoxes = 8 })
	var faceCalls, bodyCalls int
	crops := fakeCrops{face: &faceCalls, body: &bodyCalls}
	r := rand.New(rand.NewPCG(7, 8))
	id := unit(r, 16)
	app := unit(r, 32)
	const frames = 40
	bestFaceFrame := 25
	for f := 0; f < frames; f++ {
		box := Box{X: 100 + float64(f), Y: 100, W: 50, H: 120}
		face := &Face{Box: Box{X: box.X + 15, Y: 105, W: 20, H: 20}, Score: 0.8, Embedding: noisy(r, id, 0.1)}
		if f == bestFaceFrame {
			face.Score = 0.99
			face.Box.W, face.Box.H = 30, 30
		}
		score := 0.9
		if f == 10 {
			score = 0.99
		}
		tr.Update(at(f, 25), []Detection{{Box: box, Score: score, Face: face, Appearance: noisy(r, app, 0.1), Crops: crops}})
	}
	ss := tr.Finish()
	require.Len(t, ss, 1)
	s := ss[0]
	assert.GreaterOrEqual(t, len(s.Boxes), 4, "boxes kept")
	assert.LessOrEqual(t, len(s.Boxes), 8, "boxes kept")
	assert.True(t, s.Boxes[0].Time.Equal(s.Enter), "first box at %v, enter %v", s.Boxes[0].Time, s.Enter)
	if assert.NotNil(t, s.Face, "best face") {
		assert.True(t, s.Face.Time.Equal(at(bestFaceFrame, 25)), "best face %+v, want the one at frame %d", s.Face, bestFaceFrame)
	}
	if assert.NotNil(t, s.Body, "best body") {
		assert.True(t, s.Body.Time.Equal(at(10, 25)), "best body %+v, want frame 10", s.Body)
		assert.NotEmpty(t, s.Body.JPEG, "best body's bytes")
		assert.Equal(t, fmt.Sprint("body", s.Colours.Upper.Dark), string(s.Body.JPEG), "the sighting's colours are of its body view")
	}
	// Crops are encoded only when the view improves, never per frame.
	assert.LessOrEqual(t, faceCalls, 10, "face crops encoded over %d frames", frames)
	assert.LessOrEqual(t, bodyCalls, 10, "body crops encoded over %d frames", frames)
	assert.GreaterOrEqual(t, cosine(s.FaceEmbedding, id), 0.95, "face embedding similarity to the identity")
	assert.GreaterOrEqual(t, cosine(s.AppearanceEmbedding, app), 0.95, "appearance embedding similarity")
	// Sightings are plain values: JSON keeps everything.
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var back Sighting
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back, "JSON round trip changed the sighting")
}

func TestCropErrorsAreLoggedNotFatal(t *testing.T) {
	tr := newTestTracker(t, nil)
	var n1, n2 int
	crops := fakeCrops{face: &n1, body: &n2, err: errors.New("encoder down")}
	for f := 0; f < 3; f++ {
		tr.Update(at(f, 10), []Detection{{Box: Box{X: 10, Y: 10, W: 40, H: 100}, Score: 0.9, Face: &Face{Box: Box{X: 20, Y: 15, W: 15, H: 15}, Score: 0.9}, Crops: crops}})
	}
	s := tr.Finish()
	require.Len(t, s, 1, "sighting lost with failing crops")
	require.NotNil(t, s[0].Body, "body lost with failing crops")
	require.NotNil(t, s[0].Face, "face lost with failing crops")
}

func TestLiveSighting(t *testing.T) {
	tr := newTestTracker(t, nil)
	var id uint64
	for f := 0; f < 5; f++ {
		got := tr.Update(at(f, 10), []Detection{{Box: Box{X: 10 + float64(f), Y: 10, W: 40, H: 100}, Score: 0.9}})
		id = got[0].ID
	}
	s, ok := tr.Live(id)
	require.True(t, ok, "live sighting")
	require.False(t, s.Final, "live sighting is final")
	require.Len(t, s.Boxes, 5, "live sighting")
	s.Boxes[0].Score = -1 // the copy is the caller's
	s2, _ := tr.Live(id)
	assert.NotEqual(t, -1.0, s2.Boxes[0].Score, "live sighting shares memory with the tracker")
	_, ok = tr.Live(999)
	assert.False(t, ok, "unknown track has a live sighting")
}

func TestAppearanceResolvesAmbiguity(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	appA, appB := unit(r, 64), unit(r, 64)
	run := func(useApp bool) uint64 {
		tr := newTestTracker(t, func(c *Config) { c.Appearance = useApp; c.MatchIoU = 0.3 })
		var idA uint64
		for f := 0; f < 5; f++ {
			got := tr.Update(at(f, 10), []Detection{{Box: Box{X: 100, Y: 100, W: 50, H: 120}, Score: 0.9, Appearance: appA}})
			idA = got[0].ID
		}
		// Two candidates overlap the track; the one overlapping more is someone else.
		got := tr.Update(at(5, 10), []Detection{
			{Box: Box{X: 105, Y: 100, W: 50, H: 120}, Score: 0.9, Appearance: appB},
			{Box: Box{X: 115, Y: 100, W: 50, H: 120}, Score: 0.9, Appearance: appA},
		})
		for _, g := range got {
			if g.ID == idA {
				return uint64(g.Detection)
			}
		}
		return 99
	}
	require.Equal(t, uint64(0), run(false), "without appearance the track took a detection, want the closer box 0")
	require.Equal(t, uint64(1), run(true), "with appearance the track took a detection, want 1 (same appearance)")
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"IoU above 1", func(c *Config) { c.MatchIoU = 1.5 }},
		{"bands inverted", func(c *Config) { c.LowScore = 0.9; c.HighScore = 0.5 }},
		{"no hits", func(c *Config) { c.ConfirmHits = 0 }},
		{"negative age", func(c *Config) { c.LostMaxAge = -time.Second }},
		{"no frame interval", func(c *Config) { c.FrameInterval = 0 }},
		{"tiny box budget", func(c *Config) { c.MaxBoxes = 1 }},
		{"negative buffer", func(c *Config) { c.RecoverBuffer = -1 }},
		{"identity", func(c *Config) { c.Identity.MinFrames = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mod(&cfg)
			_, err := NewTracker(cfg)
			require.Error(t, err, "accepted")
		})
	}
}

func unit(r *rand.Rand, n int) []float32 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return normalise(v)
}

// noisy returns v plus Gaussian noise of the given relative size, normalised.
func noisy(r *rand.Rand, v []float32, sigma float64) []float32 {
	out := make([]float64, len(v))
	s := sigma / math.Sqrt(float64(len(v)))
	for i, x := range v {
		out[i] = float64(x) + r.NormFloat64()*s
	}
	return normalise(out)
}

// TestSparseAppearance: a camera's appearance schedule embeds a person on some frames only, so the
// tracker sees detections without an appearance among those with one. The track keeps the appearance
// it last had (it still resolves a crossing), and the sighting averages only the embeddings it got.
func TestSparseAppearance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	appA, appB := unit(r, 64), unit(r, 64)
	tr := newTestTracker(t, func(c *Config) { c.Appearance = true; c.MatchIoU = 0.3 })
	var idA uint64
	for f := 0; f < 5; f++ {
		var app []float32
		if f == 0 || f == 3 {
			app = noisy(r, appA, 0.05) // new, then due
		}
		got := tr.Update(at(f, 10), []Detection{{Box: Box{X: 100, Y: 100, W: 50, H: 120}, Score: 0.9, Appearance: app}})
		require.Len(t, got, 1, "frame %d", f)
		if f > 0 {
			require.Equal(t, idA, got[0].ID, "frame %d: want the track continued", f)
		}
		idA = got[0].ID
	}
	// Two candidates overlap the track, both embedded (close together); the closer one is someone else.
	got := tr.Update(at(5, 10), []Detection{
		{Box: Box{X: 105, Y: 100, W: 50, H: 120}, Score: 0.9, Appearance: appB},
		{Box: Box{X: 115, Y: 100, W: 50, H: 120}, Score: 0.9, Appearance: appA},
	})
	for _, g := range got {
		if g.ID == idA {
			require.Equal(t, 1, g.Detection, "the track took a detection, want 1 (same appearance)")
		}
	}
	// The other person's next frames carry no appearance: nothing to compare, IoU decides.
	for f := 6; f < 9; f++ {
		tr.Update(at(f, 10), []Detection{
			{Box: Box{X: 105, Y: 100, W: 50, H: 120}, Score: 0.9},
			{Box: Box{X: 115, Y: 100, W: 50, H: 120}, Score: 0.9},
		})
	}
	for _, s := range tr.Finish() {
		if s.TrackID != idA {
			continue
		}
		assert.GreaterOrEqual(t, cosine(s.AppearanceEmbedding, appA), 0.95, "sighting's appearance similarity from its sparse embeddings")
		return
	}
	assert.Fail(t, "no sighting of the track", "track %d", idA)
}
