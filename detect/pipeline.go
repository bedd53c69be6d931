package detect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"snowlight/detect/infer"
	"snowlight/watchlist"
)

// PersonDetector finds people in a BGR image.
type PersonDetector interface {
	DetectPersons(img gocv.Mat) ([]Person, error)
	Kind() string
	Close() error
}

// FaceDetector finds faces in a BGR image.
type FaceDetector interface {
	DetectFaces(img gocv.Mat) ([]Face, error)
	Kind() string
	Close() error
}

// Config assembles a pipeline.
type Config struct {
	// ModelsDir holds the verified ONNX models; empty runs the classical fallback (HOG people, Haar faces,
	// no recognition).
	ModelsDir string
	// Engine runs the models (infer.Open picks it); nil runs them on OpenCV dnn.
	Engine infer.Engine
	YuNet  YuNetConfig
	YOLOX  YOLOXConfig
	HOG    HOGConfig
	// FaceCascade is the fallback face detector's cascade file.
	FaceCascade string
	// Appearance loads OSNet and embeds persons (for the tracker and cross-camera association): every
	// person of a frame through Detect, the ones AppearanceSchedule picks through a Camera.
	Appearance bool
	// AppearanceSchedule picks which persons of a camera's frame are embedded; the zero value embeds
	// every one.
	AppearanceSchedule AppearanceSchedule
	// FaceSearch picks where a camera's frame is searched for faces; the zero value searches the whole
	// frame. A FacesOnly pipeline, having no persons to search around, always searches the whole frame.
	FaceSearch FaceSearch
	// FacesOnly runs no person detector (Result.Persons stays empty): for footage where only faces
	// matter, at about half the cost.
	FacesOnly bool
	// MinRecognitionFace is the smallest face height in pixels that is embedded and matched: smaller faces
	// carry too little detail for a name to be trusted.
	MinRecognitionFace float32
	Log                *slog.Logger
	// Metrics, when set, records every frame a Camera processes.
	Metrics *Metrics
	// PhotoMemory bounds the memory photos being enrolled (EmbedPhoto) take at once; DefaultPhotoMemory
	// when zero.
	PhotoMemory int64
}

// DefaultConfig is the configuration the figures in docs/ACCURACY.md were measured with.
func DefaultConfig(modelsDir string) Config {
	return Config{
		ModelsDir:          modelsDir,
		YuNet:              DefaultYuNetConfig(),
		YOLOX:              DefaultYOLOXConfig(),
		HOG:                DefaultHOGConfig(),
		FaceCascade:        filepath.Join(CascadeDir, "haarcascades", "haarcascade_frontalface_alt2.xml"),
		Appearance:         true,
		AppearanceSchedule: DefaultAppearanceSchedule(),
		FaceSearch:         DefaultFaceSearch(),
		MinRecognitionFace: 32,
	}
}

// Pipeline runs the detectors and the watch-list match on frames, one frame at a time (OpenCV networks
// are not safe for concurrent use). Per-camera state lives in Camera values made by NewCamera.
type Pipeline struct {
	cfg     Config
	log     *slog.Logger
	engine  string // the inference engine's name; empty on the classical fallback
	persons PersonDetector
	faces   FaceDetector
	faceEmb *Embedder // nil: recognition off
	appEmb  *Embedder // nil: appearance off
	matcher atomic.Pointer[watchlist.Matcher]
	photos  *photoGate

	mu sync.Mutex // serialises frames through the nets
}

// NewPipeline loads the detectors. With a models directory every model must verify, or NewPipeline fails
// naming the file; without one it logs that it runs on the classical detectors with recognition off.
func NewPipeline(cfg Config) (*Pipeline, error) {
	p := &Pipeline{cfg: cfg, log: cfg.Log, photos: newPhotoGate(cmp.Or(cfg.PhotoMemory, DefaultPhotoMemory))}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ModelsDir == "" {
		p.persons = NewHOG(cfg.HOG)
		if cfg.FacesOnly {
			p.persons = noPersons{}
		}
		cascade, err := NewCascade(cfg.FaceCascade)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("fallback face detector: %w", err)
		}
		p.faces = cascade
		p.log.Warn("no models directory configured: running the classical detectors (HOG people, Haar "+
			"cascade faces); face recognition is OFF. Run `make models` and pass --models DIR or set "+
			"SNOWLIGHT_MODELS to enable YOLOX, YuNet and recognition",
			"persons", p.persons.Kind(), "faces", p.faces.Kind())
		return p, nil
	}
	engine := infer.OrOpenCV(cfg.Engine)
	p.engine = engine.Name()
	if cfg.FacesOnly {
		p.persons = noPersons{}
	} else {
		yolox, err := NewYOLOX(engine, cfg.ModelsDir, cfg.YOLOX)
		if err != nil {
			return nil, err
		}
		p.persons = yolox
	}
	yunet, err := NewYuNet(engine, cfg.ModelsDir, cfg.YuNet)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.faces = yunet
	if p.faceEmb, err = NewFaceEmbedder(engine, cfg.ModelsDir); err != nil {
		p.Close()
		return nil, err
	}
	if cfg.Appearance {
		if p.appEmb, err = NewAppearanceEmbedder(engine, cfg.ModelsDir); err != nil {
			p.Close()
			return nil, err
		}
	}
	p.log.Info("perception models loaded and verified", "dir", cfg.ModelsDir, "engine", engine.Name(),
		"persons", p.persons.Kind(), "faces", p.faces.Kind(), "recognition", true, "appearance", cfg.Appearance)
	return p, nil
}

// Close frees every detector.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if p.persons != nil {
		errs = append(errs, p.persons.Close())
	}
	if p.faces != nil {
		errs = append(errs, p.faces.Close())
	}
	if p.faceEmb != nil {
		errs = append(errs, p.faceEmb.Close())
	}
	if p.appEmb != nil {
		errs = append(errs, p.appEmb.Close())
	}
	return errors.Join(errs...)
}

// Recognition reports whether faces are embedded and matched (false on the classical fallback).
func (p *Pipeline) Recognition() bool { return p.faceEmb != nil }

// Modes names the detectors in use, for logs and the analyze output.
func (p *Pipeline) Modes() (persons, faces string) { return p.persons.Kind(), p.faces.Kind() }

// Engine names the inference engine the models run on (infer.ONNXRuntime or infer.OpenCV); empty on the
// classical fallback.
func (p *Pipeline) Engine() string { return p.engine }

// FaceEmbedder exposes the embedder (nil without models), for enrolment.
func (p *Pipeline) FaceEmbedder() *Embedder { return p.faceEmb }

// SetWatchList replaces the matcher; nil clears the watch list. Safe while frames are being processed.
// The matcher's policy decides which faces are named.
func (p *Pipeline) SetWatchList(m *watchlist.Matcher) { p.matcher.Store(m) }

// Detect runs every stage on the whole frame, embedding every person's appearance (a single frame has
// no history to schedule by).
func (p *Pipeline) Detect(ctx context.Context, frame gocv.Mat, t time.Time) (Result, error) {
	return p.run(ctx, frame, t, image.Rectangle{}, nil, nil)
}

// DetectPhoto is Detect for a still photo. A photo, unlike a camera frame, may show a face filling the
// picture or be a tight crop of one, so faces are searched at several scales and, in a small picture
// where none is found or one is cut by the edge, again with a border around it.
func (p *Pipeline) DetectPhoto(ctx context.Context, img gocv.Mat) (Result, error) {
	if img.Empty() || img.Channels() != 3 {
		return Result{}, fmt.Errorf("detect photo: need a non-empty BGR image, got %dx%d with %d channels",
			img.Cols(), img.Rows(), img.Channels())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	res := Result{FullPass: true}
	start := time.Now()
	persons, err := p.persons.DetectPersons(img)
	if err != nil {
		return res, fmt.Errorf("detect persons: %w", err)
	}
	res.Timing.Persons = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	start = time.Now()
	faces, err := p.stillFaces(img)
	if err != nil {
		return res, err
	}
	res.Timing.Faces = time.Since(start)
	if persons == nil {
		persons = []Person{}
	}
	res.Persons, res.Faces = persons, faces
	return res, nil
}

// noPersons is the person detector of a FacesOnly pipeline.
type noPersons struct{}

func (noPersons) DetectPersons(gocv.Mat) ([]Person, error) { return nil, nil }
func (noPersons) Kind() string                             { return "off" }
func (noPersons) Close() error                             { return nil }

// pyramidDetector is a face detector that can search a still image at several scales.
type pyramidDetector interface {
	DetectFacesPyramid(img gocv.Mat, minSide int) ([]Face, error)
}

// tightCropSide: pictures this small may be tight crops of a face, which YuNet finds better inside a
// border; larger ones are not crops, and a second search would only give false detections another
// chance.
const tightCropSide = 512

// stillFaces finds, embeds and matches the faces of a still photo. p.mu must be held.
func (p *Pipeline) stillFaces(img gocv.Mat) ([]Face, error) {
	var faces []Face
	var err error
	if pd, ok := p.faces.(pyramidDetector); ok {
		faces, err = pd.DetectFacesPyramid(img, 320)
	} else {
		faces, err = p.faces.DetectFaces(img)
	}
	if err != nil {
		return nil, fmt.Errorf("detect faces: %w", err)
	}
	if max(img.Cols(), img.Rows()) <= tightCropSide && (len(faces) == 0 || cutByEdge(faces, img)) {
		padded, err := p.paddedFaces(img)
		if err != nil {
			return nil, err
		}
		faces = preferPadded(faces, padded)
	}
	if faces == nil {
		faces = []Face{}
	}
	return faces, p.recognise(img, faces)
}

// cutByEdge reports whether a face reaches the picture's edge (within a pixel): a tight crop.
func cutByEdge(faces []Face, img gocv.Mat) bool {
	w, h := float32(img.Cols()-1), float32(img.Rows()-1)
	for _, f := range faces {
		if f.Box.X < 1 || f.Box.Y < 1 || f.Box.X+f.Box.W > w || f.Box.Y+f.Box.H > h {
			return true
		}
	}
	return false
}

// preferPadded merges the faces found inside a border into those found without: with none found
// without, all of them; otherwise a face found both ways is taken from the bordered search when it
// scores higher there (YuNet scores a face cut by the picture's edge lower and places its landmarks
// worse), and faces only the bordered search found are left out.
func preferPadded(faces, padded []Face) []Face {
	if len(faces) == 0 {
		return padded
	}
	for i, f := range faces {
		for _, g := range padded {
			if g.Box.IoU(f.Box) >= 0.3 && g.Score > faces[i].Score {
				faces[i] = g
			}
		}
	}
	return faces
}

// paddedFaces detects faces in img surrounded by a black border half its size; the faces come back in
// img's coordinates (aligning them in img fills the outside with the same black). p.mu must be held.
func (p *Pipeline) paddedFaces(img gocv.Mat) ([]Face, error) {
	pad := max(img.Cols(), img.Rows()) / 2
	padded := gocv.NewMat()
	defer padded.Close()
	gocv.CopyMakeBorder(img, &padded, pad, pad, pad, pad, gocv.BorderConstant, color.RGBA{})
	faces, err := p.detectFaces(padded, image.Rectangle{})
	if err != nil {
		return nil, err
	}
	for i := range faces {
		faces[i] = shiftFace(faces[i], -float32(pad), -float32(pad))
	}
	return faces, nil
}

// run does the work on frame, restricted to roi unless roi is empty; mem picks the persons whose
// appearance is embedded (nil: all), fm where faces are searched (nil: everywhere).
func (p *Pipeline) run(ctx context.Context, frame gocv.Mat, t time.Time, roi image.Rectangle,
	mem *appearanceMemory, fm *faceMemory) (Result, error) {
	if frame.Empty() || frame.Channels() != 3 {
		return Result{}, fmt.Errorf("detect: need a non-empty BGR frame, got %dx%d with %d channels",
			frame.Cols(), frame.Rows(), frame.Channels())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	res := Result{Time: t, FullPass: roi.Empty(), Persons: []Person{}, Faces: []Face{}}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	area := frame
	var dx, dy float32
	if !roi.Empty() {
		area = frame.Region(roi)
		defer area.Close()
		dx, dy = float32(roi.Min.X), float32(roi.Min.Y)
	}

	start := time.Now()
	persons, err := p.persons.DetectPersons(area)
	if err != nil {
		return res, fmt.Errorf("detect persons: %w", err)
	}
	for i := range persons {
		persons[i].Box = persons[i].Box.Translate(dx, dy)
	}
	res.Timing.Persons = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, err
	}

	start = time.Now()
	faces, err := p.searchFaces(frame, area, roi, t, persons, fm)
	if err != nil {
		return res, err
	}
	res.Timing.Faces = time.Since(start)

	start = time.Now()
	if err := p.recognise(frame, faces); err != nil {
		return res, err
	}
	res.Timing.Embed = time.Since(start)

	start = time.Now()
	if res.Appearances, err = p.embedAppearance(ctx, frame, t, persons, mem); err != nil {
		return res, err
	}
	res.Timing.Appearance = time.Since(start)
	res.Persons, res.Faces = persons, faces
	return res, nil
}

// searchFaces finds the faces of area (frame's part at roi, the whole frame when roi is empty) where fm
// plans to search, in frame coordinates, and records them in fm.
func (p *Pipeline) searchFaces(frame, area gocv.Mat, roi image.Rectangle, t time.Time, persons []Person,
	fm *faceMemory) ([]Face, error) {
	bounds := roi
	if bounds.Empty() {
		bounds = image.Rect(0, 0, frame.Cols(), frame.Rows())
	}
	regions := fm.plan(t, persons, bounds)
	if regions == nil {
		faces, err := p.detectFaces(area, roi)
		if err != nil {
			return nil, err
		}
		fm.searched(t, bounds, nil, faces)
		return faces, nil
	}
	faces := []Face{}
	for _, r := range regions {
		crop := frame.Region(r)
		found, err := p.detectFaces(crop, r)
		crop.Close()
		if err != nil {
			return nil, err
		}
		faces = append(faces, found...)
	}
	fm.searched(t, bounds, regions, faces)
	return faces, nil
}

// detectFaces runs the face detector on area and returns faces in frame coordinates (area's top-left is
// roi.Min).
func (p *Pipeline) detectFaces(area gocv.Mat, roi image.Rectangle) ([]Face, error) {
	faces, err := p.faces.DetectFaces(area)
	if err != nil {
		return nil, fmt.Errorf("detect faces: %w", err)
	}
	for i := range faces {
		faces[i] = shiftFace(faces[i], float32(roi.Min.X), float32(roi.Min.Y))
	}
	if faces == nil {
		faces = []Face{}
	}
	return faces, nil
}

// recognise rates, embeds and matches faces large enough to trust. img is the image the faces'
// coordinates refer to.
func (p *Pipeline) recognise(img gocv.Mat, faces []Face) error {
	if p.faceEmb == nil {
		return nil
	}
	matcher := p.matcher.Load()
	for i := range faces {
		f := &faces[i]
		if !f.HasLandmarks || f.Box.H < p.cfg.MinRecognitionFace {
			continue
		}
		v, q, err := p.faceEmb.embedRated(img, *f)
		if err != nil {
			return fmt.Errorf("embed face: %w", err)
		}
		f.Embedding, f.Quality = v, q
		if matcher != nil {
			f.Match, f.Nearest = matcher.Match(v)
		}
	}
	return nil
}

func shiftFace(f Face, dx, dy float32) Face {
	f.Box = f.Box.Translate(dx, dy)
	for k := range f.Landmarks {
		f.Landmarks[k] = Point{f.Landmarks[k].X + dx, f.Landmarks[k].Y + dy}
	}
	return f
}

// Camera is one camera's view of the pipeline: it owns the camera's motion gate, memory of recent
// detections and appearance schedule. Not safe for concurrent use (frames of one camera arrive in order);
// many Cameras may share one Pipeline.
type Camera struct {
	ID     string
	p      *Pipeline
	gate   *Gate // nil: every frame gets a full pass
	cfg    GateConfig
	recent []Box // boxes of the last detections, kept for cfg.Hold
	until  time.Time
	app    *appearanceMemory
	faces  *faceMemory // nil: every frame searched whole for faces
}

// NewCamera makes a per-camera processor. With gate nil, every frame gets a full detection pass.
func (p *Pipeline) NewCamera(id string, gate *GateConfig) *Camera {
	c := &Camera{ID: id, p: p, app: newAppearanceMemory(p.cfg.AppearanceSchedule)}
	if !p.cfg.FacesOnly {
		c.faces = newFaceMemory(p.cfg.FaceSearch)
	}
	if gate != nil {
		c.cfg = *gate
		c.gate = NewGate(*gate)
	}
	return c
}

// Close frees the camera's gate.
func (c *Camera) Close() error {
	if c.gate != nil {
		return c.gate.Close()
	}
	return nil
}

// FaceSearchStats counts where this camera searched for faces.
func (c *Camera) FaceSearchStats() FaceSearchStats {
	if c.faces == nil {
		return FaceSearchStats{}
	}
	return c.faces.stats
}

// AppearanceStats counts the persons this camera saw and why those whose appearance it embedded were.
func (c *Camera) AppearanceStats() AppearanceStats { return c.app.stats }

// Process runs the pipeline on one frame of this camera taken at wall time t, gated when the camera has a
// gate: frames without motion (and without recent detections) skip the detectors, frames with motion in a
// small part of the picture run them on that part only.
func (c *Camera) Process(ctx context.Context, frame gocv.Mat, t time.Time) (Result, error) {
	res, err := c.process(ctx, frame, t)
	if err == nil {
		c.p.cfg.Metrics.Observe(c.ID, res)
	}
	return res, err
}

func (c *Camera) process(ctx context.Context, frame gocv.Mat, t time.Time) (Result, error) {
	if c.gate == nil {
		return c.p.run(ctx, frame, t, image.Rectangle{}, c.app, c.faces)
	}
	start := time.Now()
	d, err := c.gate.Check(frame, t)
	if err != nil {
		return Result{}, fmt.Errorf("camera %s: %w", c.ID, err)
	}
	gateTime := time.Since(start)
	active := c.recent
	if !t.Before(c.until) {
		active = nil
	}
	if !d.Run && len(active) == 0 {
		return Result{Time: t, Skipped: true, Persons: []Person{}, Faces: []Face{}, Timing: Timing{Gate: gateTime}}, nil
	}
	roi := image.Rectangle{}
	if !d.Full {
		roi = regionOfInterest(append(append([]Box{}, d.Regions...), active...), frame.Cols(), frame.Rows())
		if float64(roi.Dx()*roi.Dy()) > c.cfg.FullAbove*float64(frame.Cols()*frame.Rows()) {
			roi = image.Rectangle{}
		}
	}
	res, err := c.p.run(ctx, frame, t, roi, c.app, c.faces)
	if err != nil {
		return res, fmt.Errorf("camera %s: %w", c.ID, err)
	}
	res.Regions = d.Regions
	res.Timing.Gate = gateTime
	// Remember where people were, and keep looking there for Hold after motion stops. Only motion starts
	// the hold: a full pass finding someone standing still must not keep the detectors busy until the next
	// full pass, which finds them anyway.
	c.recent = c.recent[:0]
	for _, pr := range res.Persons {
		c.recent = append(c.recent, pr.Box)
	}
	for _, f := range res.Faces {
		c.recent = append(c.recent, f.Box)
	}
	if len(d.Regions) > 0 {
		c.until = t.Add(c.cfg.Hold)
	}
	return res, nil
}

// minROI is the smallest side of a region of interest: the person detector's input. A smaller crop would
// be upscaled into the network, and a detector shown people larger than in the full frame answers
// differently from the full pass it stands in for.
const minROI = 416

// regionOfInterest is the bounding rectangle of the boxes, each grown by half its size on every side (a
// moving arm must bring the whole person into view) and at least 32 pixels, then widened to minROI and
// clipped to the frame.
func regionOfInterest(boxes []Box, w, h int) image.Rectangle {
	var r image.Rectangle
	for _, b := range boxes {
		mx, my := max(b.W/2, 32), max(b.H/2, 32)
		g := Box{b.X - mx, b.Y - my, b.W + 2*mx, b.H + 2*my}.Rect()
		r = r.Union(g)
	}
	r = r.Intersect(image.Rect(0, 0, w, h))
	widen := func(lo, hi, limit int) (int, int) {
		if hi-lo >= minROI || limit <= minROI {
			if limit <= minROI {
				return 0, limit
			}
			return lo, hi
		}
		c := (lo + hi) / 2
		lo = min(max(c-minROI/2, 0), limit-minROI)
		return lo, lo + minROI
	}
	r.Min.X, r.Max.X = widen(r.Min.X, r.Max.X, w)
	r.Min.Y, r.Max.Y = widen(r.Min.Y, r.Max.Y, h)
	return r
}
