package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"snowlight/testvideos"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, os.WriteFile(spec, []byte(text), 0o644))
	out := filepath.Join(dir, "out")
	stdout, stderr, code := runCLI(t, "scenario", "render", "--spec", spec, "--out", out)
	require.Equal(t, 0, code, "exit code: %s", stderr)
	assert.Contains(t, stdout, filepath.Join(out, "cam.mp4"), "the output lists the video")
	assert.Contains(t, stdout, "10 frames", "the output lists the video")
	truth, err := testvideos.ReadTruth(out)
	require.NoError(t, err)
	if assert.Len(t, truth.Cameras, 1, "the truth's cameras") {
		assert.Len(t, truth.Cameras[0].Frames, 10, "the truth's frames")
	}
	assert.Len(t, truth.Passes, 1, "the truth's passes")
	for _, f := range []string{"cam.mp4", "cam.gt.txt"} {
		if st, err := os.Stat(filepath.Join(out, f)); assert.NoError(t, err, f) {
			assert.NotZero(t, st.Size(), "%s is empty", f)
		}
	}

	// cache renders into $SNOWLIGHT_TESTVIDEOS/scenarios once and prints where.
	t.Setenv("SNOWLIGHT_TESTVIDEOS", filepath.Join(dir, "cache"))
	first, stderr, code := runCLI(t, "scenario", "cache", spec)
	require.Equal(t, 0, code, "cache: exit code: %s", stderr)
	name, cached, ok := strings.Cut(strings.TrimSpace(first), "\t")
	require.True(t, ok, "cache printed %q", first)
	require.Equal(t, "one", name, "cache printed %q", first)
	require.True(t, strings.HasPrefix(cached, filepath.Join(dir, "cache", "scenarios", "one-")), "cache printed %q", first)
	_, err = testvideos.ReadTruth(cached)
	assert.NoError(t, err)
	again, _, _ := runCLI(t, "scenario", "cache", spec)
	assert.Equal(t, first, again, "what the second cache run printed")
}

func TestScenarioCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: bad\ncameras: [{id: a, fps: 200, background: {image: nowhere.jpg}}]\n"), 0o644))
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
		assert.Equal(t, c.code, code, "%v: exit code", c.args)
		assert.Contains(t, stderr, c.want, "%v: stderr", c.args)
	}
	_, stderr, code := runCLI(t, "scenario", "cache", "atlantis")
	assert.Equal(t, 1, code, "cache of an unknown scenario: exit code")
	assert.Contains(t, stderr, `scenario "atlantis"`, "cache of an unknown scenario")
	stdout, _, code := runCLI(t, "scenario", "list")
	assert.Equal(t, 0, code, "list: exit code")
	assert.Equal(t, strings.Join(testvideos.BuiltinScenarios(), "\n")+"\n", stdout, "list")
	assert.Contains(t, stdout, "demo\n", "list")
}
