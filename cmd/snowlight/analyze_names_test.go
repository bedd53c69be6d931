package main

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/detect"
	"snowlight/watchlist"
)

func unitVec(v ...float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x * x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
	return v
}

// A face track is named as a whole when it ends: frames whose face alone is too unsure take the
// track's name ("track"), frames that name it alone say so ("face"), a frame waits for its tracks,
// and a stranger's track stays unnamed.
func TestTrackNamer(t *testing.T) {
	ids := []watchlist.Person{
		{ID: "ann", Name: "Ann", Category: watchlist.Missing, Embeddings: [][]float32{unitVec(1, 0, 0)}},
		{ID: "bob", Name: "Bob", Category: watchlist.Missing, Embeddings: [][]float32{unitVec(0, 1, 0)}},
	}
	m, err := watchlist.NewMatcher(ids, watchlist.DefaultPolicy(), "", time.Now())
	require.NoError(t, err)
	n, err := newTrackNamer(m, ids)
	require.NoError(t, err)
	good := detect.Quality{Size: 1, Pose: 1, Sharpness: 1}
	face := func(x float32, emb []float32) detect.Face {
		f := detect.Face{Box: detect.Box{X: x, Y: 100, W: 60, H: 60}, Score: 0.95, Embedding: emb, Quality: good}
		f.Match, f.Nearest = m.Match(emb)
		return f
	}
	t0 := time.Unix(1000, 0)
	var out []frameRecord
	for i, embs := range [][][]float32{
		{unitVec(0.8, 0.1, 0.6), unitVec(0, 0.1, 1)},  // Ann at 0.80: named by the face itself; a stranger
		{unitVec(0.45, 0.1, 0.9), unitVec(0, 0.2, 1)}, // Ann at 0.44: unsure alone
		{unitVec(0.5, 0.1, 0.85)},                     // Ann at 0.50, the stranger gone
	} {
		res := detect.Result{Faces: []detect.Face{face(100, embs[0])}}
		if len(embs) > 1 {
			res.Faces = append(res.Faces, face(400, embs[1]))
		}
		_, faces := convert(res)
		got := n.add(t0.Add(time.Duration(i)*40*time.Millisecond), res, frameRecord{Frame: i + 1, Faces: faces})
		assert.Empty(t, got, "frame %d must wait for Ann's track to end", i+1)
	}
	out = append(out, n.finish()...)
	require.Len(t, out, 3)
	for i, rec := range out {
		assert.Equal(t, i+1, rec.Frame)
		ann := rec.Faces[0]
		assert.Equal(t, "Ann", ann.Identity, "frame %d", i+1)
		assert.NotZero(t, ann.Track)
		assert.Greater(t, ann.TrackSimilarity, 0.5)
		if len(rec.Faces) > 1 {
			assert.Empty(t, rec.Faces[1].Identity, "the stranger, frame %d", i+1)
			assert.NotEqual(t, ann.Track, rec.Faces[1].Track)
		}
	}
	assert.Equal(t, []string{"face", "track", "face"}, []string{out[0].Faces[0].Source, out[1].Faces[0].Source, out[2].Faces[0].Source})
	assert.Empty(t, n.ended, "nothing held once every frame is out")
	assert.Empty(t, n.held)
}
