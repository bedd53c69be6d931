package testvideos

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// RenderOptions adjust a scenario render.
type RenderOptions struct {
	Log *slog.Logger // progress; nil: silent

	// onFrame sees every raw BGR frame before it is encoded (tests compare pixels with the truth).
	onFrame func(camera string, frame int, bgr []byte)
}

// Render draws every camera of the spec into outDir/<camera>.mp4 and writes outDir/truth.json (plus
// outDir/<camera>.gt.txt, the same truth in MOTChallenge format). The output depends only on the spec and
// the files it names: the same spec gives the same bytes.
func Render(ctx context.Context, spec *Spec, outDir string, opts RenderOptions) (*Truth, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hash, err := SpecHash(spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("render scenario %s: %w", spec.Name, err)
	}
	cast, err := loadCast(spec)
	if err != nil {
		return nil, fmt.Errorf("render scenario %s: %w", spec.Name, err)
	}
	defer cast.close()

	truth := &Truth{Scenario: spec.Name, SpecHash: hash, Start: spec.StartTime(), Zones: spec.Zones, Patrols: spec.Patrols}
	for i, p := range spec.Persons {
		truth.Persons = append(truth.Persons, PersonTruth{
			ID: p.ID, Number: i + 1, Name: p.Name, Category: p.Category, Enrolled: len(p.Enrol) > 0,
			Enrol: spec.resolved.enrol[i], Photos: spec.resolved.photos[i], SafeZone: p.SafeZone,
		})
	}
	for i := range spec.Cameras {
		c := &spec.Cameras[i]
		start := time.Now()
		ct, err := renderCamera(ctx, spec, i, cast, outDir, opts.onFrame)
		if err != nil {
			return nil, fmt.Errorf("render scenario %s: %w", spec.Name, err)
		}
		el := time.Since(start)
		log.Info("scenario camera rendered", "scenario", spec.Name, "camera", c.ID, "frames", len(ct.Frames),
			"elapsed", el.Round(10*time.Millisecond), "speed", fmt.Sprintf("%.1fx real time", c.Duration/el.Seconds()))
		if err := ct.writeMOT(filepath.Join(outDir, c.ID+".gt.txt")); err != nil {
			return nil, err
		}
		truth.Cameras = append(truth.Cameras, *ct)
		truth.Passes = append(truth.Passes, passes(spec, ct)...)
	}
	sort.SliceStable(truth.Passes, func(a, b int) bool { return truth.Passes[a].Walk < truth.Passes[b].Walk })
	data, err := json.Marshal(truth)
	if err != nil {
		return nil, fmt.Errorf("render scenario %s: encode truth: %w", spec.Name, err)
	}
	if err := writeFileAtomic(filepath.Join(outDir, TruthFile), append(data, '\n')); err != nil {
		return nil, fmt.Errorf("render scenario %s: %w", spec.Name, err)
	}
	return truth, nil
}

// cast holds every portrait the walks need, decoded once.
type cast struct {
	portraits map[[2]int]*portrait // (person index, photo index)
}

func loadCast(spec *Spec) (*cast, error) {
	c := &cast{portraits: map[[2]int]*portrait{}}
	var ff faceFinder
	defer ff.close()
	for _, w := range spec.Walks {
		pi := personIndex(spec, w.Person)
		key := [2]int{pi, w.Photo}
		if c.portraits[key] != nil {
			continue
		}
		path := spec.resolved.photos[pi][w.Photo]
		p, err := loadPortrait(path, spec.Persons[pi].Photos[w.Photo].Face, &ff)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("persons[%d].photos[%d]: %w", pi, w.Photo, err)
		}
		c.portraits[key] = p
	}
	return c, nil
}

func (c *cast) close() {
	for _, p := range c.portraits {
		p.close()
	}
}

func personIndex(spec *Spec, id string) int {
	for i := range spec.Persons {
		if spec.Persons[i].ID == id {
			return i
		}
	}
	return -1
}

// walker moves one walk's figure along its path.
type walker struct {
	idx     int
	spec    *WalkSpec
	person  int
	fig     *figure
	times   []float64    // absolute seconds at each waypoint
	pts     [][3]float64 // x, y, height at each waypoint
	moving  []bool       // per segment: does the person move
	faceK   float64      // face height per person height
	cadence float64      // gait cycles per second
}

const gaitCadence = 0.95 // walking cycles (two steps) per second

func newWalker(spec *Spec, idx int, cast *cast) (*walker, error) {
	w := &spec.Walks[idx]
	pi := personIndex(spec, w.Person)
	fig, err := newFigure(cast.portraits[[2]int{pi, w.Photo}], &spec.Persons[pi])
	if err != nil {
		return nil, err
	}
	wk := &walker{idx: idx, spec: w, person: pi, fig: fig, faceK: w.Face / w.refHeight(), cadence: gaitCadence}
	for _, p := range w.Path {
		h := w.Height
		if len(p) == 3 {
			h = p[2]
		}
		wk.pts = append(wk.pts, [3]float64{p[0], p[1], h})
	}
	n := len(wk.pts)
	wk.times = make([]float64, n)
	if w.Times != nil {
		for i, t := range w.Times {
			wk.times[i] = w.Start + t
		}
	} else {
		// Constant speed: time proportional to the distance walked.
		dist := make([]float64, n)
		for i := 1; i < n; i++ {
			dist[i] = dist[i-1] + math.Hypot(wk.pts[i][0]-wk.pts[i-1][0], wk.pts[i][1]-wk.pts[i-1][1])
		}
		for i := range wk.times {
			if dist[n-1] > 0 {
				wk.times[i] = w.Start + (w.End-w.Start)*dist[i]/dist[n-1]
			} else {
				wk.times[i] = w.Start
			}
		}
		wk.times[n-1] = w.End
	}
	for i := 1; i < n; i++ {
		wk.moving = append(wk.moving, wk.pts[i][0] != wk.pts[i-1][0] || wk.pts[i][1] != wk.pts[i-1][1])
	}
	return wk, nil
}

// poseAt is where the walker is at time t; false outside the walk.
func (w *walker) poseAt(t float64) (pose, bool) {
	if t < w.spec.Start || t > w.spec.End {
		return pose{}, false
	}
	p := pose{}
	walked := 0.0 // seconds spent moving so far, for the gait phase
	seg := -1
	for i := 0; i+1 < len(w.pts); i++ {
		if t <= w.times[i+1] || i+2 == len(w.pts) {
			seg = i
			break
		}
		if w.moving[i] {
			walked += w.times[i+1] - w.times[i]
		}
	}
	var x, y, h float64
	if seg < 0 { // a single waypoint: standing
		x, y, h = w.pts[0][0], w.pts[0][1], w.pts[0][2]
	} else {
		a, b := w.pts[seg], w.pts[seg+1]
		span := w.times[seg+1] - w.times[seg]
		u := 1.0
		if span > 0 {
			u = math.Min(1, math.Max(0, (t-w.times[seg])/span))
		}
		x, y, h = a[0]+(b[0]-a[0])*u, a[1]+(b[1]-a[1])*u, a[2]+(b[2]-a[2])*u
		if w.moving[seg] {
			walked += t - w.times[seg]
			p.moving = true
			dx, dy := b[0]-a[0], b[1]-a[1]
			p.side = math.Abs(dx) / math.Hypot(dx, dy)
		}
	}
	p.x, p.y, p.height, p.face = x, y, h, h*w.faceK
	p.phase = 2 * math.Pi * w.cadence * walked
	return p, true
}

func renderCamera(ctx context.Context, spec *Spec, ci int, cast *cast, outDir string, onFrame func(string, int, []byte)) (*CameraTruth, error) {
	c := &spec.Cameras[ci]
	bg, err := openBackground(ctx, c, spec.resolved.backgrounds[ci])
	if err != nil {
		return nil, err
	}
	defer bg.close()
	var walkers []*walker
	defer func() {
		for _, w := range walkers {
			w.fig.close()
		}
	}()
	for i := range spec.Walks {
		if spec.Walks[i].Camera != c.ID {
			continue
		}
		w, err := newWalker(spec, i, cast)
		if err != nil {
			return nil, err
		}
		walkers = append(walkers, w)
	}

	file := c.ID + ".mp4"
	tmp := filepath.Join(outDir, "."+file+".tmp")
	enc, err := startH264Writer(ctx, tmp, c.Width, c.Height, c.FPS)
	if err != nil {
		return nil, err
	}
	sink := newFrameSink(enc, c.Width*c.Height*3)
	defer sink.abort()
	defer os.Remove(tmp)

	ct := &CameraTruth{ID: c.ID, File: file, Width: c.Width, Height: c.Height, FPS: c.FPS, Position: c.Position,
		Neighbours: c.Neighbours, BackgroundPeople: bg.plate == nil && c.Background.Video != ""}
	frame := make([]byte, c.Width*c.Height*3)
	labels := make([]byte, c.Width*c.Height) // who is seen at each pixel: index in active + 1
	if bg.plate != nil {
		copy(frame, bg.plate)
	}
	frameRect := image.Rect(0, 0, c.Width, c.Height)
	var dirty []image.Rectangle
	type placed struct {
		w *walker
		p pose
		d drawn
	}
	var active []placed
	nFrames := int(math.Round(c.Duration * float64(c.FPS)))
	for n := 0; n < nFrames; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := float64(n) / float64(c.FPS)
		if bg.plate != nil {
			bg.restore(frame, c.Width, dirty)
		} else if err := bg.next(ctx, frame); err != nil {
			return nil, err
		}
		dirty = dirty[:0]
		active = active[:0]
		for _, w := range walkers {
			if p, ok := w.poseAt(t); ok {
				active = append(active, placed{w: w, p: p})
			}
		}
		// Painter's order: whoever stands lower in the image is nearer the camera and drawn last.
		sort.SliceStable(active, func(a, b int) bool { return active[a].p.y < active[b].p.y })
		if len(active) > 254 {
			return nil, fmt.Errorf("camera %s: %d people in one frame, at most 254", c.ID, len(active))
		}
		clear(labels)
		for i := range active {
			a := &active[i]
			d, err := a.w.fig.draw(frame, c.Width, c.Height, a.p, labels, byte(i+1))
			if err != nil {
				return nil, fmt.Errorf("camera %s: walk %d: %w", c.ID, a.w.idx, err)
			}
			a.d = d
			if r := d.region.Intersect(frameRect); !r.Empty() {
				dirty = append(dirty, r)
			}
		}
		ft := FrameTruth{Frame: n + 1, T: t, Objects: []ObjectTruth{}}
		for i, a := range active {
			if a.d.empty || a.d.box.Empty() {
				continue
			}
			box := a.d.box.Intersect(frameRect)
			if box.Empty() {
				continue
			}
			o := ObjectTruth{
				Person: a.w.spec.Person, ID: a.w.person + 1, Walk: a.w.idx, Box: xywh(box),
				Visible:     seenShare(labels, c.Width, box, byte(i+1), float64(a.d.covered)),
				FaceVisible: seenShare(labels, c.Width, a.d.faceBox.Intersect(frameRect), byte(i+1), float64(a.d.faceCov)),
			}
			fr := a.d.faceBox.Intersect(frameRect)
			if !fr.Empty() {
				f := xywh(fr)
				o.Face = &f
			}
			ft.Objects = append(ft.Objects, o)
		}
		ct.Frames = append(ct.Frames, ft)
		if onFrame != nil {
			onFrame(c.ID, n+1, frame)
		}
		if err := sink.put(ctx, frame); err != nil {
			return nil, err
		}
	}
	if err := sink.finish(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(outDir, file)); err != nil {
		return nil, fmt.Errorf("camera %s: %w", c.ID, err)
	}
	return ct, nil
}

func xywh(r image.Rectangle) [4]int { return [4]int{r.Min.X, r.Min.Y, r.Dx(), r.Dy()} }

// seenShare is the share of a figure's covered pixels (covered, including any outside the frame) that
// still show it after everyone is drawn: label marks them in labels within box.
func seenShare(labels []byte, w int, box image.Rectangle, label byte, covered float64) float64 {
	if covered <= 0 {
		return 0
	}
	seen := 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for _, l := range labels[y*w+box.Min.X : y*w+box.Max.X] {
			if l == label {
				seen++
			}
		}
	}
	return math.Round(float64(seen)/covered*1000) / 1000
}

// passes turns a camera's frames into one pass per walk that was visible at all.
func passes(spec *Spec, ct *CameraTruth) []PassTruth {
	byWalk := map[int]*PassTruth{}
	var order []int
	for _, f := range ct.Frames {
		for _, o := range f.Objects {
			p := byWalk[o.Walk]
			if p == nil {
				p = &PassTruth{Walk: o.Walk, Person: o.Person, Camera: ct.ID, FirstFrame: f.Frame, Enter: f.T}
				byWalk[o.Walk] = p
				order = append(order, o.Walk)
			}
			p.LastFrame, p.Exit = f.Frame, f.T
		}
	}
	out := make([]PassTruth, 0, len(order))
	for _, w := range order {
		out = append(out, *byWalk[w])
	}
	return out
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
