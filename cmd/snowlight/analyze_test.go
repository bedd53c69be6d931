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

	"snowlight/testvideos"
)

// perceptionData returns the models and evaluation directories, skipping when they are absent.
func perceptionData(t *testing.T) (modelsDir, evalDir string) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	find := func(env, name string) string {
		if d := os.Getenv(env); d != "" {
			return d
		}
		d := filepath.Join(root, "..", "shared", name)
		if _, err := os.Stat(d); err != nil {
			t.Skipf("%s not available (set %s or provide ../shared/%s)", name, env, name)
		}
		return d
	}
	return find("SNOWLIGHT_MODELS", "models"), find("SNOWLIGHT_EVAL", "eval")
}

// boxIoU is the intersection over union of two [x,y,w,h] boxes.
func boxIoU(a [4]float64, b [4]int) float64 {
	x0, y0 := max(a[0], float64(b[0])), max(a[1], float64(b[1]))
	x1, y1 := min(a[0]+a[2], float64(b[0]+b[2])), min(a[1]+a[3], float64(b[1]+b[3]))
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	inter := (x1 - x0) * (y1 - y0)
	return inter / (a[2]*a[3] + float64(b[2]*b[3]) - inter)
}

// TestAnalyzeScenarioVideo runs `snowlight analyze` on the rendered perception scenario (two enrolled
// people and a stranger walking through a real street) with a gallery folder of enrolment photos that
// differ from the rendered ones: every enrolled person must be named, at their own face, and nobody may
// ever get a wrong name; the stranger stays unknown.
func TestAnalyzeScenarioVideo(t *testing.T) {
	models, _ := perceptionData(t)
	spec, err := testvideos.BuiltinScenario("perception")
	if err != nil {
		t.Skipf("perception scenario unavailable: %v", err)
	}
	r, err := testvideos.RenderCached(t.Context(), spec, "", testvideos.RenderOptions{})
	require.NoError(t, err)
	gallery := t.TempDir()
	names := map[string]string{} // person id -> gallery name
	for _, p := range r.Truth.Persons {
		if !p.Enrolled {
			continue
		}
		dir := filepath.Join(gallery, p.Name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, src := range p.Enrol {
			require.NoError(t, os.Symlink(src, filepath.Join(dir, filepath.Base(src))))
		}
		names[p.ID] = p.Name
	}
	require.GreaterOrEqual(t, len(names), 2, "people enrolled in the scenario")
	cam := r.Truth.Cameras[0]
	truth := map[int][]testvideos.ObjectTruth{}
	for _, f := range cam.Frames {
		truth[f.Frame] = f.Objects
	}

	code, out, errOut := runCmd(t, "analyze", "--json", "--fps", "2", "--models", models, "--gallery", gallery,
		"--video", filepath.Join(r.Dir, cam.File))
	require.Equal(t, 0, code, "exit code: %s", errOut)
	named := map[string]int{}
	var frames, faces int
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec frameRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "line is not a frame record:\n%s", sc.Text())
		frames++
		require.GreaterOrEqual(t, rec.Frame, 1, "malformed record %s", sc.Text())
		require.NotNil(t, rec.Persons, "malformed record %s", sc.Text())
		require.NotNil(t, rec.Faces, "malformed record %s", sc.Text())
		for _, f := range rec.Faces {
			faces++
			// Whose face is it? The truth face box it overlaps most.
			who, best := "", 0.0
			for _, o := range truth[rec.Frame] {
				if o.Face != nil {
					if iou := boxIoU(f.Box, *o.Face); iou > best {
						who, best = o.Person, iou
					}
				}
			}
			assert.NotZero(t, f.Track, "frame %d: face at %v on no face track", rec.Frame, f.Box)
			if f.Identity == "" {
				continue
			}
			assert.Contains(t, []string{"face", "track"}, f.Source, "frame %d: where the name %q came from", rec.Frame, f.Identity)
			if !assert.GreaterOrEqual(t, best, 0.3, "frame %d t=%.1f: face at %v named %q overlaps no true face", rec.Frame, rec.T, f.Box, f.Identity) ||
				!assert.Equal(t, names[who], f.Identity, "frame %d t=%.1f: face at %v (%s, IoU %.2f)", rec.Frame, rec.T, f.Box, who, best) {
				continue
			}
			named[who]++
		}
	}
	t.Logf("analyze: %d frames, %d faces; named frames per person: %v", frames, faces, named)
	assert.GreaterOrEqual(t, frames, 45, "frames analysed for a 24 s video at 2 fps")
	for id, name := range names {
		assert.GreaterOrEqual(t, named[id], 3, "frames naming %s (%s)", name, id)
	}
}

func TestAnalyzeImagesAndUsage(t *testing.T) {
	models, eval := perceptionData(t)
	train := filepath.Join(eval, "faces", "face_recognition", "examples", "knn_examples", "train")
	ex := filepath.Join(eval, "faces", "face_recognition", "examples")
	code, out, errOut := runCmd(t, "analyze", "--json", "--models", models, "--gallery", train,
		"--image", filepath.Join(ex, "two_people.jpg"), filepath.Join(ex, "lin-manuel-miranda.png"))
	require.Equal(t, 0, code, "exit code: %s", errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, "want one line per image, got:\n%s", out)
	var two, lin imageRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &two))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &lin))
	got := map[string]bool{}
	for _, f := range two.Faces {
		got[f.Identity] = true
	}
	assert.Len(t, two.Faces, 2, "two_people.jpg: %+v", two)
	assert.Equal(t, map[string]bool{"obama": true, "biden": true}, got, "names in two_people.jpg")
	assert.True(t, strings.HasSuffix(two.Image, "two_people.jpg"), "image %q", two.Image)
	if assert.Len(t, lin.Faces, 1, "Lin-Manuel Miranda's faces") {
		assert.Empty(t, lin.Faces[0].Identity, "Lin-Manuel Miranda is not in the gallery")
	}

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"neither video nor image", []string{"analyze"}, 2, "usage"},
		{"both", []string{"analyze", "--video", "x.mp4", "--image", "y.jpg"}, 2, "usage"},
		{"missing video", []string{"analyze", "--models", models, "--video", "/nonexistent.mp4"}, 1, "nonexistent.mp4"},
		{"gallery without models", []string{"analyze", "--models", "", "--gallery", train, "--image", "y.jpg"}, 1, "needs the face models"},
		{"bad category", []string{"analyze", "--category", "vip", "--image", "y.jpg"}, 1, "unknown watch-list category"},
		{"bad gallery photo", []string{"analyze", "--models", models, "--gallery", filepath.Join(eval, "faces", "face-api", "examples"), "--image", "y.jpg"}, 1, "bbt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "gallery without models" {
				t.Setenv("SNOWLIGHT_MODELS", "")
			}
			code, _, errOut := runCmd(t, tc.args...)
			assert.Equal(t, tc.code, code, "exit code")
			assert.Contains(t, errOut, tc.want, "stderr")
		})
	}
}
