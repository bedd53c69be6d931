package testvideos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"snowlight/geo"
	"snowlight/watchlist"
)

// Spec describes a multi-camera scenario: real backgrounds seen by cameras, real people (from their photos)
// walking through them along known paths. It is what `snowlight scenario render` reads. Times are seconds
// after the scenario's start; image coordinates are pixels of the camera's frame.
type Spec struct {
	Name string `yaml:"name" json:"name"`
	// Start is the wall-clock time of t=0 (RFC 3339). Every camera starts recording at that instant.
	Start string `yaml:"start,omitempty" json:"start,omitempty"`
	// Duration is the length of every camera's video unless the camera sets its own.
	Duration float64      `yaml:"duration,omitempty" json:"duration,omitempty"`
	Cameras  []CameraSpec `yaml:"cameras" json:"cameras"`
	Persons  []PersonSpec `yaml:"persons" json:"persons"`
	Walks    []WalkSpec   `yaml:"walks" json:"walks"`
	Zones    []ZoneSpec   `yaml:"zones,omitempty" json:"zones,omitempty"`
	Patrols  []PatrolSpec `yaml:"patrols,omitempty" json:"patrols,omitempty"`
	dir      string       // the spec file's directory: relative paths resolve against it
	lookup   func(string) (string, bool)
	resolved resolvedPaths // absolute paths after ${VAR} expansion, filled by Validate
}

// CameraSpec is one camera: what it sees and where it stands.
type CameraSpec struct {
	ID         string          `yaml:"id" json:"id"`
	Width      int             `yaml:"width,omitempty" json:"width"`
	Height     int             `yaml:"height,omitempty" json:"height"`
	FPS        int             `yaml:"fps,omitempty" json:"fps"`
	Duration   float64         `yaml:"duration,omitempty" json:"duration"`
	Background BackgroundSpec  `yaml:"background" json:"background"`
	Position   *geo.LatLon     `yaml:"position,omitempty" json:"position,omitempty"`
	Neighbours []NeighbourSpec `yaml:"neighbours,omitempty" json:"neighbours,omitempty"`
}

// Background modes.
const (
	BackgroundLoop   = "loop"   // play the video's [from, to) range, looped
	BackgroundStill  = "still"  // one frame of the video at `from`
	BackgroundMedian = "median" // per-pixel median over [from, to): the scene with its passers-by removed
)

// BackgroundSpec is a real image or video the camera looks at. Crop (x, y, w, h in source pixels) and flip
// apply first, then the picture is scaled to cover the camera's frame and centred.
type BackgroundSpec struct {
	Image string  `yaml:"image,omitempty" json:"image,omitempty"`
	Video string  `yaml:"video,omitempty" json:"video,omitempty"`
	Mode  string  `yaml:"mode,omitempty" json:"mode,omitempty"`
	From  float64 `yaml:"from,omitempty" json:"from,omitempty"`
	To    float64 `yaml:"to,omitempty" json:"to,omitempty"`
	Crop  []int   `yaml:"crop,omitempty" json:"crop,omitempty"`
	Flip  bool    `yaml:"flip,omitempty" json:"flip,omitempty"`
}

// NeighbourSpec says a person leaving this camera can reach Camera after Transit[0] to Transit[1] seconds.
type NeighbourSpec struct {
	Camera  string     `yaml:"camera" json:"camera"`
	Transit [2]float64 `yaml:"transit" json:"transit"`
}

// PersonSpec is one real person. Photos are what the renderer composites; Enrol are other photos of the
// same person that a test puts on the watch list (never rendered, so recognition is honest). A person
// without Enrol photos is someone the system must never name.
type PersonSpec struct {
	ID       string      `yaml:"id" json:"id"`
	Name     string      `yaml:"name,omitempty" json:"name,omitempty"`
	Category string      `yaml:"category,omitempty" json:"category,omitempty"`
	Photos   []PhotoSpec `yaml:"photos" json:"photos"`
	Enrol    []string    `yaml:"enrol,omitempty" json:"enrol,omitempty"`
	SafeZone string      `yaml:"safe_zone,omitempty" json:"safe_zone,omitempty"`
	Clothes  ClothesSpec `yaml:"clothes,omitempty" json:"clothes,omitempty"`
}

// PhotoSpec is a photo of a person. Face (x, y, w, h in the photo's pixels) is found with OpenCV's frontal
// face cascade when not given. In YAML a photo is either a path or {path: ..., face: [x, y, w, h]}.
type PhotoSpec struct {
	Path string `yaml:"path" json:"path"`
	Face []int  `yaml:"face,omitempty" json:"face,omitempty"`
}

// UnmarshalYAML accepts the short form, a plain path.
func (p *PhotoSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		p.Path = n.Value
		return nil
	}
	if err := wholeNumbers(n, "face"); err != nil {
		return err
	}
	type plain PhotoSpec
	return n.Decode((*plain)(p))
}

// UnmarshalYAML refuses fractional pixel counts and frame rates, which YAML would silently truncate.
func (c *CameraSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := wholeNumbers(n, "width", "height", "fps"); err != nil {
		return err
	}
	type plain CameraSpec
	return n.Decode((*plain)(c))
}

// UnmarshalYAML refuses a fractional crop.
func (b *BackgroundSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := wholeNumbers(n, "crop"); err != nil {
		return err
	}
	type plain BackgroundSpec
	return n.Decode((*plain)(b))
}

// UnmarshalYAML refuses a fractional photo index.
func (w *WalkSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := wholeNumbers(n, "photo"); err != nil {
		return err
	}
	type plain WalkSpec
	return n.Decode((*plain)(w))
}

// wholeNumbers checks that the values of the given keys of mapping n (scalars or sequences of scalars)
// are integers: yaml.v3 decodes 0.5 into an int as 0 without a word.
func wholeNumbers(n *yaml.Node, keys ...string) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for _, want := range keys {
			if k.Value != want {
				continue
			}
			vals := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				vals = v.Content
			}
			for _, x := range vals {
				if x.Kind == yaml.ScalarNode && x.ShortTag() != "!!int" {
					return fmt.Errorf("line %d: %s: want a whole number, got %q", x.Line, want, x.Value)
				}
			}
		}
	}
	return nil
}

// ClothesSpec colours the body drawn below the portrait: "#rrggbb". Empty Top takes the colour of the
// clothes in the photo; empty Bottom a dark trouser colour. Pattern is plain, stripes or check.
type ClothesSpec struct {
	Top     string `yaml:"top,omitempty" json:"top,omitempty"`
	Bottom  string `yaml:"bottom,omitempty" json:"bottom,omitempty"`
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
}

// WalkSpec is one pass of a person through one camera. Path holds waypoints [x, y] (the point between the
// feet) or [x, y, h] (with the person's height there, for perspective); the person moves at constant
// speed along it unless Times gives the seconds after Start at which each waypoint is reached (repeat a
// waypoint to make the person stand). Height is the person's height in pixels where a waypoint does not
// say; Face the height of the face box at that height (default Height/7.5; real adults are nearer 1/8,
// and larger faces make the body look childlike to a person detector).
type WalkSpec struct {
	Person string      `yaml:"person" json:"person"`
	Camera string      `yaml:"camera" json:"camera"`
	Start  float64     `yaml:"start" json:"start"`
	End    float64     `yaml:"end" json:"end"`
	Path   [][]float64 `yaml:"path" json:"path"`
	Times  []float64   `yaml:"times,omitempty" json:"times,omitempty"`
	Height float64     `yaml:"height,omitempty" json:"height,omitempty"`
	Face   float64     `yaml:"face,omitempty" json:"face,omitempty"`
	Photo  int         `yaml:"photo,omitempty" json:"photo,omitempty"`
}

// ZoneSpec is a named area on the map, such as an at-risk person's safe zone: a polygon of [lat, lon].
type ZoneSpec struct {
	ID      string       `yaml:"id" json:"id"`
	Polygon [][2]float64 `yaml:"polygon" json:"polygon"`
}

// PatrolSpec is a patrol unit placed on the map for the alert and dispatch tests.
type PatrolSpec struct {
	ID       string     `yaml:"id" json:"id"`
	Position geo.LatLon `yaml:"position" json:"position"`
	Area     string     `yaml:"area,omitempty" json:"area,omitempty"`
}

// resolvedPaths holds absolute file names after ${VAR} expansion, in the spec's own order.
type resolvedPaths struct {
	backgrounds []string   // per camera
	photos      [][]string // per person, per photo
	enrol       [][]string // per person, per enrolment photo
}

// Defaults for fields a spec may leave out.
const (
	defaultWidth      = 1280
	defaultHeight     = 720
	defaultFPS        = 10
	defaultStart      = "2024-05-01T08:00:00Z"
	defaultFaceRatio  = 1.0 / 7.5
	maxSpecBytes      = 1 << 20
	maxFrameDimension = 3840
)

// LoadSpec reads and validates a scenario file. ${VAR} in paths expands from the environment, except that
// SNOWLIGHT_EVAL and SNOWLIGHT_MODELS fall back to ../shared/{eval,models} beside the repository when
// unset; relative paths resolve against the file's directory.
func LoadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open scenario spec: %w", err)
	}
	defer f.Close()
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("scenario spec %s: %w", path, err)
	}
	s, err := ParseSpec(f, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("scenario spec %s: %w", path, err)
	}
	return s, nil
}

// ParseSpec decodes and validates a spec. dir is where relative paths resolve; lookup expands ${VAR}
// (nil: the environment only). Unknown fields are errors, so a misspelt key never silently does nothing.
func ParseSpec(r io.Reader, dir string, lookup func(string) (string, bool)) (*Spec, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxSpecBytes {
		return nil, fmt.Errorf("spec larger than %d bytes", maxSpecBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty spec")
		}
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	s.dir, s.lookup = dir, lookup
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// StartTime is the wall-clock time of t=0.
func (s *Spec) StartTime() time.Time {
	t, err := time.Parse(time.RFC3339, s.Start)
	if err != nil { // Validate refused a bad value; an unvalidated spec gets the default
		t, _ = time.Parse(time.RFC3339, defaultStart)
	}
	return t
}

// Camera returns the camera with the given id, or nil.
func (s *Spec) Camera(id string) *CameraSpec {
	for i := range s.Cameras {
		if s.Cameras[i].ID == id {
			return &s.Cameras[i]
		}
	}
	return nil
}

// Person returns the person with the given id, or nil.
func (s *Spec) Person(id string) *PersonSpec {
	for i := range s.Persons {
		if s.Persons[i].ID == id {
			return &s.Persons[i]
		}
	}
	return nil
}

// EnrolPhotos returns the absolute paths of a person's enrolment photos (nil for a person not enrolled).
func (s *Spec) EnrolPhotos(personID string) []string {
	for i := range s.Persons {
		if s.Persons[i].ID == personID && i < len(s.resolved.enrol) {
			return append([]string(nil), s.resolved.enrol[i]...)
		}
	}
	return nil
}

// PhotoPaths returns the absolute paths of the photos rendered for a person.
func (s *Spec) PhotoPaths(personID string) []string {
	for i := range s.Persons {
		if s.Persons[i].ID == personID && i < len(s.resolved.photos) {
			return append([]string(nil), s.resolved.photos[i]...)
		}
	}
	return nil
}

// specErrors collects every problem in a spec, each naming its field, so one run reports them all.
type specErrors []string

func (e *specErrors) add(field, format string, args ...any) {
	*e = append(*e, field+": "+fmt.Sprintf(format, args...))
}

func (e specErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return fmt.Errorf("invalid scenario spec:\n  %s", strings.Join(e, "\n  "))
}

// Validate fills defaults, checks every field and resolves paths. The error lists each problem with the
// field it is in, e.g. "walks[2].camera: unknown camera "cam9"".
func (s *Spec) Validate() error {
	var errs specErrors
	if s.lookup == nil {
		s.lookup = os.LookupEnv
	}
	if s.Name == "" {
		errs.add("name", "required")
	} else if !validID(s.Name) {
		errs.add("name", "%q: use letters, digits, '-', '_' and '.'", s.Name)
	}
	if s.Start == "" {
		s.Start = defaultStart
	} else if _, err := time.Parse(time.RFC3339, s.Start); err != nil {
		errs.add("start", "%q is not an RFC 3339 time", s.Start)
	}
	if s.Duration < 0 || math.IsNaN(s.Duration) || s.Duration > 3600 {
		errs.add("duration", "must be between 0 and 3600 seconds, got %v", s.Duration)
	}
	s.validateCameras(&errs)
	s.validateZones(&errs)
	s.validatePersons(&errs)
	s.validateWalks(&errs)
	s.validatePatrols(&errs)
	return errs.err()
}

func (s *Spec) validateCameras(errs *specErrors) {
	if len(s.Cameras) == 0 {
		errs.add("cameras", "at least one camera is required")
	}
	seen := map[string]bool{}
	s.resolved.backgrounds = make([]string, len(s.Cameras))
	for i := range s.Cameras {
		c := &s.Cameras[i]
		f := fmt.Sprintf("cameras[%d]", i)
		switch {
		case c.ID == "":
			errs.add(f+".id", "required")
		case !validID(c.ID):
			errs.add(f+".id", "%q: use letters, digits, '-', '_' and '.'", c.ID)
		case seen[c.ID]:
			errs.add(f+".id", "duplicate camera %q", c.ID)
		}
		seen[c.ID] = true
		if c.Width == 0 {
			c.Width = defaultWidth
		}
		if c.Height == 0 {
			c.Height = defaultHeight
		}
		// H.264 in 4:2:0 needs even dimensions.
		if c.Width < 64 || c.Width > maxFrameDimension || c.Width%2 != 0 {
			errs.add(f+".width", "must be even and between 64 and %d, got %d", maxFrameDimension, c.Width)
		}
		if c.Height < 64 || c.Height > maxFrameDimension || c.Height%2 != 0 {
			errs.add(f+".height", "must be even and between 64 and %d, got %d", maxFrameDimension, c.Height)
		}
		if c.FPS == 0 {
			c.FPS = defaultFPS
		}
		if c.FPS < 1 || c.FPS > 60 {
			errs.add(f+".fps", "must be between 1 and 60, got %d", c.FPS)
		}
		if c.Duration == 0 {
			c.Duration = s.Duration
		}
		if !(c.Duration > 0 && c.Duration <= 3600) {
			errs.add(f+".duration", "must be between 0 and 3600 seconds (or set the spec's duration), got %v", c.Duration)
		}
		s.resolved.backgrounds[i] = s.validateBackground(errs, f+".background", &c.Background)
		if p := c.Position; p != nil {
			validLatLon(errs, f+".position", *p)
		}
	}
	for i := range s.Cameras {
		c := &s.Cameras[i]
		for j, n := range c.Neighbours {
			f := fmt.Sprintf("cameras[%d].neighbours[%d]", i, j)
			switch {
			case n.Camera == c.ID:
				errs.add(f+".camera", "a camera is not its own neighbour")
			case !seen[n.Camera]:
				errs.add(f+".camera", "unknown camera %q", n.Camera)
			}
			if !(n.Transit[0] >= 0 && n.Transit[1] >= n.Transit[0]) {
				errs.add(f+".transit", "want [min, max] seconds with 0 <= min <= max, got %v", n.Transit)
			}
		}
	}
}

func (s *Spec) validateBackground(errs *specErrors, f string, b *BackgroundSpec) string {
	var src string
	switch {
	case b.Image != "" && b.Video != "":
		errs.add(f, "set image or video, not both")
		return ""
	case b.Image != "":
		src = s.resolvePath(errs, f+".image", b.Image)
		if b.Mode != "" || b.From != 0 || b.To != 0 {
			errs.add(f, "mode, from and to apply to a video only")
		}
	case b.Video != "":
		src = s.resolvePath(errs, f+".video", b.Video)
		if b.Mode == "" {
			b.Mode = BackgroundLoop
		}
		switch b.Mode {
		case BackgroundLoop, BackgroundMedian:
			if !(b.From >= 0 && b.To > b.From) {
				errs.add(f+".to", "%s needs 0 <= from < to (seconds into the video), got from %v to %v", b.Mode, b.From, b.To)
			}
		case BackgroundStill:
			if !(b.From >= 0) {
				errs.add(f+".from", "must be >= 0, got %v", b.From)
			}
		default:
			errs.add(f+".mode", "%q: want %s, %s or %s", b.Mode, BackgroundLoop, BackgroundStill, BackgroundMedian)
		}
	default:
		errs.add(f, "an image or a video is required")
	}
	if b.Crop != nil && (len(b.Crop) != 4 || b.Crop[0] < 0 || b.Crop[1] < 0 || b.Crop[2] < 16 || b.Crop[3] < 16) {
		errs.add(f+".crop", "want [x, y, w, h] with x, y >= 0 and w, h >= 16, got %v", b.Crop)
	}
	return src
}

func (s *Spec) validateZones(errs *specErrors) {
	seen := map[string]bool{}
	for i, z := range s.Zones {
		f := fmt.Sprintf("zones[%d]", i)
		if z.ID == "" {
			errs.add(f+".id", "required")
		} else if seen[z.ID] {
			errs.add(f+".id", "duplicate zone %q", z.ID)
		}
		seen[z.ID] = true
		if len(z.Polygon) < 3 {
			errs.add(f+".polygon", "needs at least 3 [lat, lon] points, got %d", len(z.Polygon))
		}
		for j, p := range z.Polygon {
			validLatLon(errs, fmt.Sprintf("%s.polygon[%d]", f, j), geo.LatLon{Lat: p[0], Lon: p[1]})
		}
	}
}

func (s *Spec) validatePersons(errs *specErrors) {
	if len(s.Persons) == 0 {
		errs.add("persons", "at least one person is required")
	}
	seen := map[string]bool{}
	s.resolved.photos = make([][]string, len(s.Persons))
	s.resolved.enrol = make([][]string, len(s.Persons))
	for i := range s.Persons {
		p := &s.Persons[i]
		f := fmt.Sprintf("persons[%d]", i)
		switch {
		case p.ID == "":
			errs.add(f+".id", "required")
		case !validID(p.ID):
			errs.add(f+".id", "%q: use letters, digits, '-', '_' and '.'", p.ID)
		case seen[p.ID]:
			errs.add(f+".id", "duplicate person %q", p.ID)
		}
		seen[p.ID] = true
		if len(p.Photos) == 0 {
			errs.add(f+".photos", "at least one photo is required")
		}
		rendered := map[string]bool{}
		for j, ph := range p.Photos {
			pf := fmt.Sprintf("%s.photos[%d]", f, j)
			path := s.resolvePath(errs, pf, ph.Path)
			rendered[path] = true
			s.resolved.photos[i] = append(s.resolved.photos[i], path)
			if ph.Face != nil && (len(ph.Face) != 4 || ph.Face[0] < 0 || ph.Face[1] < 0 || ph.Face[2] < 16 || ph.Face[3] < 16) {
				errs.add(pf+".face", "want [x, y, w, h] with x, y >= 0 and w, h >= 16, got %v", ph.Face)
			}
		}
		for j, e := range p.Enrol {
			ef := fmt.Sprintf("%s.enrol[%d]", f, j)
			path := s.resolvePath(errs, ef, e)
			if path != "" && rendered[path] {
				errs.add(ef, "%s is also rendered: enrol a different photo so recognition is tested honestly", e)
			}
			s.resolved.enrol[i] = append(s.resolved.enrol[i], path)
		}
		// The category is kept as written (the spec's hash names its renders); consumers read it
		// with watchlist.ParseCategory.
		if p.Category == "" {
			if len(p.Enrol) > 0 {
				errs.add(f+".category", "an enrolled person needs a category (at_risk, missing or suspect)")
			}
		} else if _, err := watchlist.ParseCategory(p.Category); err != nil {
			errs.add(f+".category", "%v", err)
		} else if len(p.Enrol) == 0 {
			errs.add(f+".enrol", "a person in category %q must have enrolment photos", p.Category)
		}
		if p.SafeZone != "" && !s.hasZone(p.SafeZone) {
			errs.add(f+".safe_zone", "unknown zone %q", p.SafeZone)
		}
		for _, c := range []struct{ name, v string }{{"top", p.Clothes.Top}, {"bottom", p.Clothes.Bottom}} {
			if _, err := parseHexColour(c.v); c.v != "" && err != nil {
				errs.add(f+".clothes."+c.name, "%v", err)
			}
		}
		switch p.Clothes.Pattern {
		case "", patternPlain, patternStripes, patternCheck:
		default:
			errs.add(f+".clothes.pattern", "%q: want %s, %s or %s", p.Clothes.Pattern, patternPlain, patternStripes, patternCheck)
		}
	}
}

func (s *Spec) hasZone(id string) bool {
	for _, z := range s.Zones {
		if z.ID == id {
			return true
		}
	}
	return false
}

func (s *Spec) validateWalks(errs *specErrors) {
	for i := range s.Walks {
		w := &s.Walks[i]
		f := fmt.Sprintf("walks[%d]", i)
		p := s.Person(w.Person)
		if p == nil {
			errs.add(f+".person", "unknown person %q", w.Person)
		} else if w.Photo < 0 || w.Photo >= len(p.Photos) {
			errs.add(f+".photo", "person %q has %d photos, index %d", w.Person, len(p.Photos), w.Photo)
		}
		c := s.Camera(w.Camera)
		if c == nil {
			errs.add(f+".camera", "unknown camera %q", w.Camera)
		}
		if !(w.Start >= 0) {
			errs.add(f+".start", "must be >= 0, got %v", w.Start)
		}
		if !(w.End > w.Start) {
			errs.add(f+".end", "must be after start (%v), got %v", w.Start, w.End)
		} else if c != nil && c.Duration > 0 && w.End > c.Duration {
			errs.add(f+".end", "%v is after the end of camera %q's video (%v s)", w.End, c.ID, c.Duration)
		}
		if len(w.Path) == 0 {
			errs.add(f+".path", "at least one waypoint [x, y] is required")
		}
		for j, wp := range w.Path {
			pf := fmt.Sprintf("%s.path[%d]", f, j)
			if len(wp) != 2 && len(wp) != 3 {
				errs.add(pf, "want [x, y] or [x, y, height], got %d numbers", len(wp))
				continue
			}
			if c != nil && c.Width > 0 && c.Height > 0 {
				// Off-screen waypoints let people walk in and out of view, but not from anywhere.
				if !(wp[0] >= -float64(c.Width) && wp[0] <= 2*float64(c.Width) && wp[1] >= -float64(c.Height) && wp[1] <= 2*float64(c.Height)) {
					errs.add(pf, "(%v, %v) is more than a frame away from camera %q's %dx%d image", wp[0], wp[1], c.ID, c.Width, c.Height)
				}
			}
			if len(wp) == 3 && !(wp[2] >= 16) {
				errs.add(pf, "height must be at least 16 px, got %v", wp[2])
			}
		}
		needHeight := false
		for _, wp := range w.Path {
			needHeight = needHeight || len(wp) == 2
		}
		if w.Height == 0 && needHeight {
			errs.add(f+".height", "required unless every waypoint gives its height")
		} else if w.Height != 0 && !(w.Height >= 16) {
			errs.add(f+".height", "must be at least 16 px, got %v", w.Height)
		}
		ref := w.refHeight()
		if w.Face == 0 {
			w.Face = math.Round(ref * defaultFaceRatio)
		}
		if ref > 0 && !(w.Face >= 8 && w.Face <= ref/4) {
			errs.add(f+".face", "must be between 8 px and a quarter of the height (%v px), got %v", ref/4, w.Face)
		}
		if w.Times != nil {
			if len(w.Times) != len(w.Path) || len(w.Times) == 0 {
				errs.add(f+".times", "has %d entries for %d waypoints", len(w.Times), len(w.Path))
			} else {
				for j, t := range w.Times {
					switch {
					case j == 0 && t != 0:
						errs.add(f+".times[0]", "must be 0 (the walk's start), got %v", t)
					case j > 0 && !(t >= w.Times[j-1]):
						errs.add(fmt.Sprintf("%s.times[%d]", f, j), "must not be before the previous waypoint's time")
					}
				}
				if last := w.Times[len(w.Times)-1]; math.Abs(last-(w.End-w.Start)) > 1e-6 {
					errs.add(f+".times", "the last waypoint's time must be end - start = %v, got %v", w.End-w.Start, last)
				}
			}
		}
	}
}

func (s *Spec) validatePatrols(errs *specErrors) {
	seen := map[string]bool{}
	for i, p := range s.Patrols {
		f := fmt.Sprintf("patrols[%d]", i)
		if p.ID == "" {
			errs.add(f+".id", "required")
		} else if seen[p.ID] {
			errs.add(f+".id", "duplicate patrol %q", p.ID)
		}
		seen[p.ID] = true
		validLatLon(errs, f+".position", p.Position)
	}
}

// refHeight is the height the walk's Face refers to: Height, or the first waypoint's.
func (w *WalkSpec) refHeight() float64 {
	if w.Height > 0 {
		return w.Height
	}
	if len(w.Path) > 0 && len(w.Path[0]) == 3 {
		return w.Path[0][2]
	}
	return 0
}

func validLatLon(errs *specErrors, f string, p geo.LatLon) {
	if !(p.Lat >= -90 && p.Lat <= 90) {
		errs.add(f+".lat", "must be between -90 and 90, got %v", p.Lat)
	}
	if !(p.Lon >= -180 && p.Lon <= 180) {
		errs.add(f+".lon", "must be between -180 and 180, got %v", p.Lon)
	}
}

func validID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return id != "." && id != ".."
}

// resolvePath expands ${VAR} and makes the path absolute; the file must exist.
func (s *Spec) resolvePath(errs *specErrors, field, p string) string {
	if p == "" {
		errs.add(field, "path required")
		return ""
	}
	var missing []string
	expanded := os.Expand(p, func(name string) string {
		v, ok := s.lookup(name)
		if !ok || v == "" {
			v, ok = scenarioDataFallback(name)
		}
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		errs.add(field, "%s: ${%s} is not set", p, strings.Join(missing, "}, ${"))
		return ""
	}
	if !filepath.IsAbs(expanded) {
		expanded = filepath.Join(s.dir, expanded)
	}
	st, err := os.Stat(expanded)
	switch {
	case err != nil:
		errs.add(field, "%v", err)
		return ""
	case !st.Mode().IsRegular():
		errs.add(field, "%s is not a regular file", expanded)
		return ""
	}
	return expanded
}

// scenarioDataFallback finds ../shared/{eval,models} beside the repository, as the Makefile and the tests
// do, for SNOWLIGHT_EVAL and SNOWLIGHT_MODELS when they are unset.
func scenarioDataFallback(name string) (string, bool) {
	sub := map[string]string{"SNOWLIGHT_EVAL": "eval", "SNOWLIGHT_MODELS": "models"}[name]
	if sub == "" {
		return "", false
	}
	root, ok := genRepoRoot()
	if !ok {
		return "", false
	}
	d := filepath.Join(filepath.Dir(root), "shared", sub)
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", false
	}
	return d, true
}
