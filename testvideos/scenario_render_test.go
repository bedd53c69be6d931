package testvideos

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
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
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRenderIsDeterministic(t *testing.T) {
	spec := loadSmallSpec(t)
	a, b := t.TempDir(), t.TempDir()
	if _, err := Render(t.Context(), spec, a, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(t.Context(), spec, b, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	names := []string{"still.mp4", "video.mp4", "still.gt.txt", "video.gt.txt", TruthFile}
	for _, n := range names {
		x, err := os.ReadFile(filepath.Join(a, n))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two renders of the same spec (%d and %d bytes)", n, len(x), len(y))
		}
	}
	entries, _ := os.ReadDir(a)
	if len(entries) != len(names) {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Errorf("output holds %v, want exactly %v (no temporary files left)", got, names)
	}
}

// TestRenderTruthMatchesPixels checks truth.json against the raw frames: every pixel the renderer changed
// lies in a truth box, and each box is tight around changed pixels.
func TestRenderTruthMatchesPixels(t *testing.T) {
	spec := loadSmallSpec(t)
	c := spec.Camera("still")
	bg, err := openBackground(t.Context(), c, spec.resolved.backgrounds[0])
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	ct := truth.Camera("still")
	if len(ct.Frames) != 30 {
		t.Fatalf("%d frames, want 3 s at 10 fps = 30", len(ct.Frames))
	}
	checked, crossed := 0, false
	for _, f := range ct.Frames {
		var union image.Rectangle
		for _, o := range f.Objects {
			union = union.Union(image.Rect(o.Box[0], o.Box[1], o.Box[0]+o.Box[2], o.Box[1]+o.Box[3]))
			if o.Face == nil {
				t.Errorf("frame %d: %s has no face box although the whole figure is in view", f.Frame, o.Person)
				continue
			}
			face := image.Rect(o.Face[0], o.Face[1], o.Face[0]+o.Face[2], o.Face[1]+o.Face[3])
			if box := image.Rect(o.Box[0], o.Box[1], o.Box[0]+o.Box[2], o.Box[1]+o.Box[3]); !face.In(box) {
				t.Errorf("frame %d: %s's face %v is not inside the person box %v", f.Frame, o.Person, face, box)
			}
		}
		changed := diffs[f.Frame].changed
		if len(f.Objects) == 0 {
			if !changed.Empty() {
				t.Errorf("frame %d: no one in the truth but pixels changed in %v", f.Frame, changed)
			}
			continue
		}
		checked++
		// Feathered edges and the shadow change a few pixels that the figure covers less than half.
		if !changed.In(union.Inset(-max(4, union.Dy()/50))) {
			t.Errorf("frame %d: changed pixels %v reach outside the truth boxes %v", f.Frame, changed, union)
		}
		if iou := rectIoU(changed, union); iou < 0.9 {
			t.Errorf("frame %d: changed pixels %v and truth boxes %v overlap with IoU %.2f, want >= 0.9", f.Frame, changed, union, iou)
		}
		if len(f.Objects) == 2 {
			// Both are in view from 0.5 s: lin walks lower in the image (nearer), so he is drawn last and
			// hides obama while they cross.
			byID := map[string]ObjectTruth{}
			for _, o := range f.Objects {
				byID[o.Person] = o
			}
			if lin := byID["lin"]; lin.Visible != 1 && lin.Box[0] > 0 && lin.Box[0]+lin.Box[2] < c.Width {
				t.Errorf("frame %d: lin is in front and inside the frame, visible %.3f, want 1", f.Frame, lin.Visible)
			}
			if byID["obama"].FaceVisible < 1 {
				crossed = true
			}
		}
	}
	if checked < 25 {
		t.Errorf("only %d frames with people checked", checked)
	}
	if !crossed {
		t.Error("obama's face is never hidden while lin crosses in front of him")
	}
	want := []PassTruth{
		{Walk: 0, Person: "obama", Camera: "still", FirstFrame: 1, LastFrame: 30, Enter: 0, Exit: 2.9},
		{Walk: 1, Person: "lin", Camera: "still", FirstFrame: 6, LastFrame: 26, Enter: 0.5, Exit: 2.5},
		{Walk: 2, Person: "obama", Camera: "video", FirstFrame: 3, LastFrame: 29, Enter: 0.2, Exit: 2.8},
	}
	if len(truth.Passes) != len(want) {
		t.Fatalf("passes %+v, want %+v", truth.Passes, want)
	}
	for i := range want {
		got := truth.Passes[i]
		if got.Walk != want[i].Walk || got.FirstFrame != want[i].FirstFrame || got.LastFrame != want[i].LastFrame ||
			math.Abs(got.Enter-want[i].Enter) > 1e-9 || math.Abs(got.Exit-want[i].Exit) > 1e-9 {
			t.Errorf("pass %d: %+v, want %+v", i, got, want[i])
		}
	}
	// The person walking away from the camera shrinks.
	vt := truth.Camera("video")
	first, last := vt.Frames[2].Objects[0], vt.Frames[28].Objects[0]
	if !(last.Box[3] < first.Box[3]*6/10) {
		t.Errorf("walking away: height %d px at the start and %d at the end, want a clear shrink", first.Box[3], last.Box[3])
	}
	if !vt.BackgroundPeople || ct.BackgroundPeople {
		t.Error("background_people must be set for the video background only")
	}
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
	if _, err := Render(t.Context(), spec, dir, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,profile,width,height,has_b_frames,r_frame_rate,nb_frames:frame=key_frame,pict_type",
		"-of", "compact", filepath.Join(dir, "still.mp4")).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	text := string(out)
	for _, want := range []string{"codec_name=h264", "profile=Main", "width=640", "height=360", "has_b_frames=0", "r_frame_rate=10/1", "nb_frames=30"} {
		if !strings.Contains(text, want) {
			t.Errorf("stream lacks %s:\n%s", want, text)
		}
	}
	var keys []int
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "frame|") {
			continue
		}
		if strings.Contains(line, "pict_type=B") {
			t.Errorf("frame %d is a B-frame", n+1)
		}
		if strings.Contains(line, "key_frame=1") {
			keys = append(keys, n)
		}
		n++
	}
	if want := []int{0, 10, 20}; !equalInts(keys, want) {
		t.Errorf("keyframes at %v, want %v (one per second)", keys, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
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
	if err != nil {
		t.Fatal(err)
	}
	c := &cast{portraits: map[[2]int]*portrait{{0, 0}: {}}}
	w0, err := newWalker(spec, 0, c)
	if err != nil {
		t.Fatal(err)
	}
	w1, err := newWalker(spec, 1, c)
	if err != nil {
		t.Fatal(err)
	}
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
		if ok != c.ok {
			t.Errorf("case %d (t=%v): in walk %v, want %v", i, c.t, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if math.Abs(p.x-c.x) > 1e-6 || math.Abs(p.y-c.y) > 1e-6 || math.Abs(p.height-c.h) > 1e-6 {
			t.Errorf("case %d (t=%v): at (%v, %v) height %v, want (%v, %v) height %v", i, c.t, p.x, p.y, p.height, c.x, c.y, c.h)
		}
		if p.moving != c.moving || math.Abs(p.side-c.side) > 1e-6 {
			t.Errorf("case %d (t=%v): moving %v side %v, want %v %v", i, c.t, p.moving, p.side, c.moving, c.side)
		}
		if want := 2 * math.Pi * gaitCadence * c.phaseT; math.Abs(p.phase-want) > 1e-6 {
			t.Errorf("case %d (t=%v): gait phase %v, want %v (the legs stop while standing)", i, c.t, p.phase, want)
		}
		if want := p.height / 7.5; math.Abs(p.face-want) > 1 { // the default face height is rounded to a pixel
			t.Errorf("case %d: face %v, want %v (face scales with height)", i, p.face, want)
		}
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
	if err := os.WriteFile(garbage, []byte("\xff\xd8\xff\xe0 this is not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	bomb := filepath.Join(dir, "bomb.png")
	if err := os.WriteFile(bomb, pngHeader(100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			_, err = Render(t.Context(), spec, out, RenderOptions{})
			want := strings.ReplaceAll(c.want, "${EVAL}", eval)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("a failed render left %d files behind", len(entries))
			}
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
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("cancelled render took %v to return", el)
	}
	// The still camera finished before the cancel; the video camera's partial file must not remain.
	if _, err := os.Stat(filepath.Join(out, "video.mp4")); err == nil {
		t.Error("a cancelled camera left its video")
	}
	if entries, _ := os.ReadDir(out); len(entries) > 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("cancelled render left %v", names)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after a cancelled render, %d before", n, before)
	}
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
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := frames.Load(); n != 60 {
		t.Errorf("%d frames rendered for three concurrent requests, want one render of 60", n)
	}
	for _, r := range results[1:] {
		if r.Dir != results[0].Dir || r.Truth.SpecHash != results[0].Truth.SpecHash {
			t.Errorf("concurrent requests got %s and %s", r.Dir, results[0].Dir)
		}
	}
	if _, err := os.Stat(results[0].VideoPath("still")); err != nil {
		t.Error(err)
	}
	again, err := RenderCached(t.Context(), spec, cache, opts)
	if err != nil || again.Dir != results[0].Dir || frames.Load() != 60 {
		t.Errorf("a later request rendered again (%d frames) or moved (%v)", frames.Load(), err)
	}
	// Another spec (one walk longer) gets its own render.
	other := *spec
	other.Walks = append([]WalkSpec(nil), spec.Walks...)
	other.Walks[0].End = 2.5
	r, err := RenderCached(t.Context(), &other, cache, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dir == results[0].Dir {
		t.Error("a changed spec reused the cached render")
	}
}
