package testvideos

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallSpec is a short two-camera scene at 640x360: a still street with two people crossing (one in front
// of the other) and a looped real video with one person walking away from the camera.
const smallSpec = `
name: small
duration: 3
cameras:
  - id: still
    width: 640
    height: 360
    background: {image: /usr/share/doc/opencv-doc/examples/data/leuvenA.jpg}
  - id: video
    width: 640
    height: 360
    background: {video: /usr/share/doc/opencv-doc/examples/data/vtest.avi, from: 2, to: 3}
persons:
  - id: obama
    category: missing
    photos: ["${SNOWLIGHT_EVAL}/faces/face_recognition/examples/obama2.jpg"]
    enrol: ["${SNOWLIGHT_EVAL}/faces/face_recognition/examples/obama.jpg"]
  - id: lin
    photos: ["${SNOWLIGHT_EVAL}/faces/face_recognition/examples/lin-manuel-miranda.png"]
    clothes: {top: "#336699", pattern: stripes}
walks:
  - {person: obama, camera: still, start: 0, end: 3, height: 270, path: [[60, 330], [580, 330]]}
  - {person: lin, camera: still, start: 0.5, end: 2.5, height: 280, path: [[600, 350], [40, 350]]}
  - {person: obama, camera: video, start: 0.2, end: 2.8, path: [[300, 350, 300], [360, 250, 160]]}
`

func loadSmallSpec(t testing.TB) *Spec {
	t.Helper()
	if _, ok := scenarioEvalDir(); !ok {
		t.Skip("evaluation data not available (set SNOWLIGHT_EVAL or provide ../shared/eval)")
	}
	if _, err := os.Stat("/usr/share/doc/opencv-doc/examples/data/vtest.avi"); err != nil {
		t.Skip("opencv-doc's sample data not installed")
	}
	s, err := ParseSpec(strings.NewReader(smallSpec), t.TempDir(), nil)
	require.NoError(t, err)
	return s
}

func TestRenderIsDeterministic(t *testing.T) {
	spec := loadSmallSpec(t)
	a, b := t.TempDir(), t.TempDir()
	_, err := Render(t.Context(), spec, a, RenderOptions{})
	require.NoError(t, err)
	_, err = Render(t.Context(), spec, b, RenderOptions{})
	require.NoError(t, err)
	names := []string{"still.mp4", "video.mp4", "still.gt.txt", "video.gt.txt", TruthFile}
	for _, n := range names {
		x, err := os.ReadFile(filepath.Join(a, n))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, n))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(x, y), "%s differs between two renders of the same spec (%d and %d bytes)", n, len(x), len(y))
	}
	entries, err := os.ReadDir(a)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	assert.ElementsMatch(t, names, got, "the output holds exactly these (no temporary files left)")
}

// TestRenderTruthMatchesPixels checks truth.json against the raw frames: every pixel the renderer changed
// lies in a truth box, and each box is tight around changed pixels.
func TestRenderTruthMatchesPixels(t *testing.T) {
	spec := loadSmallSpec(t)
	c := spec.Camera("still")
	bg, err := openBackground(t.Context(), c, spec.resolved.backgrounds[0])
	require.NoError(t, err)
	plate := bg.plate
	type frameDiff struct{ changed image.Rectangle }
	var mu sync.Mutex
	diffs := map[int]frameDiff{}
	opts := RenderOptions{onFrame: func(cam string, n int, bgr []byte) {
		if cam != "still" {
			return
		}
		var r image.Rectangle
		for y := 0; y < c.Height; y++ {
			for x := 0; x < c.Width; x++ {
				i := (y*c.Width + x) * 3
				d := absDiff(bgr[i], plate[i]) + absDiff(bgr[i+1], plate[i+1]) + absDiff(bgr[i+2], plate[i+2])
				// The figure's faint shadow darkens the ground by at most a third; count clear changes.
				if d > 60 {
					r = r.Union(image.Rect(x, y, x+1, y+1))
				}
			}
		}
		mu.Lock()
		diffs[n] = frameDiff{r}
		mu.Unlock()
	}}
	truth, err := Render(t.Context(), spec, t.TempDir(), opts)
	require.NoError(t, err)
	ct := truth.Camera("still")
	require.Len(t, ct.Frames, 30, "3 s at 10 fps")
	checked, crossed := 0, false
	for _, f := range ct.Frames {
		var union image.Rectangle
		for _, o := range f.Objects {
			union = union.Union(image.Rect(o.Box[0], o.Box[1], o.Box[0]+o.Box[2], o.Box[1]+o.Box[3]))
			if !assert.NotNil(t, o.Face, "frame %d: %s has no face box although the whole figure is in view", f.Frame, o.Person) {
				continue
			}
			face := image.Rect(o.Face[0], o.Face[1], o.Face[0]+o.Face[2], o.Face[1]+o.Face[3])
			box := image.Rect(o.Box[0], o.Box[1], o.Box[0]+o.Box[2], o.Box[1]+o.Box[3])
			assert.True(t, face.In(box), "frame %d: %s's face %v is not inside the person box %v", f.Frame, o.Person, face, box)
		}
		changed := diffs[f.Frame].changed
		if len(f.Objects) == 0 {
			assert.True(t, changed.Empty(), "frame %d: no one in the truth but pixels changed in %v", f.Frame, changed)
			continue
		}
		checked++
		// Feathered edges and the shadow change a few pixels that the figure covers less than half.
		assert.True(t, changed.In(union.Inset(-max(4, union.Dy()/50))), "frame %d: changed pixels %v reach outside the truth boxes %v", f.Frame, changed, union)
		assert.GreaterOrEqual(t, rectIoU(changed, union), 0.9, "frame %d: IoU of the changed pixels %v and the truth boxes %v", f.Frame, changed, union)
		if len(f.Objects) == 2 {
			// Both are in view from 0.5 s: lin walks lower in the image (nearer), so he is drawn last and
			// hides obama while they cross.
			byID := map[string]ObjectTruth{}
			for _, o := range f.Objects {
				byID[o.Person] = o
			}
			if lin := byID["lin"]; lin.Box[0] > 0 && lin.Box[0]+lin.Box[2] < c.Width {
				assert.Equal(t, 1.0, lin.Visible, "frame %d: lin is in front and inside the frame", f.Frame)
			}
			if byID["obama"].FaceVisible < 1 {
				crossed = true
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 25, "frames with people checked")
	assert.True(t, crossed, "obama's face is never hidden while lin crosses in front of him")
	want := []PassTruth{
		{Walk: 0, Person: "obama", Camera: "still", FirstFrame: 1, LastFrame: 30, Enter: 0, Exit: 2.9},
		{Walk: 1, Person: "lin", Camera: "still", FirstFrame: 6, LastFrame: 26, Enter: 0.5, Exit: 2.5},
		{Walk: 2, Person: "obama", Camera: "video", FirstFrame: 3, LastFrame: 29, Enter: 0.2, Exit: 2.8},
	}
	require.Len(t, truth.Passes, len(want), "passes %+v", truth.Passes)
	for i := range want {
		got := truth.Passes[i]
		assert.Equal(t, want[i].Walk, got.Walk, "pass %d", i)
		assert.Equal(t, want[i].FirstFrame, got.FirstFrame, "pass %d", i)
		assert.Equal(t, want[i].LastFrame, got.LastFrame, "pass %d", i)
		assert.InDelta(t, want[i].Enter, got.Enter, 1e-9, "pass %d", i)
		assert.InDelta(t, want[i].Exit, got.Exit, 1e-9, "pass %d", i)
	}
	// The person walking away from the camera shrinks.
	vt := truth.Camera("video")
	first, last := vt.Frames[2].Objects[0], vt.Frames[28].Objects[0]
	assert.Less(t, last.Box[3], first.Box[3]*6/10, "walking away: px high at the end, against %d at the start: want a clear shrink", first.Box[3])
	// background_people is set for the video background only.
	assert.True(t, vt.BackgroundPeople)
	assert.False(t, ct.BackgroundPeople)
}

func absDiff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func rectIoU(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	ia := float64(in.Dx() * in.Dy())
	return ia / (float64(a.Dx()*a.Dy()+b.Dx()*b.Dy()) - ia)
}

// TestRenderIsCameraLike reads the encoded stream back with ffprobe: H.264 Main, no B-frames, an IDR
// every second, the frame count and rate of the spec.
func TestRenderIsCameraLike(t *testing.T) {
	spec := loadSmallSpec(t)
	dir := t.TempDir()
	_, err := Render(t.Context(), spec, dir, RenderOptions{})
	require.NoError(t, err)
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,profile,width,height,has_b_frames,r_frame_rate,nb_frames:frame=key_frame,pict_type",
		"-of", "compact", filepath.Join(dir, "still.mp4")).Output()
	require.NoError(t, err, "ffprobe")
	text := string(out)
	for _, want := range []string{"codec_name=h264", "profile=Main", "width=640", "height=360", "has_b_frames=0", "r_frame_rate=10/1", "nb_frames=30"} {
		assert.Contains(t, text, want, "the stream")
	}
	var keys []int
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "frame|") {
			continue
		}
		assert.NotContains(t, line, "pict_type=B", "frame %d is a B-frame", n+1)
		if strings.Contains(line, "key_frame=1") {
			keys = append(keys, n)
		}
		n++
	}
	assert.Equal(t, []int{0, 10, 20}, keys, "keyframes: one per second")
}

func TestWalkerFollowsPathAndSchedule(t *testing.T) {
	spec, err := ParseSpec(strings.NewReader(`
name: w
duration: 20
cameras: [{id: c, background: {image: bg.jpg}}]
persons: [{id: p, photos: [person.jpg]}]
walks:
  - {person: p, camera: c, start: 2, end: 6, height: 300, path: [[0, 500], [300, 500], [300, 900]]}
  - {person: p, camera: c, start: 10, end: 20, path: [[0, 500, 200], [100, 500, 300], [100, 500, 300], [200, 500, 400]], times: [0, 2, 8, 10]}
`), fixtureDir(t), nil)
	require.NoError(t, err)
	c := &cast{portraits: map[[2]int]*portrait{{0, 0}: {}}}
	w0, err := newWalker(spec, 0, c)
	require.NoError(t, err)
	w1, err := newWalker(spec, 1, c)
	require.NoError(t, err)
	cases := []struct {
		w            *walker
		t            float64
		ok           bool
		x, y, h      float64
		moving       bool
		side, phaseT float64 // phaseT: seconds of walking so far
	}{
		{w0, 1.9, false, 0, 0, 0, false, 0, 0},
		{w0, 2, true, 0, 500, 300, true, 1, 0},
		// Constant speed over 300 + 400 px in 4 s: the corner is reached at 2 + 4*3/7 s.
		{w0, 2 + 12.0/7, true, 300, 500, 300, true, 1, 12.0 / 7},
		{w0, 5, true, 300, 500 + 400*(3-12.0/7)/(16.0/7), 300, true, 0, 3},
		{w0, 6, true, 300, 900, 300, true, 0, 4},
		{w0, 6.1, false, 0, 0, 0, false, 0, 0},
		// Scheduled: walking (height grows with the waypoints), standing from 12 s to 18 s, walking again.
		{w1, 11, true, 50, 500, 250, true, 1, 1},
		{w1, 15, true, 100, 500, 300, false, 0, 2},
		{w1, 19, true, 150, 500, 350, true, 1, 3},
	}
	for i, c := range cases {
		p, ok := c.w.poseAt(c.t)
		if !assert.Equal(t, c.ok, ok, "case %d (t=%v): in the walk", i, c.t) || !ok {
			continue
		}
		assert.InDelta(t, c.x, p.x, 1e-6, "case %d (t=%v): x", i, c.t)
		assert.InDelta(t, c.y, p.y, 1e-6, "case %d (t=%v): y", i, c.t)
		assert.InDelta(t, c.h, p.height, 1e-6, "case %d (t=%v): height", i, c.t)
		assert.Equal(t, c.moving, p.moving, "case %d (t=%v): moving", i, c.t)
		assert.InDelta(t, c.side, p.side, 1e-6, "case %d (t=%v): side", i, c.t)
		assert.InDelta(t, 2*math.Pi*gaitCadence*c.phaseT, p.phase, 1e-6, "case %d (t=%v): gait phase (the legs stop while standing)", i, c.t)
		// The face scales with the height; the default face height is rounded to a pixel.
		assert.InDelta(t, p.height/7.5, p.face, 1, "case %d: face", i)
	}
}

// fixtureDir holds placeholder files for specs that are only validated, not rendered.
func fixtureDir(t testing.TB) string {
	dir, _, _ := specFixture(t)
	return dir
}

func TestRenderRefusesBadInput(t *testing.T) {
	if _, ok := scenarioEvalDir(); !ok {
		t.Skip("evaluation data not available")
	}
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.jpg")
	require.NoError(t, os.WriteFile(garbage, []byte("\xff\xd8\xff\xe0 this is not a JPEG"), 0o644))
	bomb := filepath.Join(dir, "bomb.png")
	require.NoError(t, os.WriteFile(bomb, pngHeader(100000, 100000), 0o644))
	base := `
name: bad
duration: 1
cameras: [{id: c, width: 320, height: 180, background: BACKGROUND}]
persons: [{id: p, photos: [PHOTO]}]
walks: [{person: p, camera: c, start: 0, end: 1, height: 150, path: [[100, 170], [200, 170]]}]
`
	okPhoto := `"${SNOWLIGHT_EVAL}/faces/face_recognition/examples/obama2.jpg"`
	okBackground := `{image: /usr/share/doc/opencv-doc/examples/data/leuvenA.jpg}`
	cases := []struct {
		name, photo, background, want string
	}{
		{"no face in photo", `"${SNOWLIGHT_EVAL}/faces/dlib/examples/faces/dogs.jpg"`, okBackground, "persons[0].photos[0]: photo " + "${EVAL}/faces/dlib/examples/faces/dogs.jpg: no frontal face found"},
		{"corrupt photo", garbage, okBackground, "read image header"},
		{"decompression bomb", bomb, okBackground, "100000x100000 pixels: more than the"},
		{"face box outside photo", `{path: "${SNOWLIGHT_EVAL}/faces/face_recognition/examples/obama2.jpg", face: [600, 0, 100, 100]}`, okBackground, "face box [600 0 100 100] is outside the 626x1200 image"},
		{"video range past the end", okPhoto, `{video: /usr/share/doc/opencv-doc/examples/data/vtest.avi, from: 500, to: 501}`, "no frames in the range"},
		{"background not an image", okPhoto, "{image: " + garbage + "}", "camera c background"},
	}
	eval, _ := scenarioEvalDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.NewReplacer("PHOTO", c.photo, "BACKGROUND", c.background).Replace(base)
			spec, err := ParseSpec(strings.NewReader(text), dir, nil)
			require.NoError(t, err)
			out := t.TempDir()
			_, err = Render(t.Context(), spec, out, RenderOptions{})
			want := strings.ReplaceAll(c.want, "${EVAL}", eval)
			require.ErrorContains(t, err, want)
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			assert.Empty(t, entries, "a failed render left files behind")
		})
	}
}

// pngHeader is the start of a PNG that claims the given size: enough for a header check, and what a
// decompression bomb looks like before its pixels.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestRenderStopsWhenCancelled(t *testing.T) {
	spec := loadSmallSpec(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := t.TempDir()
	opts := RenderOptions{onFrame: func(cam string, n int, _ []byte) {
		if cam == "video" && n == 5 {
			cancel()
		}
	}}
	start := time.Now()
	_, err := Render(ctx, spec, out, opts)
	require.ErrorIs(t, err, context.Canceled)
	assert.LessOrEqual(t, time.Since(start), 30*time.Second, "a cancelled render returns")
	// The still camera finished before the cancel; the video camera's partial file must not remain.
	_, err = os.Stat(filepath.Join(out, "video.mp4"))
	assert.Error(t, err, "a cancelled camera left its video")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.LessOrEqual(t, len(entries), 2, "a cancelled render left %v", names)
	// Polled here: assert.Eventually runs its condition on a goroutine of its own, which would count.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines after a cancelled render")
}

func TestRenderCachedRendersOnce(t *testing.T) {
	spec := loadSmallSpec(t)
	cache := t.TempDir()
	var frames atomic.Int64
	opts := RenderOptions{onFrame: func(string, int, []byte) { frames.Add(1) }}
	var wg sync.WaitGroup
	results := make([]*Rendered, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = RenderCached(t.Context(), spec, cache, opts)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
	}
	assert.EqualValues(t, 60, frames.Load(), "frames rendered for three concurrent requests: one render of 60")
	for _, r := range results[1:] {
		assert.Equal(t, results[0].Dir, r.Dir, "concurrent requests")
		assert.Equal(t, results[0].Truth.SpecHash, r.Truth.SpecHash, "concurrent requests")
	}
	_, err := os.Stat(results[0].VideoPath("still"))
	assert.NoError(t, err)
	again, err := RenderCached(t.Context(), spec, cache, opts)
	if assert.NoError(t, err, "a later request") {
		assert.Equal(t, results[0].Dir, again.Dir, "a later request moved")
	}
	assert.EqualValues(t, 60, frames.Load(), "a later request rendered again")
	// Another spec (one walk longer) gets its own render.
	other := *spec
	other.Walks = append([]WalkSpec(nil), spec.Walks...)
	other.Walks[0].End = 2.5
	r, err := RenderCached(t.Context(), &other, cache, opts)
	require.NoError(t, err)
	assert.NotEqual(t, results[0].Dir, r.Dir, "a changed spec reused the cached render")
}
