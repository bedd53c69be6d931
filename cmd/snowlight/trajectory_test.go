package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/geo"
	"snowlight/store"
	"snowlight/tracks"
)

// TestTrajectoryCommand stores a stitched trajectory and asks the three questions through the CLI.
func TestTrajectoryCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	if err := db.SetCameras(ctx, []store.CameraPosition{{ID: "market", Position: geo.LatLon{Lat: 52.52, Lon: 13.40}}, {ID: "bridge", Position: geo.LatLon{Lat: 52.521, Lon: 13.402}}}); err != nil {
		t.Fatal(err)
	}
	a := tracks.Sighting{ID: "s-market", Camera: "market", Enter: t0, Exit: t0.Add(10 * time.Second), Final: true,
		Body: &tracks.Snapshot{Ref: "body/s-market.jpg", Box: tracks.Box{W: 40, H: 100}}}
	b := tracks.Sighting{ID: "s-bridge", Camera: "bridge", Enter: t0.Add(70 * time.Second), Exit: t0.Add(80 * time.Second), Final: true}
	b.Evidence.PersonID = "thief-1"
	for _, s := range []tracks.Sighting{a, b} {
		if err := db.SaveSighting(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.ApplyDecisions(ctx, []tracks.Decision{{Sighting: "s-bridge", Trajectory: "s-market",
		Link: &tracks.Link{From: "s-market", To: "s-bridge", Score: 2.2, Confidence: 0.9, Evidence: tracks.LinkParts{TransitSeconds: 60}}}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out, errs, code := runCLI(t, "trajectory", "--db", path, "--sighting", "s-market")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"trajectory s-market (thief-1), 2 sightings", "market", "bridge", "0.90", "60s", "body/s-market.jpg", "52.52100,13.40200"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, errs, code = runCLI(t, "trajectory", "--db", path, "--person", "thief-1", "--from", "2024-05-01T08:00:30Z", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var trajs []tracks.Trajectory
	if err := json.Unmarshal([]byte(out), &trajs); err != nil {
		t.Fatal(err)
	}
	if len(trajs) != 1 || len(trajs[0].Steps) != 1 || trajs[0].Steps[0].Sighting != "s-bridge" || trajs[0].Steps[0].Link.Confidence != 0.9 {
		t.Errorf("person query: %s", out)
	}
	out, _, code = runCLI(t, "trajectory", "--db", path, "--camera", "market", "--json")
	var steps []tracks.Step
	if code != 0 || json.Unmarshal([]byte(out), &steps) != nil || len(steps) != 1 {
		t.Errorf("camera query: %s", out)
	}
	for _, args := range [][]string{
		{"trajectory", "--db", path},
		{"trajectory", "--db", path, "--person", "x", "--sighting", "y"},
		{"trajectory", "--db", path, "--sighting", "missing"},
		{"trajectory", "--db", filepath.Join(t.TempDir(), "none.db"), "--person", "x"},
		{"trajectory", "--db", path, "--person", "x", "--from", "yesterday"},
		{"trajectory", "--db", path, "--person", "x", "--from", "2024-05-02T00:00:00Z", "--to", "2024-05-01T00:00:00Z"},
	} {
		if _, _, code := runCLI(t, args...); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}
