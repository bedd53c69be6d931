package rules_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"gocv.io/x/gocv"

	"snowlight/alerts"
	"snowlight/alerts/rules"
	"snowlight/camevent"
	"snowlight/detect/tamper"
	"snowlight/geo"
	"snowlight/ingest"
	"snowlight/objstore"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// t0 is 10:00 UTC on Saturday 1 March 2025.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

const mPerDegLat = 6371008.8 * 3.141592653589793 / 180

// The district of these tests. Mia's safe zone is a 1.1 km square around cam-home; cam-far is 1 km
// and cam-far2 2 km north of it. cam-atm has a 2-minute loitering zone; cam-school a gate zone
// whose loitering rule is active only at night (Vienna time).
var (
	homeZone = []geo.LatLon{{Lat: 48.195, Lon: 16.3625}, {Lat: 48.195, Lon: 16.3775}, {Lat: 48.205, Lon: 16.3775}, {Lat: 48.205, Lon: 16.3625}}
	gate     = [][2]float64{{300, 400}, {700, 400}, {700, 720}, {300, 720}}
	cameras  = []rules.Camera{
		{ID: "cam-home", Name: "Home St", Position: geo.LatLon{Lat: 48.2, Lon: 16.37}, Area: "home"},
		{ID: "cam-far", Name: "Far Sq", Position: geo.LatLon{Lat: 48.205 + 1000/mPerDegLat, Lon: 16.37}, Area: "north"},
		{ID: "cam-far2", Name: "Farther Rd", Position: geo.LatLon{Lat: 48.205 + 2000/mPerDegLat, Lon: 16.37}, Area: "north"},
		{ID: "cam-market", Name: "Market", Position: geo.LatLon{Lat: 48.21, Lon: 16.36}, Area: "market"},
		{ID: "cam-atm", Name: "Bank", Position: geo.LatLon{Lat: 48.21, Lon: 16.38}, Zones: []rules.Zone{{ID: "atm", Polygon: gate, Dwell: 2 * time.Minute}}},
		{ID: "cam-school", Name: "School gate", Position: geo.LatLon{Lat: 48.19, Lon: 16.36}, Zones: []rules.Zone{{ID: "gate", Polygon: gate, Dwell: 2 * time.Minute}}},
	}
)

// clock is the simulated wall time, shared by the alert engine and the rules.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
}

// fixture is the center side of the system for one test: a SQLite store in a temp file, a local
// object store for snapshots, the alert engine and the rules.
type fixture struct {
	db    *store.DB
	objs  *objstore.Dir
	eng   *alerts.Engine
	rules *rules.Engine
	clock *clock

	mu     sync.Mutex
	stored map[[32]byte]string // snapshot content -> object key
}

func newFixture(t *testing.T, rs ...rules.Rule) *fixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	objs, err := objstore.OpenDir(filepath.Join(dir, "objects"), objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, objs: objs, clock: &clock{t: t0}, stored: map[[32]byte]string{}}
	f.eng, err = alerts.NewEngine(db, nil, alerts.Options{Cooldown: 10 * time.Minute, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	vienna, err := time.LoadLocation("Europe/Vienna")
	if err != nil {
		t.Fatal(err)
	}
	f.rules, err = rules.New(rules.Options{Alerts: f.eng, Persons: db, Cameras: cameras, Rules: rs, Location: vienna, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The watch list, as enrolment writes it.
	for _, p := range []watchlist.Person{
		{ID: "p-rex", Name: "Rex Noor", Category: watchlist.Suspect, Expires: t0.Add(30 * 24 * time.Hour)},
		{ID: "p-mia", Name: "Mia Berg", Category: watchlist.AtRisk, SafeZone: homeZone, GuardianContact: "guardian-mia"},
		{ID: "p-old", Name: "Old Entry", Category: watchlist.Suspect, Expires: t0.Add(-time.Hour)},
	} {
		p.Enrolled = t0.Add(-24 * time.Hour)
		p.Embeddings = [][]float32{{0.6, 0.8}}
		if err := db.Watchlist().Add(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// crops encodes small JPEGs whose content differs per camera, pass and frame, as the perception
// stage's crops of different frames would.
type crops struct{ seed string }

func (c crops) jpeg(kind string) ([]byte, error) {
	h := sha256.Sum256([]byte(c.seed + kind))
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = h[i%len(h)]
	}
	img.Set(0, 0, color.RGBA{h[0], h[1], h[2], 255})
	var b bytes.Buffer
	err := jpeg.Encode(&b, img, nil)
	return b.Bytes(), err
}
func (c crops) FaceJPEG() ([]byte, error) { return c.jpeg("face") }
func (c crops) BodyJPEG() ([]byte, error) { return c.jpeg("body") }

// store does what the pipeline's center does before the rules see a sighting: snapshots go to the
// object store and the sighting keeps their keys.
func (f *fixture) store(t *testing.T, s tracks.Sighting) tracks.Sighting {
	t.Helper()
	for kind, snap := range map[string]*tracks.Snapshot{"face": s.Face, "body": s.Body} {
		if snap == nil || len(snap.JPEG) == 0 {
			continue
		}
		sum := sha256.Sum256(snap.JPEG)
		f.mu.Lock()
		key, ok := f.stored[sum]
		f.mu.Unlock()
		if !ok {
			info, err := objstore.PutContent(t.Context(), f.objs, kind, "jpg", snap.JPEG, "image/jpeg", objstore.Meta{Camera: s.Camera, Start: snap.Time})
			if err != nil {
				t.Fatal(err)
			}
			key = info.Key
			f.mu.Lock()
			f.stored[sum] = key
			f.mu.Unlock()
		}
		snap.Ref, snap.JPEG = key, nil
	}
	return s
}

// walker is one person in front of a camera: where their box is at frame i, and the watch-list
// match their face gives (nil: no face).
type walker struct {
	box   func(i int) tracks.Box
	match *tracks.FaceMatch
}

func walking(y float64) func(int) tracks.Box {
	return func(i int) tracks.Box { return tracks.Box{X: 100 + 6*float64(i), Y: y, W: 80, H: 200} }
}

// standing in the gate zone (feet at y 650), with a little jitter.
func standing(i int) tracks.Box {
	return tracks.Box{X: 460 + float64(i%3), Y: 450 + float64(i%2), W: 80, H: 200}
}

// pass runs a real tracker for camera cam over frames at fps from start, hands every live sighting
// to the rules as the pipeline's interim updates do, then lets the track end and hands over the
// final sighting. It returns the final sighting and the times at which raises happened, with
// whether the sighting was still live.
func (f *fixture) pass(t *testing.T, tr *tracks.Tracker, cam string, start time.Time, frames int, fps float64, w walker) (tracks.Sighting, []raise) {
	t.Helper()
	ctx := t.Context()
	var raises []raise
	step := time.Duration(float64(time.Second) / fps)
	handle := func(s tracks.Sighting, at time.Time) {
		f.clock.Set(at)
		as, err := f.rules.Sighting(ctx, f.store(t, s))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			raises = append(raises, raise{at: at, live: !s.Final, alert: a})
		}
	}
	for i := 0; i < frames; i++ {
		at := start.Add(time.Duration(i) * step)
		d := tracks.Detection{Box: w.box(i), Score: 0.9, Crops: crops{fmt.Sprintf("%s/%v/%d", cam, start, i)}}
		if w.match != nil {
			b := w.box(i)
			m := *w.match
			m.Similarity += 0.02 * float64(i%3) // faces vary from frame to frame
			d.Face = &tracks.Face{Box: tracks.Box{X: b.X + 25, Y: b.Y + 10, W: 30, H: 30}, Score: 0.9, Quality: float64(i%7) + 1,
				Embedding: []float32{0.6, 0.8}, Matches: []tracks.FaceMatch{m}}
		}
		for _, tk := range tr.Update(at, []tracks.Detection{d}) {
			if s, ok := tr.Live(tk.ID); ok {
				handle(s, at)
			}
		}
	}
	// The person leaves: empty frames until the track ends.
	end := start.Add(time.Duration(frames) * step)
	var final []tracks.Sighting
	for k := 0; len(final) == 0 && k < 50; k++ {
		tr.Update(end.Add(time.Duration(k)*step), nil)
		final = tr.Sightings()
	}
	if len(final) != 1 {
		t.Fatalf("pass at %s: %d final sightings", cam, len(final))
	}
	handle(final[0], end)
	return final[0], raises
}

type raise struct {
	at    time.Time
	live  bool
	alert alerts.Alert
}

func newTracker(t *testing.T, cam string) *tracks.Tracker {
	t.Helper()
	cfg := tracks.DefaultConfig()
	cfg.Camera = cam
	tr, err := tracks.NewTracker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func (f *fixture) alerts(t *testing.T, kind alerts.Kind) []alerts.Alert {
	t.Helper()
	as, err := f.eng.Alerts(t.Context(), alerts.Query{Kinds: []alerts.Kind{kind}})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func (f *fixture) only(t *testing.T, kind alerts.Kind) alerts.Alert {
	t.Helper()
	as := f.alerts(t, kind)
	if len(as) != 1 {
		t.Fatalf("%d %s alerts, want 1: %+v", len(as), kind, as)
	}
	a, err := f.eng.Alert(t.Context(), as[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	as, err := f.eng.Alerts(t.Context(), alerts.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

var rexMatch = &tracks.FaceMatch{PersonID: "p-rex", Similarity: 0.62, Threshold: 0.5}

// TestWatchlistHitFolds: a suspect passes the market camera three times within the cooldown. The
// first pass opens one watch-list alert while he is still in view; each later pass folds into it,
// adding its sighting and face crop, so the evidence grows and nothing is duplicated. An expired
// entry seen the same way raises nothing.
func TestWatchlistHitFolds(t *testing.T) {
	f := newFixture(t)
	tr := newTracker(t, "cam-market")
	var ids []string
	for n := range 3 {
		start := t0.Add(time.Duration(n) * 2 * time.Minute)
		s, raises := f.pass(t, tr, "cam-market", start, 40, 5, walker{box: walking(300), match: rexMatch})
		ids = append(ids, s.ID)
		if len(raises) == 0 || !raises[0].live {
			t.Fatalf("pass %d: raises %+v: the first must come from a live sighting", n, raises)
		}
		// Once when the identity is reached, at most once more as the evidence improves, and once
		// at the end: no flood from the 40 live updates.
		if len(raises) > 3 {
			t.Errorf("pass %d: %d raises", n, len(raises))
		}
		if first := raises[0]; first.at.Sub(start) > 2*time.Second {
			t.Errorf("pass %d: first raise %v after the person appeared", n, first.at.Sub(start))
		}
		a := f.only(t, alerts.WatchlistHit)
		if a.Person == nil || a.Person.ID != "p-rex" || a.Person.Category != "suspect" || a.Priority != alerts.Critical {
			t.Fatalf("pass %d: alert %+v", n, a)
		}
		if got := a.Evidence.Sightings; len(got) != n+1 || got[n] != s.ID {
			t.Errorf("pass %d: evidence sightings %v, want %v", n, got, ids)
		}
		if len(a.Evidence.FaceCrops) < n+1 || len(a.Evidence.Scores) != len(a.Evidence.FaceCrops) {
			t.Errorf("pass %d: face crops %v scores %v", n, a.Evidence.FaceCrops, a.Evidence.Scores)
		}
		for i, k := range a.Evidence.FaceCrops {
			if _, err := f.objs.Stat(t.Context(), k); err != nil || !strings.HasPrefix(k, "face/") {
				t.Errorf("face crop %s: %v", k, err)
			}
			if a.Evidence.Scores[i] < 0.6 {
				t.Errorf("face crop %s: score %v", k, a.Evidence.Scores[i])
			}
		}
		if !strings.HasPrefix(a.Evidence.Snapshot, "body/") || a.Place.Camera != "cam-market" || a.Place.CameraName != "Market" {
			t.Errorf("pass %d: snapshot %q place %+v", n, a.Evidence.Snapshot, a.Place)
		}
		if !strings.Contains(a.Detail, "Rex Noor (suspect) identified at Market: best face similarity") {
			t.Errorf("detail %q", a.Detail)
		}
	}
	a := f.only(t, alerts.WatchlistHit)
	if a.Triggers < 6 || a.Triggers > 9 || a.FirstSeen.After(t0.Add(2*time.Second)) || a.LastSeen.Before(t0.Add(4*time.Minute)) {
		t.Errorf("triggers %d, first %v last %v", a.Triggers, a.FirstSeen.Sub(t0), a.LastSeen.Sub(t0))
	}
	raised, sighted := 0, 0
	for _, ev := range a.History {
		switch ev.Action {
		case alerts.ActRaised:
			raised++
		case alerts.ActSighted:
			sighted++
		}
	}
	if raised != 1 || sighted != a.Triggers-1 {
		t.Errorf("history: %d raised, %d sighted for %d triggers", raised, sighted, a.Triggers)
	}

	// An expired entry, identified as clearly, never alerts.
	before := f.count(t)
	f.pass(t, newTracker(t, "cam-far"), "cam-far", t0.Add(10*time.Minute), 40, 5,
		walker{box: walking(300), match: &tracks.FaceMatch{PersonID: "p-old", Similarity: 0.7, Threshold: 0.5}})
	if after := f.count(t); after != before {
		t.Errorf("expired entry: %d alerts, was %d", after, before)
	}
}

var miaMatch = &tracks.FaceMatch{PersonID: "p-mia", Similarity: 0.6, Threshold: 0.45}

// TestSafeZoneExit: an at-risk person is seen at home (nothing), then 1 km outside her safe zone (an
// alert saying how far and where the zone is nearest), then 2 km out (the same alert, with the new
// place and distance and both sightings).
func TestSafeZoneExit(t *testing.T) {
	f := newFixture(t)
	f.pass(t, newTracker(t, "cam-home"), "cam-home", t0, 30, 5, walker{box: walking(300), match: miaMatch})
	if n := f.count(t); n != 0 {
		t.Fatalf("at home: %d alerts", n)
	}
	s1, raises := f.pass(t, newTracker(t, "cam-far"), "cam-far", t0.Add(5*time.Minute), 30, 5, walker{box: walking(300), match: miaMatch})
	if len(raises) == 0 || !raises[0].live {
		t.Fatalf("raises %+v: the first must come from a live sighting", raises)
	}
	a := f.only(t, alerts.SafeZoneExit)
	if a.Person == nil || a.Person.ID != "p-mia" || a.Person.Category != watchlist.AtRisk || a.Priority != alerts.High ||
		!strings.Contains(a.Detail, "Mia Berg (at-risk) seen at Far Sq, 1000 m outside the safe zone (nearest point of the zone 48.20500, 16.37000)") {
		t.Fatalf("alert %+v", a)
	}
	s2, _ := f.pass(t, newTracker(t, "cam-far2"), "cam-far2", t0.Add(8*time.Minute), 30, 5, walker{box: walking(300), match: miaMatch})
	a = f.only(t, alerts.SafeZoneExit)
	if got := a.Evidence.Sightings; len(got) != 2 || got[0] != s1.ID || got[1] != s2.ID {
		t.Errorf("sightings %v", got)
	}
	if a.Place.Camera != "cam-far2" || a.FirstPlace.Camera != "cam-far" || !strings.Contains(a.Detail, "2000 m outside") {
		t.Errorf("place %+v first %+v detail %q", a.Place, a.FirstPlace, a.Detail)
	}
	// Her safe zone replaces the watch-list hit: no hit alert for her.
	if hits := f.alerts(t, alerts.WatchlistHit); len(hits) != 0 {
		t.Errorf("watch-list hits %+v", hits)
	}
}

// TestLoitering: a person stands at the ATM for three minutes; the loitering alert opens while they
// are still there, as soon as the stay passes the zone's two minutes, and their leaving adds one
// more trigger. At the school gate the rule is active only at night (Vienna time).
func TestLoitering(t *testing.T) {
	night, err := rules.ParseSchedule("22:00-06:00")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, rules.Rule{Kind: alerts.Loitering, Cameras: []string{"cam-school"}, Schedule: night})
	_, raises := f.pass(t, newTracker(t, "cam-atm"), "cam-atm", t0, 360, 2, walker{box: standing})
	if len(raises) != 2 || !raises[0].live || raises[1].live {
		t.Fatalf("raises %+v: want one while the person is there and one when they leave", raises)
	}
	// The track is confirmed at its second frame; the stay passes 2 min then.
	if d := raises[0].at.Sub(t0); d < 2*time.Minute || d > 2*time.Minute+2*time.Second {
		t.Errorf("loitering alert %v after the person arrived", d)
	}
	a := f.only(t, alerts.Loitering)
	if a.Place.Zone != "atm" || a.Person != nil || a.Priority != alerts.Normal || a.Triggers != 2 ||
		!strings.Contains(a.Detail, "in zone atm at Bank for 2m59s") {
		t.Errorf("alert %+v", a)
	}

	// 11:00 in Vienna: the school gate rule is asleep.
	f.pass(t, newTracker(t, "cam-school"), "cam-school", t0, 360, 2, walker{box: standing})
	if n := len(f.alerts(t, alerts.Loitering)); n != 1 {
		t.Fatalf("by day at the school gate: %d loitering alerts", n)
	}
	// 23:00 in Vienna (22:00 UTC).
	_, raises = f.pass(t, newTracker(t, "cam-school"), "cam-school", t0.Add(12*time.Hour), 360, 2, walker{box: standing})
	if len(raises) == 0 || raises[0].alert.Place.Zone != "gate" {
		t.Fatalf("at night at the school gate: raises %+v", raises)
	}
}

// TestCameraOffline: the ingest worker's offline event opens a camera_offline alert carrying the
// trouble before it; the online event resolves it.
func TestCameraOffline(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	at := t0.Add(time.Minute)
	for _, ev := range []camevent.Event{
		{Camera: "cam-market", Time: at, Kind: camevent.Stalled, Detail: "no video for the stall timeout"},
		{Camera: "cam-market", Time: at.Add(30 * time.Second), Kind: camevent.Offline, Detail: "dial tcp 10.0.0.5:554: connect: connection refused"},
	} {
		f.clock.Set(ev.Time)
		if err := f.rules.CameraEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	a := f.only(t, alerts.CameraOffline)
	if a.Status != alerts.Open || a.Place.Camera != "cam-market" || a.Priority != alerts.Low ||
		a.Detail != "camera offline: dial tcp 10.0.0.5:554: connect: connection refused" {
		t.Fatalf("alert %+v", a)
	}
	f.clock.Set(at.Add(2 * time.Minute))
	if err := f.rules.CameraEvent(ctx, camevent.Event{Camera: "cam-market", Time: at.Add(2 * time.Minute), Kind: camevent.Online}); err != nil {
		t.Fatal(err)
	}
	a = f.only(t, alerts.CameraOffline)
	if a.Status != alerts.Resolved || a.Closed == nil || a.Closed.By != alerts.System {
		t.Fatalf("after online: %+v", a)
	}

	// Rejected credentials say so.
	f.clock.Set(at.Add(time.Hour))
	for _, ev := range []camevent.Event{
		{Camera: "cam-atm", Time: at.Add(time.Hour), Kind: camevent.Unauthorized, Detail: ingest.ErrUnauthorized.Error()},
		{Camera: "cam-atm", Time: at.Add(time.Hour + 30*time.Second), Kind: camevent.Offline},
	} {
		if err := f.rules.CameraEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	as := f.alerts(t, alerts.CameraOffline)
	if len(as) != 2 || as[0].Place.Camera != "cam-atm" || as[0].Detail != "camera offline: it rejects the configured credentials" {
		t.Errorf("alerts %+v", as)
	}
}

// TestTamper feeds real frames (vtest.avi) through the real tamper detector, covers the camera,
// then turns it to another view, then restores it: one camera_tampered alert opens when the cover
// has persisted, takes the new kind, and is resolved when the picture is normal again.
func TestTamper(t *testing.T) {
	const path = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not available (install opencv-doc): %v", path, err)
	}
	f := newFixture(t)
	ctx := t.Context()
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	cfg := tamper.DefaultConfig()
	cfg.Learn, cfg.Alarm, cfg.Clear = 3*time.Second, 3*time.Second, 3*time.Second
	det, err := tamper.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	frame, work, cover := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer frame.Close()
	defer work.Close()
	defer func() { cover.Close() }()
	var changes []tamper.State
	for i := 0; i < 300 && vc.Read(&frame); i++ {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		img := frame
		switch {
		case i >= 80 && i < 150: // a bag over the camera
			if cover.Empty() {
				cover.Close()
				cover = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(20, 20, 20, 0), frame.Rows(), frame.Cols(), frame.Type())
			}
			img = cover
		case i >= 150 && i < 220: // turned towards a wall: the scene shifted by a fifth
			r := frame.Region(image.Rect(150, 60, frame.Cols(), frame.Rows()))
			gocv.Resize(r, &work, image.Pt(frame.Cols(), frame.Rows()), 0, 0, gocv.InterpolationLinear)
			r.Close()
			img = work
		}
		r, err := det.Update(img, at)
		if err != nil {
			t.Fatal(err)
		}
		if r.Changed {
			changes = append(changes, r.State)
		}
		f.clock.Set(at)
		if ev, changed := r.Event("cam-atm"); changed {
			if err := f.rules.CameraEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		if r.Changed && r.State == tamper.Covered {
			a := f.only(t, alerts.CameraTampered)
			if a.Status != alerts.Open || !strings.HasPrefix(a.Detail, "picture covered: contrast") {
				t.Fatalf("covered: %+v", a)
			}
		}
	}
	if want := []tamper.State{tamper.Covered, tamper.Moved, tamper.OK}; fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Fatalf("detector changes %v, want %v", changes, want)
	}
	a := f.only(t, alerts.CameraTampered)
	if a.Triggers != 2 || a.Status != alerts.Resolved || !strings.HasPrefix(a.Detail, "camera moved") || a.Place.CameraName != "Bank" {
		t.Errorf("alert %+v", a)
	}
}

// TestEachRuleOpensItsKind: one trigger of each rule in a fresh store opens exactly one alert of
// its own kind.
func TestEachRuleOpensItsKind(t *testing.T) {
	tests := []struct {
		kind alerts.Kind
		do   func(t *testing.T, f *fixture)
	}{
		{alerts.WatchlistHit, func(t *testing.T, f *fixture) {
			f.pass(t, newTracker(t, "cam-market"), "cam-market", t0, 20, 5, walker{box: walking(300), match: rexMatch})
		}},
		{alerts.SafeZoneExit, func(t *testing.T, f *fixture) {
			f.pass(t, newTracker(t, "cam-far"), "cam-far", t0, 20, 5, walker{box: walking(300), match: miaMatch})
		}},
		{alerts.Loitering, func(t *testing.T, f *fixture) {
			f.pass(t, newTracker(t, "cam-atm"), "cam-atm", t0, 250, 2, walker{box: standing})
		}},
		{alerts.CameraOffline, func(t *testing.T, f *fixture) {
			if err := f.rules.CameraEvent(t.Context(), camevent.Event{Camera: "cam-home", Time: t0, Kind: camevent.Offline}); err != nil {
				t.Fatal(err)
			}
		}},
		{alerts.CameraTampered, func(t *testing.T, f *fixture) {
			if err := f.rules.CameraEvent(t.Context(), camevent.Event{Camera: "cam-home", Time: t0, Kind: camevent.Tampered, Detail: "picture defocused"}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			f := newFixture(t)
			tc.do(t, f)
			as, err := f.eng.Alerts(t.Context(), alerts.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != 1 || as[0].Kind != tc.kind {
				t.Fatalf("alerts %+v, want one %s", as, tc.kind)
			}
		})
	}
}

// TestConcurrentCameras: the pipeline's center and the cameras' event loops call the rules at the
// same time (run under -race).
func TestConcurrentCameras(t *testing.T) {
	f := newFixture(t)
	t.Run("cameras", func(t *testing.T) {
		for _, cam := range []string{"cam-market", "cam-far", "cam-atm"} {
			t.Run(cam+" sightings", func(t *testing.T) {
				t.Parallel()
				m := rexMatch
				if cam == "cam-far" {
					m = miaMatch
				}
				f.pass(t, newTracker(t, cam), cam, t0, 30, 5, walker{box: walking(300), match: m})
			})
			t.Run(cam+" ingest events", func(t *testing.T) {
				t.Parallel()
				for i := range 6 {
					kind := camevent.Offline
					if i%2 == 1 {
						kind = camevent.Online
					}
					if err := f.rules.CameraEvent(context.Background(), camevent.Event{Camera: cam, Time: t0.Add(time.Duration(i) * time.Second), Kind: kind}); err != nil {
						t.Error(err)
					}
				}
			})
		}
	})
	if n := len(f.alerts(t, alerts.WatchlistHit)); n != 1 {
		t.Errorf("%d watch-list alerts for one suspect at two cameras", n)
	}
	if n := len(f.alerts(t, alerts.SafeZoneExit)); n != 1 {
		t.Errorf("%d safe-zone alerts", n)
	}
	for _, a := range f.alerts(t, alerts.CameraOffline) {
		if a.Status != alerts.Resolved {
			t.Errorf("offline alert %s of %s is %s after the camera came back", a.ID, a.Place.Camera, a.Status)
		}
	}
}
