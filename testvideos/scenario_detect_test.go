package testvideos

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect"
	"snowlight/detect/infer"
	"snowlight/ingest/av"
	"snowlight/watchlist"
)

// decodeVideo decodes an H.264 file with the project's decoder and calls fn with the frame number (from 1,
// decode order) for the frames want accepts.
func decodeVideo(t testing.TB, path string, want func(n int) bool, fn func(n int, img gocv.Mat)) int {
	t.Helper()
	dm, err := av.OpenFile(path)
	require.NoError(t, err)
	defer dm.Close()
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: dm.Info().Codec})
	require.NoError(t, err)
	defer dec.Close()
	n := 0
	receive := func() {
		for {
			_, err := dec.Receive()
			if errors.Is(err, av.ErrNeedInput) || errors.Is(err, io.EOF) {
				return
			}
			require.NoError(t, err)
			n++
			if want(n) {
				img, err := dec.BGR()
				require.NoError(t, err)
				fn(n, img)
				img.Close()
			}
		}
	}
	for {
		p, err := dm.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, dec.Send(p.AU, int64(p.PTS)))
		receive()
	}
	require.NoError(t, dec.Drain())
	receive()
	return n
}

func scenarioModelsDir(t testing.TB) string {
	dir := os.Getenv("SNOWLIGHT_MODELS")
	if dir == "" {
		dir, _ = scenarioDataFallback("SNOWLIGHT_MODELS")
	}
	if dir == "" {
		t.Skip("models not available (set SNOWLIGHT_MODELS or provide ../shared/models)")
	}
	return dir
}

// personStats counts, for one person, what the detectors found at the truth positions.
type personStats struct {
	persons, personHits, hog, hogHits int
	faces, faceHits, named            int
	sims                              []float32 // similarity of the nearest identity, when it is this person
}

// TestScenarioPeopleAreFoundAndRecognised runs the project's detectors (YOLOX-nano, YuNet, MobileFaceNet
// with the real watch-list policy; HOG for reference) on the decoded videos of the built-in scenarios and
// checks them against truth.json: rendered people and faces are found where the truth says, enrolled
// people are named from photos other than the rendered ones, and nobody is ever given a wrong name.
func TestScenarioPeopleAreFoundAndRecognised(t *testing.T) {
	models := scenarioModelsDir(t)
	for _, c := range []struct {
		name  string
		every int // detect on every n-th frame
	}{{"perception", 4}, {"city5", 25}, {"demo", 25}} {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "perception" && testing.Short() {
				t.Skip("-short: only the perception scenario")
			}
			checkScenarioDetections(t, c.name, models, c.every)
		})
	}
}

func checkScenarioDetections(t *testing.T, name, models string, every int) {
	if _, ok := scenarioEvalDir(); !ok {
		t.Skip("evaluation data not available (set SNOWLIGHT_EVAL or provide ../shared/eval)")
	}
	spec, err := BuiltinScenario(name)
	require.NoError(t, err)
	r, err := RenderCached(t.Context(), spec, "", RenderOptions{})
	require.NoError(t, err)
	cfg := detect.DefaultConfig(models)
	cfg.Appearance = false
	cfg.Engine, err = infer.OpenONNXRuntime("", 1) // the product's default engine
	require.NoError(t, err, "ONNX Runtime's library: run scripts/setup.sh or set %s", infer.LibraryEnv)
	p, err := detect.NewPipeline(cfg)
	require.NoError(t, err)
	defer p.Close()
	var ids []watchlist.Person
	for _, person := range spec.Persons {
		var photos []detect.PhotoInput
		for _, path := range spec.EnrolPhotos(person.ID) {
			ph, err := detect.ReadPhotoFile(path, detect.DefaultEnrolmentRules().Limits.MaxBytes)
			require.NoError(t, err)
			photos = append(photos, ph)
		}
		if len(photos) == 0 {
			continue
		}
		cat, err := watchlist.ParseCategory(person.Category)
		require.NoError(t, err)
		id, err := p.Enrol(t.Context(), person.ID, cat, photos, detect.DefaultEnrolmentRules())
		require.NoError(t, err)
		ids = append(ids, id)
	}
	m, err := watchlist.NewMatcher(ids, watchlist.DefaultPolicy(), p.EmbeddingModel(), time.Now())
	require.NoError(t, err)
	p.SetWatchList(m)
	hog := detect.NewHOG(detect.DefaultHOGConfig())
	defer hog.Close()

	stats := map[string]*personStats{}
	wrong := 0
	for _, cam := range r.Truth.Cameras {
		decodeVideo(t, filepath.Join(r.Dir, cam.File), func(n int) bool { return n%every == 0 }, func(n int, img gocv.Mat) {
			ft := cam.Frames[n-1]
			res, err := p.Detect(t.Context(), img, r.Truth.WallTime(ft))
			require.NoError(t, err)
			var hogs []detect.Person
			if n%(4*every) == 0 {
				hogs, err = hog.DetectPersons(img)
				require.NoError(t, err)
			}
			// Each detected face belongs to the truth face it overlaps most, weighted by how much of that
			// face is visible: where two people overlap, the face in front is the one seen.
			owner := make([]int, len(res.Faces))
			for i, f := range res.Faces {
				owner[i] = -1
				best := float32(0)
				for k, o := range ft.Objects {
					if o.Face == nil || o.FaceVisible < 0.5 {
						continue
					}
					fb := detect.Box{X: float32(o.Face[0]), Y: float32(o.Face[1]), W: float32(o.Face[2]), H: float32(o.Face[3])}
					if iou := f.Box.IoU(fb); iou >= 0.4 && iou*float32(o.FaceVisible) > best {
						owner[i], best = k, iou*float32(o.FaceVisible)
					}
				}
				switch {
				case f.Match == nil:
				case owner[i] < 0:
					// A named face where the truth has nobody (a passer-by of a background video).
					wrong++
					assert.Fail(t, "a face no rendered person owns was named", "camera %s frame %d: the face at %v was named %s",
						cam.ID, n, f.Box, f.Match.Name)
				case f.Match.Name != ft.Objects[owner[i]].Person:
					wrong++
					assert.Equal(t, ft.Objects[owner[i]].Person, f.Match.Name, "camera %s frame %d: the face's name (similarity %.3f)",
						cam.ID, n, f.Match.Similarity)
				}
			}
			for k, o := range ft.Objects {
				st := stats[o.Person]
				if st == nil {
					st = &personStats{}
					stats[o.Person] = st
				}
				box := detect.Box{X: float32(o.Box[0]), Y: float32(o.Box[1]), W: float32(o.Box[2]), H: float32(o.Box[3])}
				if o.Visible >= 0.9 {
					st.persons++
					for _, d := range res.Persons {
						if d.Box.IoU(box) >= 0.5 {
							st.personHits++
							break
						}
					}
					if n%(4*every) == 0 {
						st.hog++
						for _, d := range hogs {
							if d.Box.IoU(box) >= 0.5 {
								st.hogHits++
								break
							}
						}
					}
				}
				// Faces count when wholly in view (inside the frame, nobody in front).
				if o.Face == nil || o.FaceVisible < 0.95 || o.Face[3] < 40 {
					continue
				}
				st.faces++
				for i, f := range res.Faces {
					if owner[i] != k {
						continue
					}
					st.faceHits++
					if f.Match != nil && f.Match.Name == o.Person {
						st.named++
					}
					if f.Nearest != nil && f.Nearest.Name == o.Person {
						st.sims = append(st.sims, f.Nearest.Similarity)
					}
					break
				}
			}
		})
	}

	names := make([]string, 0, len(stats))
	for n := range stats {
		names = append(names, n)
	}
	sort.Strings(names)
	var report strings.Builder
	var faces, faceHits, persons, personHits, hogN, hogHits int
	for _, n := range names {
		st := stats[n]
		enrolled := len(spec.EnrolPhotos(n)) > 0
		fmt.Fprintf(&report, "\n  %-8s enrolled=%-5v faces %d/%d persons %d/%d hog %d/%d named %d/%d similarity %s",
			n, enrolled, st.faceHits, st.faces, st.personHits, st.persons, st.hogHits, st.hog, st.named, st.faceHits, simRange(st.sims))
		faces, faceHits = faces+st.faces, faceHits+st.faceHits
		persons, personHits = persons+st.persons, personHits+st.personHits
		hogN, hogHits = hogN+st.hog, hogHits+st.hogHits
		if enrolled {
			assert.GreaterOrEqual(t, float64(st.named), 0.6*float64(st.faceHits), "%s: frames named, of the %d where the face was found", n, st.faceHits)
		} else {
			assert.Zero(t, st.named, "%s is on no list but was named", n)
		}
	}
	t.Logf("%s (every %d. frame):%s\n  all: faces %d/%d persons %d/%d hog %d/%d wrong names %d", name, every, report.String(),
		faceHits, faces, personHits, persons, hogHits, hogN, wrong)
	assert.Positive(t, faces, "fully visible faces")
	assert.GreaterOrEqual(t, float64(faceHits), 0.95*float64(faces), "fully visible faces YuNet found at their truth position, of %d", faces)
	assert.Positive(t, persons, "visible people")
	assert.GreaterOrEqual(t, float64(personHits), 0.9*float64(persons), "visible people YOLOX found at their truth box, of %d", persons)
}

func simRange(s []float32) string {
	if len(s) == 0 {
		return "-"
	}
	lo, hi := s[0], s[0]
	var sum float32
	for _, v := range s {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	return fmt.Sprintf("%.2f..%.2f (mean %.2f)", lo, hi, sum/float32(len(s)))
}
