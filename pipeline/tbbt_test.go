package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/detect"
	"snowlight/detect/infer"
	"snowlight/ingest"
	"snowlight/internal/shareddata"
	"snowlight/media"
	"snowlight/tracks"
	"snowlight/tracks/facescore"
	"snowlight/watchlist"
)

// The floors of TestEdgeTBBT (docs/ACCURACY.md, "Naming people in real video"): the share of each
// person's labelled face frames in which the live edge names them at that frame, and no wrong name.
const (
	edgeSheldonFloor = 0.68
	edgeLeonardFloor = 0.79
)

// TestEdgeTBBT runs shared/eval's tbbt.mp4 as shipped (H.265, 856x480) through a camera's edge, the
// live path (person detection, faces on person tracks, the tracker's identity rule and the camera's
// local templates), with Sheldon and Leonard enrolled from all five face-api crops each. The edge is
// online: a track's name at a frame is the one it reported at that frame, from what the edge had seen
// so far. A labelled face is held by the reported track whose box holds it as a detected face would
// be (pairFaces); each person's share of their labelled face frames named must reach its floor, and no
// labelled face (the unknown woman's and the lamp's included) may be held by a track with another name.
func TestEdgeTBBT(t *testing.T) {
	eval := shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval")
	dir := filepath.Join(eval, "faces", "tbbt")
	cfg := detect.DefaultConfig(shareddata.Dir(t, "SNOWLIGHT_MODELS", "models"))
	var err error
	cfg.Engine, err = infer.OpenONNXRuntime("", 1)
	require.NoError(t, err, "ONNX Runtime's library: run scripts/setup.sh or set %s", infer.LibraryEnv)
	p, err := detect.NewPipeline(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })

	ctx := context.Background()
	gallery := t.TempDir()
	for _, who := range []string{"sheldon", "leonard"} {
		require.NoError(t, os.Symlink(filepath.Join(eval, "faces", "face-api", "examples", "images", who), filepath.Join(gallery, who)))
	}
	ids, err := detect.LoadGalleryDir(ctx, p, gallery, watchlist.Missing, detect.DefaultEnrolmentRules(),
		func(photo string, err error) { t.Logf("gallery photo left out: %s: %v", photo, err) })
	require.NoError(t, err)
	names := map[string]string{}
	for _, id := range ids {
		names[id.ID] = id.Name
	}
	m, err := watchlist.NewMatcher(ids, watchlist.DefaultPolicy(), p.EmbeddingModel(), time.Now())
	require.NoError(t, err)
	p.SetWatchList(m)

	tc := TrackerConfig()
	tc.MaxBoxes = 1024 // every box of the clip, to score each frame
	edge, err := NewEdge("tbbt", p.NewCamera("tbbt", nil), EdgeConfig{Tracker: tc, WatchList: func() *watchlist.Matcher { return m },
		UpdateEvery: time.Nanosecond}) // every live track reported at every frame, with its name then
	require.NoError(t, err)
	start := time.Unix(1_000_000, 0)
	src, err := ingest.OpenRecording(media.Recording{Camera: "tbbt", File: filepath.Join(dir, "tbbt.mp4"), Start: start},
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer src.Close()

	// byFrame holds, per frame from 1, the tracks reported with a box in it and their names then.
	type held struct {
		box  tracks.Box
		name string
	}
	byFrame := map[int][]held{}
	frames, sources := 0, map[string]int{}
	for {
		f, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		frames++
		events, err := edge.Process(ctx, f)
		f.Close()
		require.NoError(t, err)
		n := int(f.Time.Sub(start).Round(40*time.Millisecond)/(40*time.Millisecond)) + 1
		for _, ev := range events {
			s := ev.Sighting
			last := s.Boxes[len(s.Boxes)-1]
			if ev.Kind == tracks.SightingEnded || !last.Time.Equal(f.Time) {
				continue // not seen in this frame
			}
			byFrame[n] = append(byFrame[n], held{last.Box, names[s.PersonID()]})
			switch {
			case s.Evidence.Local != nil:
				sources["local"]++
			case s.PersonID() != "":
				sources["photos"]++
			}
		}
	}
	edge.Finish()
	require.Equal(t, 493, frames)

	truth := readTBBTTruth(t, dir)
	score := facescore.Score{People: map[string]facescore.Person{"sheldon": {}, "leonard": {}}}
	truthByFrame := map[int][]facescore.TruthFace{}
	for _, f := range truth.Faces {
		truthByFrame[f.Frame] = append(truthByFrame[f.Frame], f)
	}
	// Per labelled track: the frames it is present, held by a reported track (Found), named right, and
	// the other names given to it.
	byTrack := map[int]*facescore.Track{}
	for _, f := range truth.Faces {
		if byTrack[f.Track] == nil {
			byTrack[f.Track] = &facescore.Track{Track: f.Track, Identity: truth.Identities[f.Track], WrongNames: map[string]int{}}
		}
	}
	for n := 1; n <= frames; n++ {
		hs := byFrame[n]
		persons := make([]detect.Person, len(hs))
		for i, h := range hs {
			persons[i] = detect.Person{Box: detect.Box{X: float32(h.box.X), Y: float32(h.box.Y), W: float32(h.box.W), H: float32(h.box.H)}}
		}
		faces := make([]detect.Face, len(truthByFrame[n]))
		for i, f := range truthByFrame[n] {
			faces[i] = detect.Face{Box: detect.Box{X: float32(f.X0 * 856), Y: float32(f.Y0 * 480), W: float32((f.X1 - f.X0) * 856), H: float32((f.Y1 - f.Y0) * 480)}}
		}
		seen := map[string]bool{}
		for fi, pi := range pairFaces(persons, faces) {
			tr := byTrack[truthByFrame[n][fi].Track]
			tr.Frames++
			name := ""
			if pi >= 0 {
				tr.Found++
				name = hs[pi].name
			}
			switch {
			case name == tr.Identity:
				tr.Named++
			case name != "":
				tr.WrongNames[name]++
				score.Wrong++
			}
			if p, ok := score.People[tr.Identity]; ok && !seen[tr.Identity] {
				seen[tr.Identity] = true
				p.Frames++
				if name == tr.Identity {
					p.Named++
				}
				score.People[tr.Identity] = p
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(byTrack)) {
		tr := byTrack[k]
		t.Logf("track %2d %-14s frames %3d held %3d named %3d wrong %v", tr.Track, tr.Identity, tr.Frames, tr.Found, tr.Named, tr.WrongNames)
	}
	sheldon, leonard := score.People["sheldon"], score.People["leonard"]
	t.Logf("edge: sheldon named in %d of %d labelled face frames (%.3f), leonard in %d of %d (%.3f); wrong names %d; "+
		"track reports named by source %v", sheldon.Named, sheldon.Frames, sheldon.Share(), leonard.Named, leonard.Frames,
		leonard.Share(), score.Wrong, sources)
	assert.Zero(t, score.Wrong, "wrong names")
	assert.GreaterOrEqual(t, sheldon.Share(), edgeSheldonFloor, "sheldon")
	assert.GreaterOrEqual(t, leonard.Share(), edgeLeonardFloor, "leonard")
}

// readTBBTTruth reads tbbt's labelled face tracks (25 fps) and their identities.
func readTBBTTruth(t *testing.T, dir string) facescore.Truth {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "tbbt.mp4.track.txt"))
	require.NoError(t, err)
	faces, err := facescore.ReadTracks(strings.NewReader(string(raw)), 25)
	require.NoError(t, err)
	raw, err = os.ReadFile(filepath.Join(dir, "track_identities.csv"))
	require.NoError(t, err)
	ids, err := facescore.ReadIdentities(strings.NewReader(string(raw)))
	require.NoError(t, err)
	return facescore.Truth{Faces: faces, Identities: ids, Width: 856, Height: 480}
}
