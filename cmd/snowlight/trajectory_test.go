package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"snowlight/geo"
	"snowlight/store"
	"snowlight/tracks"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTrajectoryCommand stores a stitched trajectory and asks the three questions through the CLI.
func TestTrajectoryCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := store.Open(ctx, path)
	require.NoError(t, err)
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	require.NoError(t, db.SetCameras(ctx, []store.CameraPosition{{ID: "market", Position: geo.LatLon{Lat: 52.52, Lon: 13.40}}, {ID: "bridge", Position: geo.LatLon{Lat: 52.521, Lon: 13.402}}}))
	a := tracks.Sighting{ID: "s-market", Camera: "market", Enter: t0, Exit: t0.Add(10 * time.Second), Final: true,
		Body: &tracks.Snapshot{Ref: "body/s-market.jpg", Box: tracks.Box{W: 40, H: 100}}}
	b := tracks.Sighting{ID: "s-bridge", Camera: "bridge", Enter: t0.Add(70 * time.Second), Exit: t0.Add(80 * time.Second), Final: true}
	b.Evidence.PersonID = "thief-1"
	for _, s := range []tracks.Sighting{a, b} {
		require.NoError(t, db.SaveSighting(ctx, s))
	}
	require.NoError(t, db.ApplyDecisions(ctx, []tracks.Decision{{Sighting: "s-bridge", Trajectory: "s-market",
		Link: &tracks.Link{From: "s-market", To: "s-bridge", Score: 2.2, Confidence: 0.9, Evidence: tracks.LinkParts{TransitSeconds: 60}}}}))
	db.Close()

	out, errs, code := runCLI(t, "trajectory", "--db", path, "--sighting", "s-market")
	require.Equal(t, 0, code, "exit code: %s", errs)
	for _, want := range []string{"trajectory s-market (thief-1), 2 sightings", "market", "bridge", "0.90", "60s", "body/s-market.jpg", "52.52100,13.40200"} {
		assert.Contains(t, out, want, "the output")
	}
	out, errs, code = runCLI(t, "trajectory", "--db", path, "--person", "thief-1", "--from", "2024-05-01T08:00:30Z", "--json")
	require.Equal(t, 0, code, "exit code: %s", errs)
	var trajs []tracks.Trajectory
	require.NoError(t, json.Unmarshal([]byte(out), &trajs))
	if assert.Len(t, trajs, 1, "person query: %s", out) && assert.Len(t, trajs[0].Steps, 1, "person query: %s", out) {
		assert.Equal(t, "s-bridge", trajs[0].Steps[0].Sighting, "person query")
		if assert.NotNil(t, trajs[0].Steps[0].Link, "person query: %s", out) {
			assert.Equal(t, 0.9, trajs[0].Steps[0].Link.Confidence, "person query")
		}
	}
	out, _, code = runCLI(t, "trajectory", "--db", path, "--camera", "market", "--json")
	var steps []tracks.Step
	assert.Equal(t, 0, code, "camera query: exit code")
	assert.NoError(t, json.Unmarshal([]byte(out), &steps), "camera query: %s", out)
	assert.Len(t, steps, 1, "camera query: %s", out)
	for _, args := range [][]string{
		{"trajectory", "--db", path},
		{"trajectory", "--db", path, "--person", "x", "--sighting", "y"},
		{"trajectory", "--db", path, "--sighting", "missing"},
		{"trajectory", "--db", filepath.Join(t.TempDir(), "none.db"), "--person", "x"},
		{"trajectory", "--db", path, "--person", "x", "--from", "yesterday"},
		{"trajectory", "--db", path, "--person", "x", "--from", "2024-05-02T00:00:00Z", "--to", "2024-05-01T00:00:00Z"},
	} {
		_, _, code := runCLI(t, args...)
		assert.NotZero(t, code, "%v: exit code", args)
	}
}
