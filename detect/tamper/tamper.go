// Package tamper notices when a camera stops showing its scene: covered (a bag, a hand, paint: the
// picture turns uniform), defocused (smeared lens, spray, focus turned: the picture blurs) or moved
// (turned away: the scene changed and stays changed).
//
// It is cheap enough to run on every decoded frame of every camera: each frame is shrunk to a
// 160-pixel-wide grey picture and reduced to four numbers (mean, contrast, sharpness relative to
// contrast, and correlation of the scene's coarse structure with a slowly updated reference), which
// are compared with the camera's own learned baseline. Sharpness and correlation do not change when
// the whole picture gets darker or brighter, so night fall and lights switching on are not tampering;
// a verdict must persist (Config.Alarm) before the state changes, so a passing bus is not either.
package tamper

import (
	"fmt"
	"snowlight/camevent"
	"time"

	"gocv.io/x/gocv"
)

// State is what the detector concludes about a camera.
type State string

// States.
const (
	OK        State = "ok"
	Covered   State = "covered"   // the picture is (nearly) uniform
	Defocused State = "defocused" // the picture lost its sharpness
	Moved     State = "moved"     // the scene changed and stays changed
)

// States lists every state.
func States() []State { return []State{OK, Covered, Defocused, Moved} }

// Tampered reports whether s is an alarm.
func (s State) Tampered() bool { return s != OK && s != "" }

// Config tunes a Detector. Zero values take the defaults in brackets.
type Config struct {
	// Width is the width of the grey picture measured [160 pixels].
	Width int
	// Learn is how long the first frames are watched to learn the baseline before any verdict [10 s].
	Learn time.Duration
	// Alarm is how long a tampered verdict must persist before the state changes to it; Clear how
	// long the scene must look normal again before the state returns to OK [10 s each].
	Alarm, Clear time.Duration
	// Persist is the fraction of the frames of such a run that must agree [0.8]: a few odd frames
	// neither start nor break a run.
	Persist float64
	// Adapt is the time constant with which the baseline follows slow changes of the scene (dusk,
	// weather, the sun moving) [2 min]. Only frames judged normal teach the baseline.
	Adapt time.Duration
	// MaxGap is the longest pause between frames that still counts as watching; after a longer
	// pause a run starts over [2 s].
	MaxGap time.Duration

	// Thresholds. A frame is covered when its contrast is below CoverContrast times the baseline's
	// (or below FlatContrast grey levels) and its structure no longer correlates with the reference;
	// moved when the correlation is below MovedCorrelation; defocused when its sharpness is below
	// BlurSharpness times the baseline's [0.25, 2, 0.5, 0.5].
	CoverContrast    float64
	FlatContrast     float64
	MovedCorrelation float64
	BlurSharpness    float64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Width: 160, Learn: 10 * time.Second, Alarm: 10 * time.Second, Clear: 10 * time.Second,
		Persist: 0.8, Adapt: 2 * time.Minute, MaxGap: 2 * time.Second,
		CoverContrast: 0.25, FlatContrast: 2, MovedCorrelation: 0.5, BlurSharpness: 0.5,
	}
}

func (c *Config) fill() error {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	if c.Width == 0 {
		c.Width = d.Width
	}
	set(&c.Learn, d.Learn)
	set(&c.Alarm, d.Alarm)
	set(&c.Clear, d.Clear)
	set(&c.Adapt, d.Adapt)
	set(&c.MaxGap, d.MaxGap)
	setF(&c.Persist, d.Persist)
	setF(&c.CoverContrast, d.CoverContrast)
	setF(&c.FlatContrast, d.FlatContrast)
	setF(&c.MovedCorrelation, d.MovedCorrelation)
	setF(&c.BlurSharpness, d.BlurSharpness)
	switch {
	case c.Width < 4*layoutBlock || c.Width > 1024:
		return fmt.Errorf("tamper: width %d outside [%d, 1024]", c.Width, 4*layoutBlock)
	case c.Learn < 0 || c.Alarm < 0 || c.Clear < 0 || c.Adapt < 0 || c.MaxGap < 0:
		return fmt.Errorf("tamper: negative duration")
	case c.Persist <= 0.5 || c.Persist > 1:
		return fmt.Errorf("tamper: persist %v outside (0.5, 1]", c.Persist)
	case c.CoverContrast <= 0 || c.CoverContrast >= 1 || c.BlurSharpness <= 0 || c.BlurSharpness >= 1:
		return fmt.Errorf("tamper: cover contrast %v and blur sharpness %v must be in (0, 1)", c.CoverContrast, c.BlurSharpness)
	case c.MovedCorrelation <= -1 || c.MovedCorrelation >= 1:
		return fmt.Errorf("tamper: moved correlation %v outside (-1, 1)", c.MovedCorrelation)
	case c.FlatContrast < 0:
		return fmt.Errorf("tamper: flat contrast %v negative", c.FlatContrast)
	}
	return nil
}

// Result is the detector's view after one frame.
type Result struct {
	Time time.Time `json:"time"`
	// State is the camera's state; Changed is true on the frame where it changed, From the state
	// before.
	State   State `json:"state"`
	Changed bool  `json:"changed,omitempty"`
	From    State `json:"from,omitempty"`
	// Since is when State began.
	Since time.Time `json:"since"`
	// Verdict is what this frame alone looks like; Learning is true while the baseline is being
	// learned (no verdicts yet).
	Verdict  State `json:"verdict"`
	Learning bool  `json:"learning,omitempty"`
	// Measures are this frame's; Baseline is what the camera normally shows (Correlation is
	// meaningless there and left 0).
	Measures Measures `json:"measures"`
	Baseline Measures `json:"baseline"`
}

// Event is the change r reports, as the camera event the alert rules take (tampered, or the picture
// normal again) with what was measured in its detail; ok is false when r changed nothing.
func (r Result) Event(camera string) (ev camevent.Event, ok bool) {
	if !r.Changed {
		return camevent.Event{}, false
	}
	kind := camevent.PictureNormal
	if r.State.Tampered() {
		kind = camevent.Tampered
	}
	return camevent.Event{Camera: camera, Kind: kind, Time: r.Time, Detail: r.describe()}, true
}

// describe says what changed, with the numbers that made the verdict.
func (r Result) describe() string {
	m, b := r.Measures, r.Baseline
	switch r.State {
	case Covered:
		return fmt.Sprintf("picture covered: contrast %.1f grey levels (normally %.1f)", m.Contrast, b.Contrast)
	case Defocused:
		return fmt.Sprintf("picture defocused: sharpness %.2f (normally %.2f)", m.Sharpness, b.Sharpness)
	case Moved:
		return fmt.Sprintf("camera moved: the scene's structure correlates %.2f with its usual view", m.Correlation)
	case OK:
		return fmt.Sprintf("picture normal again after %s", r.From)
	}
	return "picture " + string(r.State)
}

// Detector watches one camera. It is not safe for concurrent use: one goroutine feeds it the
// camera's frames in time order. Close frees its Mats.
type Detector struct {
	cfg Config
	sh  shrinker

	band, tmp []float64 // this frame's band-passed layout, scratch
	ref       []float64 // the reference layout

	base      Measures
	learned   int       // frames averaged into the baseline while learning
	learnFrom time.Time // first frame of the learning period
	ready     bool

	state    State
	since    time.Time
	last     time.Time // the previous frame
	toAlarm  run       // from OK: abnormal verdicts
	toClear  run       // from an alarm: normal verdicts
	toOther  run       // from an alarm: abnormal verdicts of another kind
	hadFrame bool
}

// New returns a detector for one camera.
func New(cfg Config) (*Detector, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg, sh: shrinker{width: cfg.Width}, state: OK}, nil
}

// State is the current state.
func (d *Detector) State() State { return d.state }

// Reset forgets the baseline and the state: the detector learns the scene afresh from the next
// frame. Call it when an operator accepts a camera's new view (after it was moved on purpose).
func (d *Detector) Reset() {
	d.relearn()
	d.state, d.since = OK, time.Time{}
	d.hadFrame = false
}

// relearn forgets the baseline and any run in progress, keeping the state.
func (d *Detector) relearn() {
	d.ready, d.learned, d.learnFrom = false, 0, time.Time{}
	d.toAlarm, d.toClear, d.toOther = run{}, run{}, run{}
}

// Close frees the detector's Mats. It is safe to call more than once.
func (d *Detector) Close() error {
	d.sh.close()
	return nil
}

// Update measures one frame (8-bit BGR, BGRA or grey; it is not modified) taken at wall time t.
// Frames must come in time order; one older than the previous frame is an error and changes nothing.
func (d *Detector) Update(frame gocv.Mat, t time.Time) (Result, error) {
	if d.hadFrame && t.Before(d.last) {
		return Result{}, fmt.Errorf("tamper: frame at %v before the previous one at %v", t, d.last)
	}
	prevSize := d.sh.srcSize
	g, size, err := d.sh.shrink(frame)
	if err != nil {
		return Result{}, fmt.Errorf("tamper: %w", err)
	}
	if d.hadFrame && prevSize != d.sh.srcSize {
		// A new resolution is a new picture: learn it afresh, keeping any alarm.
		d.relearn()
	}
	lw, lh := layoutSize(size.X, size.Y)
	if lw*lh != len(d.band) {
		d.band, d.tmp, d.ref = make([]float64, lw*lh), make([]float64, lw*lh), make([]float64, lw*lh)
	}
	m := stats(g, size.X, size.Y, d.band, d.tmp)

	var dt time.Duration
	if d.hadFrame {
		dt = t.Sub(d.last)
	} else {
		d.since = t
	}
	d.hadFrame, d.last = true, t
	if dt > d.cfg.MaxGap {
		// Nothing was watched in between: no run survives the gap.
		d.toAlarm, d.toClear, d.toOther = run{}, run{}, run{}
	}

	res := Result{Time: t, Measures: m, Verdict: OK}
	flat := m.Contrast < d.cfg.FlatContrast
	switch {
	case !d.ready:
		// A picture that is flat from the start is covered all the same, and teaches nothing.
		res.Learning = true
		if flat {
			res.Verdict = Covered
		} else {
			d.learn(m, t)
		}
	default:
		m.Correlation = correlation(d.band, d.ref)
		res.Measures = m
		res.Verdict = d.judge(m)
		if res.Verdict == OK && d.state == OK {
			d.adapt(m, dt)
		}
	}
	from := d.state
	d.step(res.Verdict, t)
	res.State, res.Since, res.Baseline = d.state, d.since, d.base
	res.Baseline.Correlation = 0
	if d.state != from {
		res.Changed, res.From = true, from
	}
	return res, nil
}

// learn averages the first frames into the baseline and the reference.
func (d *Detector) learn(m Measures, t time.Time) {
	if d.learned == 0 {
		d.learnFrom = t
		clear(d.ref)
		d.base = Measures{}
	}
	d.learned++
	k := 1 / float64(d.learned)
	d.base.Mean += (m.Mean - d.base.Mean) * k
	d.base.Contrast += (m.Contrast - d.base.Contrast) * k
	d.base.Sharpness += (m.Sharpness - d.base.Sharpness) * k
	for i, v := range d.band {
		d.ref[i] += (v - d.ref[i]) * k
	}
	if t.Sub(d.learnFrom) >= d.cfg.Learn && d.learned >= 3 {
		d.ready = true
	}
}

// adapt lets the baseline follow a normal frame, by an exponential average over cfg.Adapt.
func (d *Detector) adapt(m Measures, dt time.Duration) {
	if dt <= 0 {
		return
	}
	a := min(1, float64(dt)/float64(d.cfg.Adapt))
	d.base.Mean += (m.Mean - d.base.Mean) * a
	d.base.Contrast += (m.Contrast - d.base.Contrast) * a
	d.base.Sharpness += (m.Sharpness - d.base.Sharpness) * a
	for i, v := range d.band {
		d.ref[i] += (v - d.ref[i]) * a
	}
}

// judge classifies one frame against the baseline. Covered comes first (a uniform picture has no
// structure, so it would also read as moved), then moved (another scene may well be less sharp), then
// defocused (a blurred scene keeps its coarse structure, so its correlation stays high).
func (d *Detector) judge(m Measures) State {
	lowStructure := m.Correlation < d.cfg.MovedCorrelation
	switch {
	case m.Contrast < d.cfg.FlatContrast,
		lowStructure && m.Contrast < d.cfg.CoverContrast*d.base.Contrast:
		return Covered
	case lowStructure:
		return Moved
	case m.Sharpness < d.cfg.BlurSharpness*d.base.Sharpness:
		return Defocused
	}
	return OK
}

// step applies the hysteresis: the state changes only when a run of agreeing verdicts has lasted
// long enough.
func (d *Detector) step(v State, t time.Time) {
	change := func(to State) {
		d.state, d.since = to, t
		d.toAlarm, d.toClear, d.toOther = run{}, run{}, run{}
	}
	if d.state == OK {
		if d.toAlarm.add(v.Tampered(), v, t, d.cfg.Persist) && t.Sub(d.toAlarm.start) >= d.cfg.Alarm {
			change(d.toAlarm.plurality())
		}
		return
	}
	if d.toClear.add(v == OK, v, t, d.cfg.Persist) && t.Sub(d.toClear.start) >= d.cfg.Clear {
		change(OK)
		return
	}
	other := v.Tampered() && v != d.state
	if d.toOther.add(other, v, t, d.cfg.Persist) && t.Sub(d.toOther.start) >= d.cfg.Alarm {
		change(d.toOther.plurality())
	}
}

// run is a stretch of frames most of which agree with what is looked for.
type run struct {
	active      bool
	start       time.Time
	frames, hit int
	votes       [4]int // by State index, for the abnormal kinds
}

// add counts one frame; it reports whether the run is (still) going.
func (r *run) add(match bool, v State, t time.Time, persist float64) bool {
	if !r.active {
		if !match {
			return false
		}
		*r = run{active: true, start: t}
	}
	r.frames++
	if match {
		r.hit++
		r.votes[stateIndex(v)]++
	}
	if float64(r.hit) < persist*float64(r.frames) {
		*r = run{}
		return false
	}
	return true
}

// plurality is the most voted state of the run; a tie goes to the later state in States().
func (r *run) plurality() State {
	best := 0
	for i := range r.votes {
		if r.votes[i] > 0 && r.votes[i] >= r.votes[best] {
			best = i
		}
	}
	return States()[best]
}

func stateIndex(s State) int {
	for i, x := range States() {
		if x == s {
			return i
		}
	}
	return 0
}
