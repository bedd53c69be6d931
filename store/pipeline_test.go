package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"snowlight/geo"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/tracks/stitch"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTrackStitchStore runs the center's path in miniature: per-camera trackers turn frames of
// detections into sightings, the stitcher links them, the store keeps them, and the investigator's
// queries find both people's paths. Two people walk past cameras A, B and C one after the other,
// detected five times a second; Ann is on the watch list and her face is matched at B; Bob is
// unknown and shows his face at A and C only, so his pass at B is linked on appearance.
func TestTrackStitchStore(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	unit := func(v []float64) []float32 {
		var n float64
		for _, x := range v {
			n += x * x
		}
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x / math.Sqrt(n))
		}
		return out
	}
	// Synthetic embeddings: a face vector per person (same person about 0.7 apart in cosine, two
	// people about 0) and an appearance vector (0.85 against 0.4).
	identity := map[string][]float64{}
	embed := func(key string, dim int, noise float64) []float32 {
		id, ok := identity[key]
		if !ok {
			id = make([]float64, dim)
			for i := range id {
				id[i] = r.NormFloat64()
			}
			identity[key] = id
		}
		v := make([]float64, len(id))
		for i := range v {
			v[i] = id[i] + noise*r.NormFloat64()
		}
		return unit(v)
	}
	common := embed("clothes", 256, 0)
	face := func(who string) []float32 { return embed("face "+who, 128, 0.6) }
	appearance := func(who string) []float32 {
		own := embed("body "+who, 256, 0.5)
		v := make([]float64, len(own))
		for i := range v {
			v[i] = float64(own[i]) + 0.8*float64(common[i])
		}
		return unit(v)
	}

	cams := []stitch.Camera{
		{ID: "A", Position: geo.LatLon{Lat: 52.520, Lon: 13.400}, Neighbours: []stitch.Neighbour{{Camera: "B", Min: 20 * time.Second, Max: 90 * time.Second}}},
		{ID: "B", Position: geo.LatLon{Lat: 52.521, Lon: 13.401}, Neighbours: []stitch.Neighbour{{Camera: "C", Min: 20 * time.Second, Max: 90 * time.Second}}},
		{ID: "C", Position: geo.LatLon{Lat: 52.522, Lon: 13.402}},
	}
	topo, err := stitch.NewTopology(cams, stitch.DefaultLearning())
	require.NoError(t, err)
	st, err := stitch.New(stitch.DefaultConfig(), topo)
	require.NoError(t, err)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	defer db.Close()
	var positions []store.CameraPosition
	for _, c := range cams {
		positions = append(positions, store.CameraPosition{ID: c.ID, Position: c.Position})
	}
	require.NoError(t, db.SetCameras(ctx, positions))

	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	type pass struct {
		who   string
		cam   string
		start time.Duration
		face  bool
	}
	passes := []pass{
		{"ann", "A", 0, true}, {"bob", "A", 4 * time.Second, true},
		{"ann", "B", 50 * time.Second, true}, {"bob", "B", 56 * time.Second, false},
		{"ann", "C", 110 * time.Second, false}, {"bob", "C", 115 * time.Second, true},
	}
	const fps = 5
	var sightings []tracks.Sighting
	for _, cam := range []string{"A", "B", "C"} {
		cfg := tracks.DefaultConfig()
		cfg.Camera = cam
		tr, err := tracks.NewTracker(cfg)
		require.NoError(t, err)
		// Each pass crosses the view from left to right in 6 s.
		for f := 0; f <= 150*fps; f++ {
			now := time.Duration(f) * time.Second / fps
			var dets []tracks.Detection
			for _, p := range passes {
				if p.cam != cam || now < p.start || now > p.start+6*time.Second {
					continue
				}
				x := 100 + 200*(now-p.start).Seconds()
				d := tracks.Detection{Box: tracks.Box{X: x, Y: 200, W: 60, H: 160}, Score: 0.9, Appearance: appearance(p.who)}
				if p.face {
					fc := &tracks.Face{Box: tracks.Box{X: x + 20, Y: 205, W: 20, H: 20}, Score: 0.9, Embedding: face(p.who)}
					if p.who == "ann" && cam == "B" {
						fc.Matches = []tracks.FaceMatch{{PersonID: "ann", Similarity: 0.7, Threshold: 0.5}}
					}
					d.Face = fc
				}
				dets = append(dets, d)
			}
			tr.Update(t0.Add(now), dets)
		}
		sightings = append(sightings, tr.Finish()...)
	}
	require.Len(t, sightings, 6)
	// The edge reports sightings as they end; the center saves each, then stitches it.
	sort.Slice(sightings, func(i, j int) bool { return sightings[i].Exit.Before(sightings[j].Exit) })
	for _, s := range sightings {
		require.NoError(t, db.SaveSighting(ctx, s))
		ds, err := st.Add(s)
		require.NoError(t, err)
		require.NoError(t, db.ApplyDecisions(ctx, ds))
	}

	trajs, err := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, trajs, 1, "ann's trajectories")
	var camsSeen []string
	for _, s := range trajs[0].Steps {
		camsSeen = append(camsSeen, s.Camera)
		assert.LessOrEqual(t, s.Enter.Sub(t0), 6*time.Minute, "step at %v", s.Enter)
	}
	assert.Equal(t, []string{"A", "B", "C"}, camsSeen, "where ann went")
	for i, s := range trajs[0].Steps[1:] {
		if assert.NotNil(t, s.Link, "step %d", i+1) {
			assert.GreaterOrEqual(t, s.Link.Confidence, 0.6, "step %d link %+v", i+1, s.Link)
		}
	}
	// Bob was never identified: start from his sighting at B.
	var bobAtB string
	for _, s := range sightings {
		if s.Camera == "B" && s.Enter.Sub(t0) > 53*time.Second {
			bobAtB = s.ID
		}
	}
	bob, err := db.Follow(ctx, bobAtB, time.Time{}, time.Time{})
	require.NoError(t, err)
	var bobCams []string
	for _, s := range bob.Steps {
		bobCams = append(bobCams, fmt.Sprintf("%s@%.0fs", s.Camera, s.Enter.Sub(t0).Seconds()))
	}
	assert.Len(t, bob.Steps, 3, "bob: %v", bobCams)
	assert.Empty(t, bob.PersonID, "bob was never identified")
	assert.NotEqual(t, trajs[0].ID, bob.ID, "bob's trajectory is ann's")
}
