package pipeline

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/detect"
	"snowlight/tracks"
	"snowlight/watchlist"
)

func TestPairFaces(t *testing.T) {
	person := func(x, y, w, h float32) detect.Person {
		return detect.Person{Box: detect.Box{X: x, Y: y, W: w, H: h}, Score: 0.9}
	}
	face := func(x, y, s float32) detect.Face {
		return detect.Face{Box: detect.Box{X: x, Y: y, W: s, H: s}, Score: 0.9}
	}
	tests := []struct {
		name    string
		persons []detect.Person
		faces   []detect.Face
		want    []int
	}{
		{"face at the head", []detect.Person{person(100, 100, 100, 300)}, []detect.Face{face(130, 110, 40)}, []int{0}},
		{"face at the feet", []detect.Person{person(100, 100, 100, 300)}, []detect.Face{face(130, 340, 40)}, []int{-1}},
		{"face beside the body", []detect.Person{person(100, 100, 100, 300)}, []detect.Face{face(260, 110, 40)}, []int{-1}},
		{"face above the box", []detect.Person{person(100, 100, 100, 300)}, []detect.Face{face(130, 40, 40)}, []int{-1}},
		{"face wider than the body", []detect.Person{person(100, 100, 30, 300)}, []detect.Face{face(95, 100, 40)}, []int{-1}},
		{"no persons", nil, []detect.Face{face(130, 110, 40)}, []int{-1}},
		// Two people overlapping: each face goes to the body it sits on top of, whichever comes first.
		{"overlapping people", []detect.Person{person(100, 100, 120, 360), person(160, 120, 120, 340)},
			[]detect.Face{face(200, 128, 40), face(140, 108, 40)}, []int{1, 0}},
		// One body, two faces at its head: the better placed one wins, the other stays unpaired.
		{"two faces one body", []detect.Person{person(100, 100, 100, 300)},
			[]detect.Face{face(150, 130, 40), face(130, 115, 40)}, []int{-1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pairFaces(tc.persons, tc.faces))
		})
	}
}

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(n))
	}
	return out
}

// Faces become candidates with the threshold a match to each person must reach: ranked against the
// whole watch list when the edge has it (the runner-up too, so a face between two people counts
// against both), else the detector's nearest person only.
func TestCandidates(t *testing.T) {
	policy := watchlist.DefaultPolicy()
	ids := []watchlist.Person{
		{ID: "ann", Name: "Ann", Category: watchlist.Suspect, Embeddings: [][]float32{unit(1, 0, 0)}},
		{ID: "bob", Name: "Bob", Category: watchlist.AtRisk, Embeddings: [][]float32{unit(0, 1, 0)}, Threshold: 0.7},
		{ID: "cy", Name: "Cy", Category: watchlist.Missing, Embeddings: [][]float32{unit(0, 0, 1)}},
	}
	m, err := watchlist.NewMatcher(ids, policy, "", time.Now())
	require.NoError(t, err)
	f := &detect.Face{Embedding: unit(0.9, 0.4, 0.1), Nearest: &watchlist.Match{PersonID: "ann", Category: watchlist.Suspect,
		Similarity: 0.9, Threshold: 0.55}}
	got := ranker{matcher: m, keep: 2}.candidates(f)
	require.Len(t, got, 2, "candidates, want ann then bob")
	require.Equal(t, "ann", got[0].PersonID, "candidates, want ann then bob")
	require.Equal(t, "bob", got[1].PersonID, "candidates, want ann then bob")
	assert.Equal(t, float64(policy.Threshold[watchlist.Suspect]), got[0].Threshold, "ann's threshold, want her category's")
	assert.Equal(t, float64(float32(0.7)), got[1].Threshold, "bob's threshold, want his own")
	assert.InDelta(t, 0.9/math.Sqrt(0.98), got[0].Similarity, 1e-5, "similarity")
	got = ranker{keep: 3}.candidates(f)
	if assert.Len(t, got, 1, "without a matcher, want the nearest identity") {
		assert.Equal(t, "ann", got[0].PersonID, "without a matcher, want the nearest identity")
		assert.Equal(t, float64(float32(0.9)), got[0].Similarity, "without a matcher")
		assert.Equal(t, float64(float32(0.55)), got[0].Threshold, "without a matcher")
	}
	assert.Nil(t, (ranker{keep: 3}).candidates(&detect.Face{}), "a face without a match or embedding")
}

var fullQuality = detect.Quality{Size: 1, Pose: 1, Sharpness: 1}

// A face passes its quality on as its weight, with the margin of each candidate's category; a face
// rated useless passes only where it is.
func TestTrackFace(t *testing.T) {
	ids := []watchlist.Person{
		{ID: "ann", Name: "Ann", Category: watchlist.Suspect, Embeddings: [][]float32{unit(1, 0)}},
		{ID: "bob", Name: "Bob", Category: watchlist.AtRisk, Embeddings: [][]float32{unit(0, 1)}},
	}
	m, err := watchlist.NewMatcher(ids, watchlist.DefaultPolicy(), "", time.Now())
	require.NoError(t, err)
	f := detect.Face{Box: detect.Box{X: 1, Y: 2, W: 40, H: 40}, Score: 0.9, Embedding: unit(1, 0.2),
		Quality: detect.Quality{Size: 1, Pose: 0.5, Sharpness: 0.8}}
	tf := TrackFace(&f, m, 3)
	assert.InDelta(t, 0.4, tf.Quality, 1e-6)
	assert.Equal(t, tracks.Box{X: 1, Y: 2, W: 40, H: 40}, tf.Box)
	require.Len(t, tf.Matches, 2)
	assert.Equal(t, "ann", tf.Matches[0].PersonID)
	assert.InDelta(t, watchlist.DefaultPolicy().Margin[watchlist.Suspect], tf.Matches[0].Margin, 1e-6)
	assert.InDelta(t, watchlist.DefaultPolicy().Margin[watchlist.AtRisk], tf.Matches[1].Margin, 1e-6)

	f.Quality.Pose = 0
	tf = TrackFace(&f, m, 3)
	assert.Less(t, tf.Quality, 0.01, "rated, below every useful view")
	assert.Positive(t, tf.Quality)
	assert.Nil(t, tf.Embedding)
	assert.Nil(t, tf.Matches)
}

func TestToDetections(t *testing.T) {
	res := detect.Result{
		Persons: []detect.Person{
			{Box: detect.Box{X: 100, Y: 100, W: 100, H: 300}, Score: 0.8, Appearance: unit(1, 2)},
			{Box: detect.Box{X: 400, Y: 100, W: 100, H: 300}, Score: 0.4},
		},
		Faces: []detect.Face{
			{Box: detect.Box{X: 130, Y: 110, W: 40, H: 40}, Score: 0.95, Embedding: unit(1, 0), Quality: fullQuality,
				Nearest: &watchlist.Match{PersonID: "ann", Category: watchlist.Missing, Similarity: 0.3, Threshold: 0.5}},
			{Box: detect.Box{X: 900, Y: 110, W: 40, H: 40}, Score: 0.95},
		},
	}
	dets := toDetections(res, ranker{keep: 3})
	require.Len(t, dets, 2, "want one detection per person")
	d := dets[0]
	assert.Equal(t, tracks.Box{X: 100, Y: 100, W: 100, H: 300}, d.Box)
	assert.InDelta(t, 0.8, d.Score, 1e-6)
	assert.Len(t, d.Appearance, 2)
	if assert.NotNil(t, d.Face) {
		assert.Equal(t, 130.0, d.Face.Box.X)
		assert.Len(t, d.Face.Embedding, 2)
		if assert.Len(t, d.Face.Matches, 1) {
			assert.Equal(t, 0.5, d.Face.Matches[0].Threshold)
		}
	}
	assert.Nil(t, dets[1].Face, "the second person got a face")
}
