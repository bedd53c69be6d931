package testvideos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/watchlist"
)

// specFixture writes a valid two-camera spec into a temp dir, with a photo and a background image of its
// own (copies are not needed: the spec points at files that exist), and returns the YAML text and dir.
func specFixture(t testing.TB) (dir string, photo, bg string) {
	t.Helper()
	dir = t.TempDir()
	photo = filepath.Join(dir, "person.jpg")
	bg = filepath.Join(dir, "bg.jpg")
	for _, f := range []string{photo, bg} {
		require.NoError(t, os.WriteFile(f, []byte("not decoded by validation"), 0o644))
	}
	return dir, photo, bg
}

const validSpec = `
name: fixture
duration: 10
cameras:
  - id: a
    background: {image: bg.jpg}
    position: {lat: 50.1, lon: 4.2}
    neighbours: [{camera: b, transit: [2, 20]}]
  - id: b
    width: 640
    height: 360
    fps: 15
    background: {image: bg.jpg}
zones:
  - {id: home, polygon: [[50, 4], [50.2, 4], [50.2, 4.4]]}
persons:
  - id: p1
    category: at-risk
    safe_zone: home
    photos: [person.jpg]
    enrol: ["${FIXTURE_DIR}/enrol.jpg"]
  - id: p2
    photos: [{path: person.jpg, face: [10, 10, 40, 40]}]
walks:
  - {person: p1, camera: a, start: 1, end: 5, height: 400, path: [[0, 700], [1280, 700]]}
  - {person: p2, camera: b, start: 0, end: 10, path: [[100, 300, 200], [100, 300, 200], [500, 340, 260]], times: [0, 4, 10]}
`

func parseFixture(t *testing.T, text string) (*Spec, error) {
	t.Helper()
	dir, _, _ := specFixture(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "enrol.jpg"), []byte("x"), 0o644))
	lookup := func(name string) (string, bool) {
		if name == "FIXTURE_DIR" {
			return dir, true
		}
		return "", false
	}
	return ParseSpec(strings.NewReader(text), dir, lookup)
}

func TestParseSpecFillsDefaultsAndResolvesPaths(t *testing.T) {
	s, err := parseFixture(t, validSpec)
	require.NoError(t, err)
	a, b := s.Camera("a"), s.Camera("b")
	require.NotNil(t, a)
	require.NotNil(t, b)
	// Camera a's defaults.
	assert.Equal(t, 1280, a.Width)
	assert.Equal(t, 720, a.Height)
	assert.Equal(t, 10, a.FPS)
	assert.Equal(t, 10.0, a.Duration)
	assert.Equal(t, 640, b.Width)
	assert.Equal(t, 15, b.FPS)
	require.Len(t, s.Walks, 2)
	assert.Equal(t, 53.0, s.Walks[0].Face, "default face: height 400 / 7.5, rounded")
	assert.Equal(t, 27.0, s.Walks[1].Face, "face from the first waypoint's height, 200 / 7.5")
	if got := s.EnrolPhotos("p1"); assert.Len(t, got, 1, "enrol photos") {
		assert.True(t, filepath.IsAbs(got[0]), "enrol photo %s is absolute", got[0])
		assert.Equal(t, "enrol.jpg", filepath.Base(got[0]))
	}
	if got := s.PhotoPaths("p2"); assert.Len(t, got, 1, "photos") {
		assert.True(t, filepath.IsAbs(got[0]), "photo %s resolves against the spec's directory", got[0])
	}
	assert.Nil(t, s.EnrolPhotos("p2"), "p2 has no enrolment photos")
	assert.Equal(t, defaultStart, s.StartTime().Format("2006-01-02T15:04:05Z07:00"), "start")
}

func TestParseSpecRejectsBadFieldsNamingThem(t *testing.T) {
	cases := []struct {
		name      string
		old, new  string // a replacement in validSpec
		wantField string
	}{
		{"unknown key", "duration: 10", "duration: 10\ndurration: 3", "durration"},
		{"no name", "name: fixture", "name: ''", "name: required"},
		{"bad name", "name: fixture", "name: 'a b'", "name: \"a b\""},
		{"bad start", "duration: 10", "duration: 10\nstart: yesterday", "start:"},
		{"odd width", "width: 640", "width: 641", "cameras[1].width"},
		{"fps", "fps: 15", "fps: 0.5", "fps: want a whole number, got \"0.5\""},
		{"fps range", "fps: 15", "fps: 120", "cameras[1].fps"},
		{"duplicate camera", "  - id: b\n", "  - id: a\n", "cameras[1].id: duplicate camera \"a\""},
		{"no background", "    background: {image: bg.jpg}\n    position", "    background: {}\n    position", "cameras[0].background: an image or a video is required"},
		{"missing background", "background: {image: bg.jpg}\n    position", "background: {image: nope.jpg}\n    position", "cameras[0].background.image"},
		{"image with range", "background: {image: bg.jpg}\n    position", "background: {image: bg.jpg, from: 3}\n    position", "cameras[0].background: mode, from and to apply to a video only"},
		{"video range", "background: {image: bg.jpg}\n    position", "background: {video: bg.jpg, from: 5, to: 2}\n    position", "cameras[0].background.to"},
		{"video mode", "background: {image: bg.jpg}\n    position", "background: {video: bg.jpg, mode: rewind, to: 2}\n    position", "cameras[0].background.mode"},
		{"crop", "background: {image: bg.jpg}\n    position", "background: {image: bg.jpg, crop: [0, 0, 10]}\n    position", "cameras[0].background.crop"},
		{"latitude", "lat: 50.1", "lat: 95", "cameras[0].position.lat"},
		{"neighbour", "camera: b, transit", "camera: z, transit", "cameras[0].neighbours[0].camera: unknown camera \"z\""},
		{"transit", "transit: [2, 20]", "transit: [20, 2]", "cameras[0].neighbours[0].transit"},
		{"zone polygon", "polygon: [[50, 4], [50.2, 4], [50.2, 4.4]]", "polygon: [[50, 4], [50.2, 4]]", "zones[0].polygon"},
		{"no photos", "    photos: [person.jpg]\n", "    photos: []\n", "persons[0].photos: at least one photo"},
		{"missing photo", "    photos: [person.jpg]\n", "    photos: [nobody.jpg]\n", "persons[0].photos[0]"},
		{"unset variable", "${FIXTURE_DIR}/enrol.jpg", "${NOT_SET_ANYWHERE}/enrol.jpg", "persons[0].enrol[0]: ${NOT_SET_ANYWHERE}/enrol.jpg: ${NOT_SET_ANYWHERE} is not set"},
		{"enrol equals render", "${FIXTURE_DIR}/enrol.jpg", "person.jpg", "persons[0].enrol[0]: person.jpg is also rendered"},
		{"category", "category: at-risk", "category: vip", "persons[0].category"},
		{"category without enrol", "    photos: [{path: person.jpg,", "    category: suspect\n    photos: [{path: person.jpg,", "persons[1].enrol: a person in category \"suspect\""},
		{"safe zone", "safe_zone: home", "safe_zone: mars", "persons[0].safe_zone: unknown zone \"mars\""},
		{"face box", "face: [10, 10, 40, 40]", "face: [10, 10]", "persons[1].photos[0].face"},
		{"clothes colour", "    photos: [person.jpg]\n", "    photos: [person.jpg]\n    clothes: {top: red}\n", "persons[0].clothes.top"},
		{"clothes pattern", "    photos: [person.jpg]\n", "    photos: [person.jpg]\n    clothes: {pattern: dots}\n", "persons[0].clothes.pattern"},
		{"walk person", "person: p1, camera: a", "person: px, camera: a", "walks[0].person: unknown person \"px\""},
		{"walk camera", "person: p1, camera: a", "person: p1, camera: q", "walks[0].camera: unknown camera \"q\""},
		{"walk photo", "person: p1, camera: a", "person: p1, photo: 3, camera: a", "walks[0].photo"},
		{"walk end", "start: 1, end: 5", "start: 5, end: 1", "walks[0].end: must be after start"},
		{"walk past video", "start: 1, end: 5", "start: 1, end: 11", "walks[0].end: 11 is after the end of camera \"a\""},
		{"no path", "path: [[0, 700], [1280, 700]]", "path: []", "walks[0].path: at least one waypoint"},
		{"waypoint", "path: [[0, 700], [1280, 700]]", "path: [[0, 700, 1, 2]]", "walks[0].path[0]"},
		{"waypoint far away", "path: [[0, 700], [1280, 700]]", "path: [[0, 700], [9000, 700]]", "walks[0].path[1]: (9000, 700) is more than a frame away"},
		{"no height", "height: 400, path", "path", "walks[0].height: required"},
		{"face too big", "height: 400, path", "height: 400, face: 200, path", "walks[0].face"},
		{"times count", "times: [0, 4, 10]", "times: [0, 10]", "walks[1].times: has 2 entries for 3 waypoints"},
		{"times order", "times: [0, 4, 10]", "times: [0, 6, 5]", "walks[1].times[2]"},
		{"times end", "times: [0, 4, 10]", "times: [0, 4, 9]", "walks[1].times: the last waypoint's time"},
		{"times start", "times: [0, 4, 10]", "times: [1, 4, 10]", "walks[1].times[0]"},
		{"not yaml", "name: fixture", "name: [", "decode YAML"},
		{"empty", validSpec, "", "empty spec"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, validSpec, c.old, "the replacement is not in the fixture")
			_, err := parseFixture(t, strings.Replace(validSpec, c.old, c.new, 1))
			require.Error(t, err, "no error, want one naming %q", c.wantField)
			assert.ErrorContains(t, err, c.wantField)
		})
	}
}

func TestParseSpecReportsEveryProblem(t *testing.T) {
	text := strings.Replace(strings.Replace(validSpec, "fps: 15", "fps: 99", 1), "person: p1, camera: a", "person: px, camera: a", 1)
	_, err := parseFixture(t, text)
	require.ErrorContains(t, err, "cameras[1].fps", "both problems reported")
	require.ErrorContains(t, err, "walks[0].person", "both problems reported")
}

func TestBuiltinScenariosAreValid(t *testing.T) {
	names := BuiltinScenarios()
	for _, want := range []string{"city5", "demo", "perception"} {
		assert.Contains(t, names, want, "built-in scenarios")
	}
	if _, ok := scenarioEvalDir(); !ok {
		t.Skip("evaluation data not available (set SNOWLIGHT_EVAL or provide ../shared/eval): built-in scenarios use its photos")
	}
	for _, n := range names {
		s, err := BuiltinScenario(n)
		if !assert.NoError(t, err, n) {
			continue
		}
		enrolled, unknown := 0, 0
		for _, p := range s.Persons {
			if len(s.EnrolPhotos(p.ID)) > 0 {
				enrolled++
			} else {
				unknown++
			}
		}
		// Every scenario needs both.
		assert.GreaterOrEqual(t, enrolled, 2, "%s: enrolled people", n)
		assert.GreaterOrEqual(t, unknown, 1, "%s: unknown people", n)
	}
	// What the tracking and alert tests rely on.
	city, err := BuiltinScenario("city5")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(city.Cameras), 5, "city5's cameras")
	for _, c := range city.Cameras {
		assert.NotNil(t, c.Position, "city5 camera %s lacks a position", c.ID)
		assert.NotEmpty(t, c.Neighbours, "city5 camera %s lacks neighbours", c.ID)
	}
	demo, err := BuiltinScenario("demo")
	require.NoError(t, err)
	atRisk := 0
	for _, p := range demo.Persons {
		if c, _ := watchlist.ParseCategory(p.Category); c == watchlist.AtRisk && p.SafeZone != "" {
			atRisk++
		}
	}
	// The demo needs an at-risk person with a safe zone, and patrols.
	assert.NotZero(t, atRisk, "at-risk people with a safe zone")
	assert.NotEmpty(t, demo.Zones)
	assert.NotEmpty(t, demo.Patrols)
}

// scenarioEvalDir finds the evaluation data the built-in scenarios' photos come from.
func scenarioEvalDir() (string, bool) {
	if d := os.Getenv("SNOWLIGHT_EVAL"); d != "" {
		_, err := os.Stat(d)
		return d, err == nil
	}
	return scenarioDataFallback("SNOWLIGHT_EVAL")
}

func FuzzParseSpec(f *testing.F) {
	f.Add(validSpec)
	for _, n := range BuiltinScenarios() {
		data, err := builtinScenarios.ReadFile("scenarios/" + n + ".yaml")
		require.NoError(f, err)
		f.Add(string(data))
	}
	f.Add("name: x\ncameras: [{id: a, background: {video: v, from: -1, to: 1e309}}]\n")
	f.Add("walks: [{path: [[1e308, -1e308, 0]], times: [.nan]}]\n")
	f.Add("persons: [{id: p, photos: [{path: ''}], clothes: {top: '#zzzzzz'}}]\n")
	f.Add("{{{{")
	f.Add("cameras: [{id: a}]\nwalks: [{camera: a, times: []}]\n") // once indexed times[-1]
	dir := f.TempDir()
	lookup := func(string) (string, bool) { return dir, true }
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSpec(strings.NewReader(text), dir, lookup)
		if err != nil {
			require.Nil(t, s, "a spec returned with an error")
			return
		}
		// A spec that validated is internally consistent: every walk's person and camera exist.
		for i, w := range s.Walks {
			require.NotNil(t, s.Person(w.Person), "walk %d refers to an unknown person but validated", i)
			require.NotNil(t, s.Camera(w.Camera), "walk %d refers to an unknown camera but validated", i)
		}
	})
}
