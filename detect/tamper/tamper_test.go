package tamper_test

import (
	"image"
	"image/color"
	"math"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect/tamper"
)

const dataDir = "/usr/share/doc/opencv-doc/examples/data/"

// video opens one of OpenCV's sample videos, skipping the test when opencv-doc is not installed.
func video(t testing.TB, name string) *gocv.VideoCapture {
	t.Helper()
	path := dataDir + name
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not available (install opencv-doc): %v", path, err)
	}
	vc, err := gocv.VideoCaptureFile(path)
	require.NoError(t, err, "open %s", path)
	t.Cleanup(func() { vc.Close() })
	return vc
}

// otherScene hands out the frames of a different real video (Megamind.avi), looping, resized to the
// size of the camera's frames.
type otherScene struct {
	t     testing.TB
	vc    *gocv.VideoCapture
	frame gocv.Mat
	out   gocv.Mat
}

func newOtherScene(t testing.TB) *otherScene {
	o := &otherScene{t: t, vc: video(t, "Megamind.avi"), frame: gocv.NewMat(), out: gocv.NewMat()}
	t.Cleanup(func() { o.frame.Close(); o.out.Close() })
	return o
}

func (o *otherScene) next(size image.Point) gocv.Mat {
	if !o.vc.Read(&o.frame) || o.frame.Empty() {
		o.vc.Set(gocv.VideoCapturePosFrames, 0)
		if !o.vc.Read(&o.frame) || o.frame.Empty() {
			require.FailNow(o.t, "Megamind.avi: no frames")
		}
	}
	gocv.Resize(o.frame, &o.out, size, 0, 0, gocv.InterpolationLinear)
	return o.out
}

// fps of vtest.avi: frame i is at i/10 s.
const fps = 10

// alter returns the picture the camera shows at time at (since the start of the video) instead of
// frame, or frame itself; work is scratch it may write into and return.
type alter func(at time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat

// play feeds vtest.avi (up to limit) through a detector, altered by fn, and returns every result.
func play(t *testing.T, cfg tamper.Config, limit time.Duration, fn alter) []tamper.Result {
	t.Helper()
	vc := video(t, "vtest.avi")
	d, err := tamper.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	frame, work := gocv.NewMat(), gocv.NewMat()
	defer frame.Close()
	defer work.Close()
	start := time.Date(2025, 6, 1, 21, 0, 0, 0, time.UTC)
	var out []tamper.Result
	for i := 0; vc.Read(&frame) && !frame.Empty(); i++ {
		at := time.Duration(i) * time.Second / fps
		if at > limit {
			break
		}
		img := frame
		if fn != nil {
			img = fn(at, frame, &work)
		}
		r, err := d.Update(img, start.Add(at))
		require.NoError(t, err, "frame %d", i)
		out = append(out, r)
	}
	require.NotEmpty(t, out, "vtest.avi: no frames")
	return out
}

// testConfig shortens the learning and persistence times so each case needs less video.
func testConfig() tamper.Config {
	c := tamper.DefaultConfig()
	c.Learn, c.Alarm, c.Clear = 5*time.Second, 5*time.Second, 5*time.Second
	return c
}

func during(from, to time.Duration, fn alter) alter {
	return func(at time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		if at < from || at >= to {
			return frame
		}
		return fn(at, frame, work)
	}
}

func uniform(v uint8) alter {
	return func(_ time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		work.Close()
		*work = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(v), float64(v), float64(v), 0), frame.Rows(), frame.Cols(), frame.Type())
		return *work
	}
}

func blur(k int) alter {
	return func(_ time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		gocv.GaussianBlur(frame, work, image.Pt(k, k), 0, 0, gocv.BorderDefault)
		return *work
	}
}

// spray is paint on the lens: the picture fades towards a grey haze and smears.
func spray(_ time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
	grey := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(170, 175, 180, 0), frame.Rows(), frame.Cols(), frame.Type())
	defer grey.Close()
	gocv.AddWeighted(frame, 0.25, grey, 0.75, 0, work)
	gocv.GaussianBlur(*work, work, image.Pt(31, 31), 0, 0, gocv.BorderDefault)
	return *work
}

// shifted is the camera turned a little: a crop offset by (dx, dy) pixels, scaled back to full size.
func shifted(dx, dy int) alter {
	return func(_ time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		r := frame.Region(image.Rect(dx, dy, frame.Cols(), frame.Rows()))
		defer r.Close()
		gocv.Resize(r, work, image.Pt(frame.Cols(), frame.Rows()), 0, 0, gocv.InterpolationLinear)
		return *work
	}
}

func rotated(deg float64) alter {
	return func(_ time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		m := gocv.GetRotationMatrix2D(image.Pt(frame.Cols()/2, frame.Rows()/2), deg, 1.2)
		defer m.Close()
		gocv.WarpAffine(frame, work, m, image.Pt(frame.Cols(), frame.Rows()))
		return *work
	}
}

func otherVideo(o *otherScene) alter {
	return func(_ time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		return o.next(image.Pt(frame.Cols(), frame.Rows()))
	}
}

// gain scales the picture's brightness by g(at) and adds b(at): dusk, lights, clouds.
func gain(g, b func(at time.Duration) float64) alter {
	return func(at time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		frame.ConvertToWithParams(work, gocv.MatTypeCV8U, float32(g(at)), float32(b(at)))
		return *work
	}
}

// ramp goes linearly from a to b between from and to, holding outside.
func ramp(from, to time.Duration, a, b float64) func(time.Duration) float64 {
	return func(at time.Duration) float64 {
		f := math.Min(1, math.Max(0, float64(at-from)/float64(to-from)))
		return a + (b-a)*f
	}
}

func constant(v float64) func(time.Duration) float64 { return func(time.Duration) float64 { return v } }

// bus drives a large vehicle (a real picture: a frame of another video, scaled to a box 90% of the
// view wide and 80% high) across the view between from and from+dur.
func bus(o *otherScene, from, dur time.Duration) alter {
	return func(at time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		if at < from || at >= from+dur {
			return frame
		}
		frame.CopyTo(work)
		w, h, top := frame.Cols()*9/10, frame.Rows()*8/10, frame.Rows()/10
		side := o.next(image.Pt(w, h))
		x0 := -w + int(float64(frame.Cols()+w)*float64(at-from)/float64(dur))
		r := image.Rect(x0, top, x0+w, top+h).Intersect(image.Rect(0, 0, frame.Cols(), frame.Rows()))
		if r.Empty() {
			return *work
		}
		src := side.Region(r.Sub(image.Pt(x0, top)))
		dst := work.Region(r)
		src.CopyTo(&dst)
		src.Close()
		dst.Close()
		gocv.Rectangle(work, r, color.RGBA{200, 30, 30, 0}, 6)
		return *work
	}
}

// TestRealFootage plays vtest.avi through the detector, untouched and tampered in each way, and
// checks that the state changes to the right alarm after the persistence time (and back after the
// clearing time), and that lighting changes and a passing bus change nothing.
func TestRealFootage(t *testing.T) {
	cfg := testConfig()
	const tamperAt = 15 * time.Second
	const restoreAt = 35 * time.Second
	frame := time.Second / fps
	tests := []struct {
		name  string
		limit time.Duration
		fn    func(o *otherScene) alter
		want  tamper.State // OK: never leaves OK
		// restored: the picture is back to normal at restoreAt and the state must clear.
		restored bool
		// fooled is how many single frames at least must look tampered (for the cases that must
		// not alarm although some frames do look wrong).
		fooled int
	}{
		{"untouched, whole video", 80 * time.Second, nil, tamper.OK, false, 0},
		{"covered grey", 45 * time.Second, func(*otherScene) alter { return during(tamperAt, restoreAt, uniform(128)) }, tamper.Covered, true, 0},
		{"covered black", 30 * time.Second, func(*otherScene) alter { return during(tamperAt, restoreAt, uniform(0)) }, tamper.Covered, false, 0},
		{"sprayed", 30 * time.Second, func(*otherScene) alter { return during(tamperAt, restoreAt, spray) }, tamper.Defocused, false, 0},
		{"defocused", 45 * time.Second, func(*otherScene) alter { return during(tamperAt, restoreAt, blur(25)) }, tamper.Defocused, true, 0},
		{"moved: another scene", 45 * time.Second, func(o *otherScene) alter { return during(tamperAt, restoreAt, otherVideo(o)) }, tamper.Moved, true, 0},
		{"moved: turned by an eighth of the view", 30 * time.Second, func(*otherScene) alter { return during(tamperAt, restoreAt, shifted(96, 40)) }, tamper.Moved, false, 0},
		{"moved: rotated", 30 * time.Second, func(*otherScene) alter { return during(tamperAt, restoreAt, rotated(20)) }, tamper.Moved, false, 0},
		{"dusk: brightness falls to 20% over a minute", 80 * time.Second, func(*otherScene) alter {
			return gain(ramp(12*time.Second, 72*time.Second, 1, 0.2), constant(0))
		}, tamper.OK, false, 0},
		{"morning: brightness rises by 90 grey levels over a minute", 80 * time.Second, func(*otherScene) alter {
			return gain(constant(1), ramp(12*time.Second, 72*time.Second, 0, 90))
		}, tamper.OK, false, 0},
		{"street lights switch off: brightness halves at once", 40 * time.Second, func(*otherScene) alter {
			return during(tamperAt, time.Hour, gain(constant(0.5), constant(0)))
		}, tamper.OK, false, 0},
		{"a bus passes for 3 s", 40 * time.Second, func(o *otherScene) alter { return bus(o, tamperAt, 3*time.Second) }, tamper.OK, false, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fn alter
			if tc.fn != nil {
				fn = tc.fn(newOtherScene(t))
			}
			rs := play(t, cfg, tc.limit, fn)
			start := rs[0].Time
			var alarmAt, clearAt time.Duration = -1, -1
			abnormal := 0
			for _, r := range rs {
				at := r.Time.Sub(start)
				if r.Verdict != tamper.OK {
					abnormal++
				}
				// Any state but ok must be the alarm the case expects (with tc.want ok: never).
				if r.State != tamper.OK {
					require.Equal(t, tc.want, r.State, "at %v (verdict %s): measures %+v baseline %+v", at, r.Verdict, r.Measures, r.Baseline)
				}
				switch {
				case r.Changed && r.State == tc.want && alarmAt < 0:
					alarmAt = at
				case r.Changed && r.State == tamper.OK && alarmAt >= 0:
					clearAt = at
				case at < tamperAt && !r.Learning:
					assert.Equal(t, tamper.OK, r.Verdict, "at %v, before tampering: measures %+v baseline %+v", at, r.Measures, r.Baseline)
				}
			}
			t.Logf("%d frames, %d judged abnormal alone; alarm at %v, cleared at %v; last %+v", len(rs), abnormal, alarmAt, clearAt, rs[len(rs)-1].Measures)
			assert.GreaterOrEqual(t, abnormal, tc.fooled, "frames that looked tampered alone: too few, the case does not test the persistence")
			if tc.want == tamper.OK {
				return
			}
			// The alarm comes once the tampered picture has persisted for cfg.Alarm: not before, and
			// at most a couple of frames after.
			require.GreaterOrEqual(t, alarmAt, time.Duration(0), "no %s alarm", tc.want)
			assert.GreaterOrEqual(t, alarmAt-tamperAt, cfg.Alarm, "%s alarm after tampering", tc.want)
			assert.LessOrEqual(t, alarmAt-tamperAt, cfg.Alarm+2*frame, "%s alarm after tampering (+2 frames)", tc.want)
			if tc.restored {
				require.GreaterOrEqual(t, clearAt, time.Duration(0), "state did not return to ok after the picture was restored")
				assert.GreaterOrEqual(t, clearAt-restoreAt, cfg.Clear, "cleared after the picture was restored")
				assert.LessOrEqual(t, clearAt-restoreAt, cfg.Clear+2*frame, "cleared after the picture was restored (+2 frames)")
			}
		})
	}
}

// TestDefaults runs the whole of vtest.avi with the production settings: never an alarm, and the
// baseline is learned after Learn.
func TestDefaults(t *testing.T) {
	cfg := tamper.DefaultConfig()
	rs := play(t, cfg, time.Hour, nil)
	for _, r := range rs {
		at := r.Time.Sub(rs[0].Time)
		require.Equal(t, tamper.OK, r.State, "at %v", at)
		require.Equal(t, at <= cfg.Learn, r.Learning, "at %v: learning", at)
	}
	b := rs[len(rs)-1].Baseline
	assert.GreaterOrEqual(t, b.Contrast, 30.0, "baseline %+v: not learned", b)
	assert.Positive(t, b.Sharpness, "baseline %+v: not learned", b)
}

// TestCoveredFromStart: a camera that is covered before the detector ever saw its scene alarms too.
func TestCoveredFromStart(t *testing.T) {
	cfg := testConfig()
	rs := play(t, cfg, 12*time.Second, uniform(40))
	last := rs[len(rs)-1]
	assert.Equal(t, tamper.Covered, last.State, "covered from the start")
	assert.True(t, last.Learning, "covered from the start: not learning")
}

// TestFlickerDoesNotAlarm: a tampered picture every other second never persists long enough.
func TestFlickerDoesNotAlarm(t *testing.T) {
	cfg := testConfig()
	cover := uniform(0)
	rs := play(t, cfg, 40*time.Second, func(at time.Duration, frame gocv.Mat, work *gocv.Mat) gocv.Mat {
		if at > 10*time.Second && int(at.Seconds())%2 == 0 {
			return cover(at, frame, work)
		}
		return frame
	})
	for _, r := range rs {
		require.Equal(t, tamper.OK, r.State, "at %v", r.Time.Sub(rs[0].Time))
	}
}

// TestGapRestartsRun: frames that stop arriving are not watched time; a run of tampered frames
// restarts after a gap longer than MaxGap.
func TestGapRestartsRun(t *testing.T) {
	cfg := testConfig()
	vc := video(t, "vtest.avi")
	d, err := tamper.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	start := time.Unix(1_700_000_000, 0)
	at := time.Duration(0)
	for i := 0; i < 80 && vc.Read(&frame); i++ {
		at = time.Duration(i) * time.Second / fps
		_, err := d.Update(frame, start.Add(at))
		require.NoError(t, err)
	}
	black := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), frame.Rows(), frame.Cols(), frame.Type())
	defer black.Close()
	// Black frames 4 s long, then a 10 s gap, then 4 s more: 8 s of black but never 5 s watched in a row.
	for _, span := range []time.Duration{0, 14 * time.Second} {
		for k := 0; k <= 40; k++ {
			r, err := d.Update(black, start.Add(at+span+time.Duration(k)*time.Second/fps))
			require.NoError(t, err)
			require.Equal(t, tamper.OK, r.State, "alarm across a gap at +%v", span+time.Duration(k)*time.Second/fps)
		}
	}
}

// TestBadInput: frames that cannot be measured are refused with an error and change nothing.
func TestBadInput(t *testing.T) {
	d, err := tamper.New(testConfig())
	require.NoError(t, err)
	defer d.Close()
	t0 := time.Unix(1_700_000_000, 0)
	empty := gocv.NewMat()
	defer empty.Close()
	float := gocv.NewMatWithSize(120, 160, gocv.MatTypeCV32FC3)
	defer float.Close()
	twoCh := gocv.NewMatWithSize(120, 160, gocv.MatTypeCV8UC2)
	defer twoCh.Close()
	grey := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 0, 0, 0), 240, 320, gocv.MatTypeCV8UC1)
	defer grey.Close()
	for _, tc := range []struct {
		name string
		m    gocv.Mat
		at   time.Time
		want string
	}{
		{"empty", empty, t0, "empty frame"},
		{"float", float, t0, "want 8-bit"},
		{"two channels", twoCh, t0, "2 channels"},
		{"grey is fine", grey, t0.Add(time.Second), ""},
		{"back in time", grey, t0, "before the previous"},
	} {
		_, err := d.Update(tc.m, tc.at)
		if tc.want == "" {
			assert.NoError(t, err, tc.name)
		} else {
			assert.ErrorContains(t, err, tc.want, tc.name)
		}
	}
}

// TestResolutionChangeRelearns: a camera switching resolution is learned afresh, not judged against
// the old picture.
func TestResolutionChangeRelearns(t *testing.T) {
	cfg := testConfig()
	vc := video(t, "vtest.avi")
	d, err := tamper.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	frame, small := gocv.NewMat(), gocv.NewMat()
	defer frame.Close()
	defer small.Close()
	start := time.Unix(1_700_000_000, 0)
	for i := 0; vc.Read(&frame) && i < 200; i++ {
		img := frame
		if i >= 100 {
			gocv.Resize(frame, &small, image.Pt(384, 288), 0, 0, gocv.InterpolationArea)
			img = small
		}
		r, err := d.Update(img, start.Add(time.Duration(i)*time.Second/fps))
		require.NoError(t, err)
		require.Equal(t, tamper.OK, r.State, "frame %d", i)
		if i == 100 {
			require.True(t, r.Learning, "new resolution not learned afresh")
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*tamper.Config)
		ok   bool
	}{
		{"defaults", func(*tamper.Config) {}, true},
		{"zero config takes defaults", func(c *tamper.Config) { *c = tamper.Config{} }, true},
		{"tiny width", func(c *tamper.Config) { c.Width = 8 }, false},
		{"negative alarm", func(c *tamper.Config) { c.Alarm = -time.Second }, false},
		{"persist half", func(c *tamper.Config) { c.Persist = 0.5 }, false},
		{"cover contrast 1", func(c *tamper.Config) { c.CoverContrast = 1 }, false},
		{"moved correlation 1", func(c *tamper.Config) { c.MovedCorrelation = 1 }, false},
	} {
		c := tamper.DefaultConfig()
		tc.mod(&c)
		d, err := tamper.New(c)
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.Error(t, err, tc.name)
		}
		if d != nil {
			d.Close()
		}
	}
}

// TestResetAcceptsNewView: a camera turned on purpose alarms as moved until an operator accepts the
// new view (Reset); then the new view is learned and is normal.
func TestResetAcceptsNewView(t *testing.T) {
	cfg := testConfig()
	vc := video(t, "vtest.avi")
	d, err := tamper.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	frame, work := gocv.NewMat(), gocv.NewMat()
	defer frame.Close()
	defer work.Close()
	turn := shifted(120, 50)
	start := time.Unix(1_700_000_000, 0)
	for i := 0; i < 300 && vc.Read(&frame); i++ {
		img := frame
		if i >= 100 {
			img = turn(0, frame, &work)
		}
		if i == 200 {
			require.Equal(t, tamper.Moved, d.State(), "before the reset")
			d.Reset()
		}
		r, err := d.Update(img, start.Add(time.Duration(i)*time.Second/fps))
		require.NoError(t, err)
		if i >= 200 {
			require.Equal(t, tamper.OK, r.State, "frame %d, after the reset", i)
		}
	}
}
