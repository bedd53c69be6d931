package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/tracks/facescore"
)

// The floors of TestAnalyzeTBBT (docs/ACCURACY.md, "Naming people in real video"): the share of each
// person's track frames in which they are named, and no wrong name ever.
const (
	tbbtSheldonFloor = 0.97
	tbbtLeonardFloor = 0.92
)

// TestAnalyzeTBBT runs `snowlight analyze` on real broadcast footage as shipped (shared/eval's tbbt.mp4,
// H.265 at 856x480) with Sheldon and Leonard enrolled from all five face-api crops each, and scores the
// names against the clip's labelled face tracks: each person's share of their track frames named must
// reach its floor, and no face may be named wrongly; the unknown woman (tracks 9, 11, 15) and the lamp
// (3, 6, 8, 14) are labelled tracks too, so a name on them counts as wrong. Person detection is off
// (--faces-only): only faces are scored.
func TestAnalyzeTBBT(t *testing.T) {
	models, eval := perceptionData(t)
	tbbt := filepath.Join(eval, "faces", "tbbt")
	gallery := t.TempDir()
	for _, who := range []string{"sheldon", "leonard"} {
		require.NoError(t, os.Symlink(filepath.Join(eval, "faces", "face-api", "examples", "images", who), filepath.Join(gallery, who)))
	}
	code, out, errOut := runCmd(t, "analyze", "--json", "--faces-only", "--models", models, "--gallery", gallery,
		"--video", filepath.Join(tbbt, "tbbt.mp4"), "--truth", filepath.Join(tbbt, "tbbt.mp4.track.txt"),
		"--truth-identities", filepath.Join(tbbt, "track_identities.csv"))
	require.Equal(t, 0, code, errOut)

	var score *facescore.Score
	frames, sources := 0, map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			frameRecord
			Score *facescore.Score `json:"score"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		if line.Score != nil {
			score = line.Score
			continue
		}
		frames++
		assert.Empty(t, line.Persons, "--faces-only runs no person detector")
		for _, f := range line.Faces {
			if f.Identity != "" {
				sources[f.Source]++
			}
		}
	}
	require.NotNil(t, score, "no score line")
	assert.Equal(t, 493, frames)
	for _, tr := range score.Tracks {
		t.Logf("track %2d %-14s frames %3d found %3d named %3d wrong %v", tr.Track, tr.Identity, tr.Frames, tr.Found, tr.Named, tr.WrongNames)
	}
	sheldon, leonard := score.People["sheldon"], score.People["leonard"]
	t.Logf("sheldon named in %d of %d track frames (%.3f), leonard in %d of %d (%.3f); wrong names %d; named faces on no "+
		"labelled track %d; names by source %v", sheldon.Named, sheldon.Frames, sheldon.Share(), leonard.Named, leonard.Frames,
		leonard.Share(), score.Wrong, score.Unjudged, sources)
	assert.Zero(t, score.Wrong, "wrong names")
	assert.GreaterOrEqual(t, sheldon.Share(), tbbtSheldonFloor, "sheldon")
	assert.GreaterOrEqual(t, leonard.Share(), tbbtLeonardFloor, "leonard")
}
