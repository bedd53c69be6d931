package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/testvideos"
)

// TestReplayCommand replays two cameras of the rendered city5 scenario with `snowlight replay` and a
// gallery of enrolment photos (not the rendered ones), then asks `snowlight trajectory` where Kit
// went: from c4 to c5.
func TestReplayCommand(t *testing.T) {
	models, _ := perceptionData(t)
	spec, err := testvideos.BuiltinScenario("city5")
	if err != nil {
		t.Skipf("city5 scenario unavailable: %v", err)
	}
	r, err := testvideos.RenderCached(t.Context(), spec, "", testvideos.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gallery := filepath.Join(dir, "gallery")
	for _, p := range r.Truth.Persons {
		if !p.Enrolled {
			continue
		}
		if err := os.MkdirAll(filepath.Join(gallery, p.ID), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, src := range p.Enrol {
			if err := os.Symlink(src, filepath.Join(gallery, p.ID, filepath.Base(src))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var cfg strings.Builder
	cfg.WriteString("cameras:\n")
	for _, id := range []string{"c4", "c5"} {
		c := r.Truth.Camera(id)
		fmt.Fprintf(&cfg, "  - id: %s\n    detect_fps: 2\n    position: {lat: %f, lon: %f}\n    recording: {file: %q, start: %s}\n",
			id, c.Position.Lat, c.Position.Lon, r.VideoPath(id), r.Truth.Start.Format(time.RFC3339))
		other := map[string]string{"c4": "c5", "c5": "c4"}[id]
		fmt.Fprintf(&cfg, "    neighbours: [{camera: %s, min: 3s, max: 30s}]\n", other)
	}
	cfgPath := filepath.Join(dir, "replay.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "replay.db")
	out, errs, code := runCLI(t, "replay", "--config", cfgPath, "--db", db, "--gallery", gallery, "--models", models, "--workers", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Log(out)
	for _, want := range []string{"replayed 2 cameras: 248 frames sampled", "sightings 8, trajectories 5 (3 of them joining several sightings by 3 links)",
		"identified: biden (g-biden), kit (g-kit), obama (g-obama), rose (g-rose)", "c4      124", "c5      124"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "face")); err != nil {
		t.Errorf("no face snapshots beside the database: %v", err)
	}

	out, errs, code = runCLI(t, "trajectory", "--db", db, "--person", "g-kit")
	if code != 0 {
		t.Fatalf("trajectory: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "(g-kit), 2 sightings") || !strings.Contains(lines[2], " c4 ") ||
		!strings.Contains(lines[3], " c5 ") || !strings.Contains(lines[3], "1.00") {
		t.Errorf("kit's trajectory:\n%s", out)
	}
}

func TestReplayCommandErrors(t *testing.T) {
	dir := t.TempDir()
	noRec := filepath.Join(dir, "live.yaml")
	if err := os.WriteFile(noRec, []byte("cameras:\n  - {id: a, url: rtsp://10.0.0.1/s, position: {lat: 1, lon: 2}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	if err := os.WriteFile(missing, []byte("cameras:\n  - {id: a, position: {lat: 1, lon: 2}, recording: {file: nope.mp4, start: 2024-05-01T08:00:00Z}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "--db", "x.db"}, 2, "usage: snowlight replay"},
		{[]string{"replay", "--config", noRec, "--db", filepath.Join(dir, "a.db"), "--gallery", "g", "--category", "vip"}, 1, "unknown watch-list category"},
		{[]string{"replay", "--config", noRec, "--db", filepath.Join(dir, "a.db")}, 1, "no camera in the configuration has a recording"},
		{[]string{"replay", "--config", missing, "--db", filepath.Join(dir, "b.db"), "--models", ""}, 1, "recording of camera a"},
		{[]string{"replay", "--config", filepath.Join(dir, "none.yaml"), "--db", filepath.Join(dir, "c.db")}, 1, "read config"},
	} {
		_, errs, code := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

// TestReplayScenario replays a rendered scenario directly (--scenario): its enrolled people, with their
// own categories, are the watch list; --cameras picks two of its six cameras.
func TestReplayScenario(t *testing.T) {
	models, _ := perceptionData(t)
	spec, err := testvideos.BuiltinScenario("city5")
	if err != nil {
		t.Skipf("city5 scenario unavailable: %v", err)
	}
	r, err := testvideos.RenderCached(t.Context(), spec, "", testvideos.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "city5.db")
	out, errs, code := runCLI(t, "replay", "--scenario", r.Dir, "--cameras", "c5,c4", "--fps", "1", "--db", db, "--models", models)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"replayed 2 cameras: 124 frames sampled", "3 links",
		"identified: Joe Biden (biden), Kit Harington (kit), Barack Obama (obama), Rose Leslie (rose)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, errs, code = runCLI(t, "trajectory", "--db", db, "--person", "biden")
	if code != 0 || !strings.Contains(out, "(biden), 2 sightings") {
		t.Errorf("biden's trajectory: exit %d %s\n%s", code, errs, out)
	}
	_, errs, code = runCLI(t, "replay", "--scenario", r.Dir, "--cameras", "c4,c9", "--db", db, "--models", models)
	if code != 1 || !strings.Contains(errs, `no recording of camera "c9"`) {
		t.Errorf("unknown camera: exit %d, %s", code, errs)
	}
	_, errs, code = runCLI(t, "replay", "--scenario", r.Dir, "--config", "x.yaml", "--db", db)
	if code != 2 {
		t.Errorf("--scenario with --config: exit %d, %s", code, errs)
	}
}
