// Package export writes a case's evidence bundle: a trajectory's sightings (body and face views),
// the alerts that name them (scene snapshot and clip), the trajectory as JSON and as a map picture, the
// case's audit entries, and what redaction did, signed with casebundle. Every picture and clip passes
// through redaction first: the faces a detector finds outside the subject's tracked box are hidden, so a
// bundle handed over shows bystanders to nobody. Originals in the object store are never changed.
package export

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"snowlight/alerts"
	"snowlight/audit"
	"snowlight/casebundle"
	"snowlight/geo"
	"snowlight/objstore"
	"snowlight/redact"
	"snowlight/tracks"
)

// Store is what an export reads from the database (*store.DB implements it).
type Store interface {
	Sighting(ctx context.Context, id string) (tracks.Sighting, error)
	AlertsNaming(ctx context.Context, sightings []string) ([]alerts.Alert, error)
	AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// FaceFinder finds the faces in a BGR picture. Give it an eager detector (YuNet at score 0.5 with no
// second opinion): a face it misses stays in the bundle.
type FaceFinder func(img gocv.Mat) ([]image.Rectangle, error)

// Camera is a camera as the bundle names and places it.
type Camera struct {
	ID, Name string
	Lat, Lon float64
	HasPos   bool
}

// Options are an exporter's parts.
type Options struct {
	Store   Store
	Objects objstore.Store
	Faces   FaceFinder
	Key     ed25519.PrivateKey
	Cameras []Camera
	// TempDir holds a clip while it is re-encoded (os.TempDir() when empty).
	TempDir string
	Log     *slog.Logger
}

// Request is one export: for which case and why, by whom, and the trajectories of its subject.
type Request struct {
	Case, Reason, CreatedBy string
	// Subject names what the case follows, as the manifest records it: "person/<id>" or
	// "sighting/<id>".
	Subject      string
	From, To     time.Time
	Created      time.Time
	Trajectories []tracks.Trajectory
}

// Redaction says what redaction did to one file of the bundle.
type Redaction struct {
	File string `json:"file"`
	// Faces the detector found, Hidden of them covered (the rest are the subject's); for a clip,
	// summed over its frames.
	Faces  int `json:"faces"`
	Hidden int `json:"hidden"`
	Frames int `json:"frames,omitempty"`
}

// Result is what Write wrote.
type Result struct {
	Manifest  casebundle.Manifest
	Redaction []Redaction
}

// Write writes the bundle of req to w.
func Write(ctx context.Context, o Options, req Request, w io.Writer) (Result, error) {
	if o.Store == nil || o.Objects == nil || o.Faces == nil || o.Key == nil {
		return Result{}, errors.New("export: Store, Objects, Faces and Key are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	x := &exporter{o: o, req: req, cams: map[string]Camera{},
		bw: casebundle.NewWriter(w, casebundle.Meta{Case: req.Case, Reason: req.Reason, Subject: req.Subject,
			CreatedBy: req.CreatedBy, Created: req.Created})}
	for _, c := range o.Cameras {
		x.cams[c.ID] = c
	}
	if err := x.write(ctx); err != nil {
		return Result{}, fmt.Errorf("export case %s: %w", req.Case, err)
	}
	m, err := x.bw.Close(o.Key)
	if err != nil {
		return Result{}, fmt.Errorf("export case %s: %w", req.Case, err)
	}
	return Result{Manifest: m, Redaction: x.redaction}, nil
}

type exporter struct {
	o         Options
	req       Request
	cams      map[string]Camera
	bw        *casebundle.Writer
	sightings []tracks.Sighting // of the subject, by enter time
	redaction []Redaction
}

// trajectoryFile is trajectory.json: the subject's path with the names of the files showing it.
type trajectoryFile struct {
	Case      string         `json:"case"`
	Subject   string         `json:"subject"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Sightings []sightingFile `json:"sightings"`
	Alerts    []alertFile    `json:"alerts"`
}

type sightingFile struct {
	ID         string    `json:"id"`
	Trajectory string    `json:"trajectory"`
	Camera     string    `json:"camera"`
	CameraName string    `json:"camera_name,omitempty"`
	Lat        float64   `json:"lat,omitempty"`
	Lon        float64   `json:"lon,omitempty"`
	Enter      time.Time `json:"enter"`
	Exit       time.Time `json:"exit"`
	PersonID   string    `json:"person_id,omitempty"`
	// Confidence is the link's to the sighting before (0 for a trajectory's first).
	Confidence float64 `json:"confidence"`
	Colours    string  `json:"colours,omitempty"`
	Body       string  `json:"body,omitempty"`
	Face       string  `json:"face,omitempty"`
}

type alertFile struct {
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	Status    string    `json:"status"`
	Camera    string    `json:"camera"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Sightings []string  `json:"sightings"`
	Snapshot  string    `json:"snapshot,omitempty"`
	Clip      string    `json:"clip,omitempty"`
	ClipStart time.Time `json:"clip_start,omitzero"`
	ClipEnd   time.Time `json:"clip_end,omitzero"`
	// ClipParts are the window's further clips, cut by other edges where the camera moved within it;
	// ClipLost the parts no clip covers, and why: the bundle says where its evidence is incomplete.
	ClipParts []clipPartFile `json:"clip_parts,omitempty"`
	ClipLost  []alerts.Gap   `json:"clip_lost,omitempty"`
}

// clipPartFile is one further clip of an alert's window in the bundle.
type clipPartFile struct {
	File  string    `json:"file"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func (x *exporter) write(ctx context.Context) error {
	tf := trajectoryFile{Case: x.req.Case, Subject: x.req.Subject, From: x.req.From, To: x.req.To,
		Sightings: []sightingFile{}, Alerts: []alertFile{}}
	var steps []tracks.Step
	for _, t := range x.req.Trajectories {
		steps = append(steps, t.Steps...)
	}
	slices.SortStableFunc(steps, func(a, b tracks.Step) int { return a.Enter.Compare(b.Enter) })
	var ids []string
	for i, st := range steps {
		s, err := x.o.Store.Sighting(ctx, st.Sighting)
		if err != nil {
			return fmt.Errorf("sighting %s: %w", st.Sighting, err)
		}
		x.sightings = append(x.sightings, s)
		ids = append(ids, s.ID)
		sf := sightingFile{ID: s.ID, Trajectory: st.Trajectory, Camera: s.Camera, CameraName: x.cams[s.Camera].Name,
			Enter: s.Enter, Exit: s.Exit, PersonID: s.PersonID()}
		if st.HasPos {
			sf.Lat, sf.Lon = st.Lat, st.Lon
		}
		if st.Link != nil {
			sf.Confidence = st.Link.Confidence
		}
		if !s.Colours.IsZero() {
			sf.Colours = s.Colours.String()
		}
		base := fmt.Sprintf("sightings/%03d-%s", i+1, fileSafe(s.ID))
		// The body view holds the subject whole: a face is theirs when its centre is in the box the
		// crop was cut around (the crop adds a margin of a twentieth on each side).
		if s.Body != nil && s.Body.Ref != "" {
			sf.Body = base + "-body.jpg"
			if err := x.picture(ctx, s.Body.Ref, sf.Body, innerBox(1.0/22)); err != nil {
				return err
			}
		}
		if s.Face != nil && s.Face.Ref != "" {
			sf.Face = base + "-face.jpg"
			if err := x.picture(ctx, s.Face.Ref, sf.Face, innerBox(0.3/1.6)); err != nil {
				return err
			}
		}
		tf.Sightings = append(tf.Sightings, sf)
	}
	as, err := x.o.Store.AlertsNaming(ctx, ids)
	if err != nil {
		return err
	}
	for _, a := range as {
		af := alertFile{ID: a.ID, Rule: string(a.Kind), Status: string(a.Status), Camera: a.Place.Camera, FirstSeen: a.FirstSeen,
			LastSeen: a.LastSeen, Sightings: a.Evidence.Sightings, ClipStart: a.Evidence.ClipStart, ClipEnd: a.Evidence.ClipEnd,
			ClipLost: a.Evidence.ClipLost}
		base := "alerts/" + fileSafe(a.ID)
		// The snapshot is the frame at the alert's first sighting, and the clip begins there.
		camera := cmp.Or(a.FirstPlace.Camera, a.Place.Camera)
		if a.Evidence.Snapshot != "" {
			af.Snapshot = base + "-snapshot.jpg"
			keep := func(b image.Rectangle) []image.Rectangle { return x.subjectAt(camera, a.FirstSeen, b) }
			if err := x.picture(ctx, a.Evidence.Snapshot, af.Snapshot, keep); err != nil {
				return err
			}
		}
		if a.Evidence.Clip != "" && !a.Evidence.ClipStart.IsZero() {
			af.Clip = base + "-clip.mp4"
			if err := x.clip(ctx, a.Evidence.Clip, af.Clip, camera, a.Evidence.ClipStart); err != nil {
				return err
			}
		}
		for i, p := range a.Evidence.ClipParts {
			part := clipPartFile{File: fmt.Sprintf("%s-clip-%d.mp4", base, i+2), Start: p.Start, End: p.End}
			if err := x.clip(ctx, p.Key, part.File, camera, p.Start); err != nil {
				return err
			}
			af.ClipParts = append(af.ClipParts, part)
		}
		tf.Alerts = append(tf.Alerts, af)
	}
	if err := x.json("trajectory.json", tf); err != nil {
		return err
	}
	if err := x.mapPicture(steps); err != nil {
		return err
	}
	entries, err := x.auditEntries(ctx)
	if err != nil {
		return err
	}
	if err := x.json("audit.json", entries); err != nil {
		return err
	}
	return x.json("redaction.json", x.redaction)
}

// innerBox is the subject's box in a crop cut around it with a margin of share of the crop on each
// side.
func innerBox(share float64) func(image.Rectangle) []image.Rectangle {
	return func(b image.Rectangle) []image.Rectangle {
		mx, my := int(share*float64(b.Dx())), int(share*float64(b.Dy()))
		return []image.Rectangle{image.Rect(b.Min.X+mx, b.Min.Y+my, b.Max.X-mx, b.Max.Y-my)}
	}
}

// subjectAt is the subject's tracked body box on camera at t (nil when they were not in view then);
// bounds is the frame, which the box is clipped to.
func (x *exporter) subjectAt(camera string, t time.Time, bounds image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, s := range x.sightings {
		if s.Camera != camera {
			continue
		}
		if b, ok := boxAt(s, t); ok {
			out = append(out, image.Rect(int(b.X), int(b.Y), int(b.X+b.W+0.5), int(b.Y+b.H+0.5)).Intersect(bounds))
		}
	}
	return out
}

// boxTolerance is how far outside a sighting's boxes a moment still gets the nearest box: the boxes
// are thinned, and a frame's time is the camera's, to a frame or two.
const boxTolerance = 500 * time.Millisecond

// boxAt is the sighting's box at t: interpolated between the two boxes around it, or the nearest one
// within boxTolerance of the sighting's first or last.
func boxAt(s tracks.Sighting, t time.Time) (tracks.Box, bool) {
	bs := s.Boxes
	if len(bs) == 0 || t.Before(bs[0].Time.Add(-boxTolerance)) || t.After(bs[len(bs)-1].Time.Add(boxTolerance)) {
		return tracks.Box{}, false
	}
	i, _ := slices.BinarySearchFunc(bs, t, func(b tracks.TimedBox, t time.Time) int { return b.Time.Compare(t) })
	switch {
	case i == 0:
		return bs[0].Box, true
	case i == len(bs):
		return bs[len(bs)-1].Box, true
	}
	a, b := bs[i-1], bs[i]
	f := float64(t.Sub(a.Time)) / float64(max(b.Time.Sub(a.Time), 1))
	lerp := func(p, q float64) float64 { return p + f*(q-p) }
	return tracks.Box{X: lerp(a.Box.X, b.Box.X), Y: lerp(a.Box.Y, b.Box.Y), W: lerp(a.Box.W, b.Box.W), H: lerp(a.Box.H, b.Box.H)}, true
}

// picture adds a redacted copy of the JPEG at key: keep gives the subject's boxes for the picture's
// bounds.
func (x *exporter) picture(ctx context.Context, key, name string, keep func(image.Rectangle) []image.Rectangle) error {
	var data bytes.Buffer
	if err := x.fetch(ctx, key, &data); err != nil {
		return err
	}
	img, err := gocv.IMDecode(data.Bytes(), gocv.IMReadColor)
	if err != nil || img.Empty() {
		img.Close()
		return fmt.Errorf("%s: not a picture (%v)", key, err)
	}
	defer img.Close()
	faces, err := x.o.Faces(img)
	if err != nil {
		return fmt.Errorf("%s: find faces: %w", key, err)
	}
	hide := redact.Faces(faces, keep(image.Rect(0, 0, img.Cols(), img.Rows())))
	if err := redact.Hide(&img, hide); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, []int{gocv.IMWriteJpegQuality, 92})
	if err != nil {
		return fmt.Errorf("%s: encode: %w", key, err)
	}
	defer buf.Close()
	x.redaction = append(x.redaction, Redaction{File: name, Faces: len(faces), Hidden: len(hide)})
	return x.bw.Add(name, bytes.NewReader(buf.GetBytes()))
}

// clip adds a redacted re-encoding of the clip at key, which began at start on camera.
func (x *exporter) clip(ctx context.Context, key, name, camera string, start time.Time) error {
	dir, err := os.MkdirTemp(x.o.TempDir, "export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in.mp4"), filepath.Join(dir, "out.mp4")
	// The clip goes straight to the file ffmpeg reads, never whole into memory.
	if err := x.download(ctx, key, in); err != nil {
		return err
	}
	var faces int
	st, err := redact.Clip(ctx, in, out, func(_ context.Context, frame gocv.Mat, pts time.Duration) ([]image.Rectangle, error) {
		found, err := x.o.Faces(frame)
		if err != nil {
			return nil, err
		}
		faces += len(found)
		return redact.Faces(found, x.subjectAt(camera, start.Add(pts), image.Rect(0, 0, frame.Cols(), frame.Rows()))), nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	defer f.Close()
	x.redaction = append(x.redaction, Redaction{File: name, Faces: faces, Hidden: st.Hidden, Frames: st.Frames})
	return x.bw.Add(name, f)
}

// maxObject bounds an evidence object an export reads: clips are seconds of camera video.
const maxObject = 512 << 20

// fetch copies the object at key to w, refusing one larger than maxObject (by its recorded size, and
// by what it turns out to hold when that is wrong).
func (x *exporter) fetch(ctx context.Context, key string, w io.Writer) error {
	r, info, err := x.o.Objects.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	if info.Size > maxObject {
		return fmt.Errorf("read %s: %d bytes is more than an export takes", key, info.Size)
	}
	n, err := io.Copy(w, io.LimitReader(r, maxObject+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if n > maxObject {
		return fmt.Errorf("read %s: more than the %d bytes an export takes", key, maxObject)
	}
	return nil
}

// download writes the object at key to the new file path.
func (x *exporter) download(ctx context.Context, key, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := x.fetch(ctx, key, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (x *exporter) json(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return x.bw.Add(name, bytes.NewReader(append(b, '\n')))
}

// mapPicture draws the route through the positions of the steps, over every camera with a position.
func (x *exporter) mapPicture(steps []tracks.Step) error {
	var route []geo.LatLon
	var seen []string
	for _, st := range steps {
		if st.HasPos {
			route = append(route, geo.LatLon{Lat: st.Lat, Lon: st.Lon})
			seen = append(seen, st.Camera)
		}
	}
	var cams []casebundle.MapCamera
	for _, c := range x.o.Cameras {
		if c.HasPos {
			cams = append(cams, casebundle.MapCamera{ID: c.ID, Pos: geo.LatLon{Lat: c.Lat, Lon: c.Lon}})
		}
	}
	if len(route) == 0 && len(cams) == 0 {
		return nil // nothing has a position: no map
	}
	png, err := casebundle.MapPNG(route, cams, seen, casebundle.MapOptions{})
	if err != nil {
		return err
	}
	return x.bw.Add("map.png", bytes.NewReader(png))
}

// auditEntries are every entry recorded under the case, oldest first, with their seals, so the bundle
// shows who asked what and why (this export's request included).
func (x *exporter) auditEntries(ctx context.Context) ([]audit.Entry, error) {
	out := []audit.Entry{}
	f := audit.Filter{Case: x.req.Case, Limit: 1000}
	for {
		page, err := x.o.Store.AuditEntries(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("audit entries of the case: %w", err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// fileSafe keeps the characters a file name inside the bundle may have.
func fileSafe(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, id)
}
