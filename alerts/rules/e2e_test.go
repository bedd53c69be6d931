package rules_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/alerts"
	"snowlight/alerts/rules"
	"snowlight/camevent"
	"snowlight/colour"
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

const mPerDegLat = geo.EarthRadius * math.Pi / 180

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
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	objs, err := objstore.OpenDir(filepath.Join(dir, "objects"), objstore.DirOptions{})
	require.NoError(t, err)
	f := &fixture{db: db, objs: objs, clock: &clock{t: t0}, stored: map[[32]byte]string{}}
	f.eng, err = alerts.NewEngine(db, nil, alerts.Options{Cooldown: 10 * time.Minute, Now: f.clock.Now})
	require.NoError(t, err)
	vienna, err := time.LoadLocation("Europe/Vienna")
	require.NoError(t, err)
	f.rules, err = rules.New(rules.Options{Alerts: f.eng, Persons: db, Cameras: cameras, Rules: rs, Location: vienna, Now: f.clock.Now})
	require.NoError(t, err)
	// The watch list, as enrolment writes it.
	for _, p := range []watchlist.Person{
		{ID: "p-rex", Name: "Rex Noor", Category: watchlist.Suspect, Expires: t0.Add(30 * 24 * time.Hour)},
		{ID: "p-mia", Name: "Mia Berg", Category: watchlist.AtRisk, SafeZone: homeZone, GuardianContact: "guardian-mia"},
		{ID: "p-old", Name: "Old Entry", Category: watchlist.Suspect, Expires: t0.Add(-time.Hour)},
	} {
		p.Enrolled = t0.Add(-24 * time.Hour)
		p.Embeddings = [][]float32{{0.6, 0.8}}
		require.NoError(t, db.Watchlist().Add(ctx, p, nil))
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
func (c crops) FaceJPEG() ([]byte, error)       { return c.jpeg("face") }
func (c crops) BodyJPEG() ([]byte, error)       { return c.jpeg("body") }
func (c crops) BodyColours() colour.Description { return colour.Description{} }

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
			require.NoError(t, err)
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
		require.NoError(t, err)
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
	require.Len(t, final, 1, "pass at %s: final sightings", cam)
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
	require.NoError(t, err)
	return tr
}

func (f *fixture) alerts(t *testing.T, kind alerts.Kind) []alerts.Alert {
	t.Helper()
	as, err := f.eng.Alerts(t.Context(), alerts.Query{Kinds: []alerts.Kind{kind}})
	require.NoError(t, err)
	return as
}

func (f *fixture) only(t *testing.T, kind alerts.Kind) alerts.Alert {
	t.Helper()
	as := f.alerts(t, kind)
	require.Len(t, as, 1, "%s alerts: %+v", kind, as)
	a, err := f.eng.Alert(t.Context(), as[0].ID)
	require.NoError(t, err)
	return a
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	as, err := f.eng.Alerts(t.Context(), alerts.Query{})
	require.NoError(t, err)
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
		require.NotEmpty(t, raises, "pass %d: no raise", n)
		require.True(t, raises[0].live, "pass %d: raises %+v: the first must come from a live sighting", n, raises)
		// Once when the identity is reached, at most once more as the evidence improves, and once
		// at the end: no flood from the 40 live updates.
		assert.LessOrEqual(t, len(raises), 3, "pass %d: raises", n)
		assert.LessOrEqual(t, raises[0].at.Sub(start), 2*time.Second, "pass %d: first raise after the person appeared", n)
		a := f.only(t, alerts.WatchlistHit)
		require.NotNil(t, a.Person, "pass %d: alert %+v", n, a)
		assert.Equal(t, "p-rex", a.Person.ID, "pass %d: person", n)
		assert.Equal(t, watchlist.Suspect, a.Person.Category, "pass %d: category", n)
		assert.Equal(t, alerts.Critical, a.Priority, "pass %d: priority", n)
		assert.Equal(t, ids, a.Evidence.Sightings, "pass %d: evidence sightings", n)
		assert.GreaterOrEqual(t, len(a.Evidence.FaceCrops), n+1, "pass %d: face crops %v", n, a.Evidence.FaceCrops)
		require.Len(t, a.Evidence.Scores, len(a.Evidence.FaceCrops), "pass %d: a score per face crop", n)
		for i, k := range a.Evidence.FaceCrops {
			_, err := f.objs.Stat(t.Context(), k)
			assert.NoError(t, err, "face crop %s", k)
			assert.True(t, strings.HasPrefix(k, "face/"), "face crop %s", k)
			assert.GreaterOrEqual(t, a.Evidence.Scores[i], float32(0.6), "face crop %s: score", k)
		}
		assert.True(t, strings.HasPrefix(a.Evidence.Snapshot, "body/"), "pass %d: snapshot %q", n, a.Evidence.Snapshot)
		assert.Equal(t, "cam-market", a.Place.Camera, "pass %d: place", n)
		assert.Equal(t, "Market", a.Place.CameraName, "pass %d: place", n)
		assert.Contains(t, a.Detail, "Rex Noor (suspect) identified at Market: best face similarity")
	}
	a := f.only(t, alerts.WatchlistHit)
	assert.GreaterOrEqual(t, a.Triggers, 6, "triggers")
	assert.LessOrEqual(t, a.Triggers, 9, "triggers")
	assert.False(t, a.FirstSeen.After(t0.Add(2*time.Second)), "first seen %v after the first pass began", a.FirstSeen.Sub(t0))
	assert.False(t, a.LastSeen.Before(t0.Add(4*time.Minute)), "last seen %v after the first pass began", a.LastSeen.Sub(t0))
	raised, sighted := 0, 0
	for _, ev := range a.History {
		switch ev.Action {
		case alerts.ActRaised:
			raised++
		case alerts.ActSighted:
			sighted++
		}
	}
	assert.Equal(t, 1, raised, "history: raised")
	assert.Equal(t, a.Triggers-1, sighted, "history: sighted for %d triggers", a.Triggers)

	// An expired entry, identified as clearly, never alerts.
	before := f.count(t)
	f.pass(t, newTracker(t, "cam-far"), "cam-far", t0.Add(10*time.Minute), 40, 5,
		walker{box: walking(300), match: &tracks.FaceMatch{PersonID: "p-old", Similarity: 0.7, Threshold: 0.5}})
	assert.Equal(t, before, f.count(t), "alerts after an expired entry's pass")
}

var miaMatch = &tracks.FaceMatch{PersonID: "p-mia", Similarity: 0.6, Threshold: 0.45}

// TestSafeZoneExit: an at-risk person is seen at home (nothing), then 1 km outside her safe zone (an
// alert saying how far and where the zone is nearest), then 2 km out (the same alert, with the new
// place and distance and both sightings).
func TestSafeZoneExit(t *testing.T) {
	f := newFixture(t)
	f.pass(t, newTracker(t, "cam-home"), "cam-home", t0, 30, 5, walker{box: walking(300), match: miaMatch})
	require.Zero(t, f.count(t), "alerts at home")
	s1, raises := f.pass(t, newTracker(t, "cam-far"), "cam-far", t0.Add(5*time.Minute), 30, 5, walker{box: walking(300), match: miaMatch})
	require.NotEmpty(t, raises, "no raise outside the safe zone")
	require.True(t, raises[0].live, "raises %+v: the first must come from a live sighting", raises)
	a := f.only(t, alerts.SafeZoneExit)
	require.NotNil(t, a.Person, "alert %+v", a)
	assert.Equal(t, "p-mia", a.Person.ID)
	assert.Equal(t, watchlist.AtRisk, a.Person.Category)
	assert.Equal(t, alerts.High, a.Priority)
	assert.Contains(t, a.Detail, "Mia Berg (at-risk) seen at Far Sq, 1000 m outside the safe zone (nearest point of the zone 48.20500, 16.37000)")
	s2, _ := f.pass(t, newTracker(t, "cam-far2"), "cam-far2", t0.Add(8*time.Minute), 30, 5, walker{box: walking(300), match: miaMatch})
	a = f.only(t, alerts.SafeZoneExit)
	assert.Equal(t, []string{s1.ID, s2.ID}, a.Evidence.Sightings, "sightings")
	assert.Equal(t, "cam-far2", a.Place.Camera, "place")
	assert.Equal(t, "cam-far", a.FirstPlace.Camera, "first place")
	assert.Contains(t, a.Detail, "2000 m outside")
	// Her safe zone replaces the watch-list hit: no hit alert for her.
	assert.Empty(t, f.alerts(t, alerts.WatchlistHit), "watch-list hits")
}

// TestLoitering: a person stands at the ATM for three minutes; the loitering alert opens while they
// are still there, as soon as the stay passes the zone's two minutes, and their leaving adds one
// more trigger. At the school gate the rule is active only at night (Vienna time).
func TestLoitering(t *testing.T) {
	night, err := rules.ParseSchedule("22:00-06:00")
	require.NoError(t, err)
	f := newFixture(t, rules.Rule{Kind: alerts.Loitering, Cameras: []string{"cam-school"}, Schedule: night})
	_, raises := f.pass(t, newTracker(t, "cam-atm"), "cam-atm", t0, 360, 2, walker{box: standing})
	require.Len(t, raises, 2, "raises %+v: want one while the person is there and one when they leave", raises)
	require.True(t, raises[0].live, "the first raise is not from the live sighting")
	require.False(t, raises[1].live, "the second raise is not from the final sighting")
	// The track is confirmed at its second frame; the stay passes 2 min then.
	d := raises[0].at.Sub(t0)
	assert.GreaterOrEqual(t, d, 2*time.Minute, "loitering alert after the person arrived")
	assert.LessOrEqual(t, d, 2*time.Minute+2*time.Second, "loitering alert after the person arrived")
	a := f.only(t, alerts.Loitering)
	assert.Equal(t, "atm", a.Place.Zone)
	assert.Nil(t, a.Person)
	assert.Equal(t, alerts.Normal, a.Priority)
	assert.Equal(t, 2, a.Triggers)
	assert.Contains(t, a.Detail, "in zone atm at Bank for 2m59s")

	// 11:00 in Vienna: the school gate rule is asleep.
	f.pass(t, newTracker(t, "cam-school"), "cam-school", t0, 360, 2, walker{box: standing})
	require.Len(t, f.alerts(t, alerts.Loitering), 1, "loitering alerts by day at the school gate")
	// 23:00 in Vienna (22:00 UTC).
	_, raises = f.pass(t, newTracker(t, "cam-school"), "cam-school", t0.Add(12*time.Hour), 360, 2, walker{box: standing})
	require.NotEmpty(t, raises, "no raise at night at the school gate")
	assert.Equal(t, "gate", raises[0].alert.Place.Zone, "at night at the school gate: raises %+v", raises)
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
		require.NoError(t, f.rules.CameraEvent(ctx, ev))
	}
	a := f.only(t, alerts.CameraOffline)
	assert.Equal(t, alerts.Open, a.Status)
	assert.Equal(t, "cam-market", a.Place.Camera)
	assert.Equal(t, alerts.Low, a.Priority)
	assert.Equal(t, "camera offline: dial tcp 10.0.0.5:554: connect: connection refused", a.Detail)
	f.clock.Set(at.Add(2 * time.Minute))
	require.NoError(t, f.rules.CameraEvent(ctx, camevent.Event{Camera: "cam-market", Time: at.Add(2 * time.Minute), Kind: camevent.Online}))
	a = f.only(t, alerts.CameraOffline)
	assert.Equal(t, alerts.Resolved, a.Status, "after online")
	if assert.NotNil(t, a.Closed, "not closed after online") {
		assert.Equal(t, alerts.System, a.Closed.By, "closed after online by")
	}

	// Rejected credentials say so.
	f.clock.Set(at.Add(time.Hour))
	for _, ev := range []camevent.Event{
		{Camera: "cam-atm", Time: at.Add(time.Hour), Kind: camevent.Unauthorized, Detail: ingest.ErrUnauthorized.Error()},
		{Camera: "cam-atm", Time: at.Add(time.Hour + 30*time.Second), Kind: camevent.Offline},
	} {
		require.NoError(t, f.rules.CameraEvent(ctx, ev))
	}
	as := f.alerts(t, alerts.CameraOffline)
	require.Len(t, as, 2, "alerts %+v", as)
	assert.Equal(t, "cam-atm", as[0].Place.Camera)
	assert.Equal(t, "camera offline: it rejects the configured credentials", as[0].Detail)
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
	require.NoError(t, err)
	defer vc.Close()
	cfg := tamper.DefaultConfig()
	cfg.Learn, cfg.Alarm, cfg.Clear = 3*time.Second, 3*time.Second, 3*time.Second
	det, err := tamper.New(cfg)
	require.NoError(t, err)
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
		require.NoError(t, err)
		if r.Changed {
			changes = append(changes, r.State)
		}
		f.clock.Set(at)
		if ev, changed := r.Event("cam-atm"); changed {
			require.NoError(t, f.rules.CameraEvent(ctx, ev))
		}
		if r.Changed && r.State == tamper.Covered {
			a := f.only(t, alerts.CameraTampered)
			require.Equal(t, alerts.Open, a.Status, "covered: %+v", a)
			require.True(t, strings.HasPrefix(a.Detail, "picture covered: contrast"), "covered: detail %q", a.Detail)
		}
	}
	require.Equal(t, []tamper.State{tamper.Covered, tamper.Moved, tamper.OK}, changes, "detector changes")
	a := f.only(t, alerts.CameraTampered)
	assert.Equal(t, 2, a.Triggers)
	assert.Equal(t, alerts.Resolved, a.Status)
	assert.True(t, strings.HasPrefix(a.Detail, "camera moved"), "detail %q", a.Detail)
	assert.Equal(t, "Bank", a.Place.CameraName)
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
			require.NoError(t, f.rules.CameraEvent(t.Context(), camevent.Event{Camera: "cam-home", Time: t0, Kind: camevent.Offline}))
		}},
		{alerts.CameraTampered, func(t *testing.T, f *fixture) {
			require.NoError(t, f.rules.CameraEvent(t.Context(), camevent.Event{Camera: "cam-home", Time: t0, Kind: camevent.Tampered, Detail: "picture defocused"}))
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			f := newFixture(t)
			tc.do(t, f)
			as, err := f.eng.Alerts(t.Context(), alerts.Query{})
			require.NoError(t, err)
			require.Len(t, as, 1, "alerts %+v", as)
			assert.Equal(t, tc.kind, as[0].Kind)
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
					assert.NoError(t, f.rules.CameraEvent(context.Background(), camevent.Event{Camera: cam, Time: t0.Add(time.Duration(i) * time.Second), Kind: kind}))
				}
			})
		}
	})
	assert.Len(t, f.alerts(t, alerts.WatchlistHit), 1, "watch-list alerts for one suspect at two cameras")
	assert.Len(t, f.alerts(t, alerts.SafeZoneExit), 1, "safe-zone alerts")
	for _, a := range f.alerts(t, alerts.CameraOffline) {
		assert.Equal(t, alerts.Resolved, a.Status, "offline alert %s of %s after the camera came back", a.ID, a.Place.Camera)
	}
}
