package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/testvideos"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, err)
	dir := t.TempDir()
	gallery := filepath.Join(dir, "gallery")
	for _, p := range r.Truth.Persons {
		if !p.Enrolled {
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Join(gallery, p.ID), 0o755))
		for _, src := range p.Enrol {
			require.NoError(t, os.Symlink(src, filepath.Join(gallery, p.ID, filepath.Base(src))))
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
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o600))
	db := filepath.Join(dir, "replay.db")
	out, errs, code := runCLI(t, "replay", "--config", cfgPath, "--db", db, "--gallery", gallery, "--models", models, "--workers", "2")
	require.Equal(t, 0, code, "exit code: %s", errs)
	t.Log(out)
	for _, want := range []string{"replayed 2 cameras: 248 frames sampled", "sightings 8, trajectories 5 (3 of them joining several sightings by 3 links)",
		"identified: biden (g-biden), kit (g-kit), obama (g-obama), rose (g-rose)", "c4      124", "c5      124"} {
		assert.Contains(t, out, want, "the summary")
	}
	_, err = os.Stat(filepath.Join(dir, "objects", "face"))
	assert.NoError(t, err, "no face snapshots beside the database")

	out, errs, code = runCLI(t, "trajectory", "--db", db, "--person", "g-kit")
	require.Equal(t, 0, code, "trajectory: exit code: %s", errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, "kit's trajectory:\n%s", out)
	assert.Contains(t, lines[0], "(g-kit), 2 sightings", "kit's trajectory")
	assert.Contains(t, lines[2], " c4 ", "kit's trajectory")
	assert.Contains(t, lines[3], " c5 ", "kit's trajectory")
	assert.Contains(t, lines[3], "1.00", "kit's trajectory")
}

func TestReplayCommandErrors(t *testing.T) {
	dir := t.TempDir()
	noRec := filepath.Join(dir, "live.yaml")
	require.NoError(t, os.WriteFile(noRec, []byte("cameras:\n  - {id: a, url: rtsp://10.0.0.1/s, position: {lat: 1, lon: 2}}\n"), 0o600))
	missing := filepath.Join(dir, "missing.yaml")
	require.NoError(t, os.WriteFile(missing, []byte("cameras:\n  - {id: a, position: {lat: 1, lon: 2}, recording: {file: nope.mp4, start: 2024-05-01T08:00:00Z}}\n"), 0o600))
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
		assert.Equal(t, tc.code, code, "%v: exit code", tc.args)
		assert.Contains(t, errs, tc.want, "%v: stderr", tc.args)
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
	require.NoError(t, err)
	db := filepath.Join(t.TempDir(), "city5.db")
	out, errs, code := runCLI(t, "replay", "--scenario", r.Dir, "--cameras", "c5,c4", "--fps", "1", "--db", db, "--models", models)
	require.Equal(t, 0, code, "exit code: %s", errs)
	for _, want := range []string{"replayed 2 cameras: 124 frames sampled", "3 links",
		"identified: Joe Biden (biden), Kit Harington (kit), Barack Obama (obama), Rose Leslie (rose)"} {
		assert.Contains(t, out, want, "the summary")
	}
	out, errs, code = runCLI(t, "trajectory", "--db", db, "--person", "biden")
	assert.Equal(t, 0, code, "biden's trajectory: exit code: %s", errs)
	assert.Contains(t, out, "(biden), 2 sightings", "biden's trajectory")
	_, errs, code = runCLI(t, "replay", "--scenario", r.Dir, "--cameras", "c4,c9", "--db", db, "--models", models)
	assert.Equal(t, 1, code, "unknown camera: exit code")
	assert.Contains(t, errs, `no recording of camera "c9"`, "unknown camera")
	_, errs, code = runCLI(t, "replay", "--scenario", r.Dir, "--config", "x.yaml", "--db", db)
	assert.Equal(t, 2, code, "--scenario with --config: exit code: %s", errs)
}
