package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"snowlight/testvideos"
)

// TestScenarioRenderCommand renders a one-second scene through the command line and reads back what it
// wrote.
func TestScenarioRenderCommand(t *testing.T) {
	_, eval := perceptionData(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "one.yaml")
	text := `
name: one
duration: 1
cameras:
  - {id: cam, width: 320, height: 180, background: {image: /usr/share/doc/opencv-doc/examples/data/leuvenB.jpg}}
persons:
  - {id: lin, photos: ["` + filepath.Join(eval, "faces/face_recognition/examples/lin-manuel-miranda.png") + `"]}
walks:
  - {person: lin, camera: cam, start: 0, end: 1, height: 140, path: [[60, 160], [260, 160]]}
`
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, code := runCLI(t, "scenario", "render", "--spec", spec, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, filepath.Join(out, "cam.mp4")) || !strings.Contains(stdout, "10 frames") {
		t.Errorf("output does not list the video: %q", stdout)
	}
	truth, err := testvideos.ReadTruth(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(truth.Cameras) != 1 || len(truth.Cameras[0].Frames) != 10 || len(truth.Passes) != 1 {
		t.Errorf("truth: %d cameras, %d frames, %d passes", len(truth.Cameras), len(truth.Cameras[0].Frames), len(truth.Passes))
	}
	for _, f := range []string{"cam.mp4", "cam.gt.txt"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// cache renders into $SNOWLIGHT_TESTVIDEOS/scenarios once and prints where.
	t.Setenv("SNOWLIGHT_TESTVIDEOS", filepath.Join(dir, "cache"))
	first, stderr, code := runCLI(t, "scenario", "cache", spec)
	if code != 0 {
		t.Fatalf("cache: exit %d: %s", code, stderr)
	}
	name, cached, ok := strings.Cut(strings.TrimSpace(first), "\t")
	if !ok || name != "one" || !strings.HasPrefix(cached, filepath.Join(dir, "cache", "scenarios", "one-")) {
		t.Fatalf("cache printed %q", first)
	}
	if _, err := testvideos.ReadTruth(cached); err != nil {
		t.Error(err)
	}
	if again, _, _ := runCLI(t, "scenario", "cache", spec); again != first {
		t.Errorf("second cache run printed %q, want %q", again, first)
	}
}

func TestScenarioCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ncameras: [{id: a, fps: 200, background: {image: nowhere.jpg}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"scenario"}, 2, "usage: snowlight scenario render"},
		{[]string{"scenario", "fly"}, 2, `unknown action "fly"`},
		{[]string{"scenario", "render", "--spec", bad}, 2, "usage: snowlight scenario render"},
		{[]string{"scenario", "check", "--spec", bad}, 1, "cameras[0].fps: must be between 1 and 60"},
		{[]string{"scenario", "check", "--spec", bad}, 1, "cameras[0].background.image"},
		{[]string{"scenario", "check", "--spec", "atlantis"}, 1, `scenario "atlantis": not one of [alerts city5 demo perception]`},
	}
	for _, c := range cases {
		_, stderr, code := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, stderr, code := runCLI(t, "scenario", "cache", "atlantis"); code != 1 || !strings.Contains(stderr, `scenario "atlantis"`) {
		t.Errorf("cache of an unknown scenario: exit %d, %q", code, stderr)
	}
	stdout, _, code := runCLI(t, "scenario", "list")
	if want := strings.Join(testvideos.BuiltinScenarios(), "\n") + "\n"; code != 0 || stdout != want || !strings.Contains(stdout, "demo\n") {
		t.Errorf("list: exit %d, %q", code, stdout)
	}
}
