package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/alerts/notify"
	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/objstore/miniotest"
	"snowlight/retention"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// t0 is "now" for the retention runs.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// backend is one object store under test.
type backend struct {
	name string
	open func(t testing.TB) (objstore.Store, *miniotest.Server)
}

func backends() []backend {
	return []backend{
		{"dir", func(t testing.TB) (objstore.Store, *miniotest.Server) {
			d, err := objstore.OpenDir(filepath.Join(t.TempDir(), "objects"), objstore.DirOptions{})
			require.NoError(t, err)
			return d, nil
		}},
		{"minio", func(t testing.TB) (objstore.Store, *miniotest.Server) {
			srv := miniotest.Start(t)
			m, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
			require.NoError(t, err)
			return m, srv
		}},
	}
}

// world is a database, an object store and the services over them.
type world struct {
	t      testing.TB
	ctx    context.Context
	db     *store.DB
	objs   objstore.Store
	clock  *clock
	audit  *audit.Log
	alerts *alerts.Engine
	holds  *retention.Holds
	sizes  map[string]int64 // object key -> size, as written
	seed   int
}

func newWorld(t testing.TB, objs objstore.Store) *world {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "snowlight.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	w := &world{t: t, ctx: ctx, db: db, objs: objs, clock: &clock{t: t0}, sizes: map[string]int64{}}
	w.audit = audit.New(db, w.clock.Now)
	w.alerts, err = alerts.NewEngine(db, nil, alerts.Options{Now: w.clock.Now})
	require.NoError(t, err)
	w.holds, err = retention.NewHolds(db, w.audit, w.clock.Now)
	require.NoError(t, err)
	return w
}

// jpegBytes is a real JPEG, different for every seed.
func jpegBytes(t testing.TB, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 48, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 48; x++ {
			img.Set(x, y, color.RGBA{uint8(seed*37 + x*5), uint8(seed*11 + y*3), uint8(seed * 71), 255})
		}
	}
	// An 8x8 block per byte of the seed keeps images of seeds that wrap the colours above apart.
	for i := range 4 {
		c := color.RGBA{uint8(seed >> (8 * i)), 255 - uint8(seed>>(8*i)), 0, 255}
		for y := 0; y < 8; y++ {
			for x := 8 * i; x < 8*i+8; x++ {
				img.Set(x, 56+y, c)
			}
		}
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

// object stores a new JPEG under kind and returns its content key.
func (w *world) object(kind string) string {
	w.t.Helper()
	w.seed++
	data := jpegBytes(w.t, w.seed)
	info, err := objstore.PutContent(w.ctx, w.objs, kind, "jpg", data, "image/jpeg", objstore.Meta{})
	require.NoError(w.t, err)
	w.sizes[info.Key] = info.Size
	return info.Key
}

// sighting saves a final sighting that left camera cam `ago` before t0, with the given snapshots.
func (w *world) sighting(id string, ago time.Duration, person, faceKey, bodyKey string) tracks.Sighting {
	w.t.Helper()
	exit := t0.Add(-ago)
	s := tracks.Sighting{ID: id, Camera: "cam1", TrackID: 1, Enter: exit.Add(-5 * time.Second), Exit: exit, Final: true,
		Boxes: []tracks.TimedBox{{Time: exit, Box: tracks.Box{X: 1, Y: 2, W: 30, H: 80}, Score: 0.9}}}
	if faceKey != "" {
		s.Face = &tracks.Snapshot{Time: exit, Box: tracks.Box{W: 12, H: 12}, Quality: 1, Ref: faceKey}
	}
	if bodyKey != "" {
		s.Body = &tracks.Snapshot{Time: exit, Box: tracks.Box{W: 30, H: 80}, Quality: 1, Ref: bodyKey}
	}
	s.Evidence.PersonID = person
	require.NoError(w.t, w.db.SaveSighting(w.ctx, s))
	return s
}

// link puts to into from's trajectory.
func (w *world) link(from, to string) {
	w.t.Helper()
	var root string
	st, err := w.db.Follow(w.ctx, from, time.Time{}, time.Time{})
	require.NoError(w.t, err)
	root = st.ID
	d := tracks.Decision{Sighting: to, Trajectory: root, Link: &tracks.Link{From: from, To: to, Score: 2, Confidence: 0.9, Decided: t0}}
	require.NoError(w.t, w.db.ApplyDecisions(w.ctx, []tracks.Decision{d}))
}

// person enrols an entry with one photo per argument: a reference to where the image is kept (an
// object key, or a plain file name as older entries have), or "" for an image the database keeps.
func (w *world) person(id string, expires time.Time, photos ...string) {
	w.t.Helper()
	p := watchlist.Person{ID: id, Name: "Person " + id, Category: watchlist.Suspect, Enrolled: t0.Add(-200 * 24 * time.Hour),
		LegalBasis: "warrant 17/2025", ApprovedBy: "judge", Expires: expires}
	var images [][]byte
	for i, ref := range photos {
		p.Embeddings = append(p.Embeddings, []float32{float32(i + 1), 0.5})
		p.Photos = append(p.Photos, watchlist.Photo{Source: fmt.Sprintf("photo-%d.jpg", i+1), Ref: ref})
		var img []byte
		if ref == "" {
			w.seed++
			img = jpegBytes(w.t, w.seed)
		}
		images = append(images, img)
	}
	if len(photos) == 0 {
		p.Embeddings = [][]float32{{1, 0}}
	}
	require.NoError(w.t, w.db.Watchlist().Add(w.ctx, p, images))
}

// alert raises an alert `ago` before t0 through the alert engine, with a snapshot and optionally a
// clip and face crops, and closes it (resolve or dismiss) unless final is "".
func (w *world) alert(ago time.Duration, person string, sightings []string, faceCrops []string, clip bool, final alerts.Status) (alerts.Alert, []string) {
	w.t.Helper()
	at := t0.Add(-ago)
	w.clock.Set(at)
	defer w.clock.Set(t0)
	tr := alerts.Trigger{Kind: alerts.Loitering, At: at, Place: alerts.Place{Camera: "cam1", Zone: "gate-" + sightings[0]},
		Evidence: alerts.Evidence{Sightings: sightings, FaceCrops: faceCrops}}
	if person != "" {
		tr.Kind = alerts.WatchlistHit
		tr.Person = &alerts.Person{ID: person, Name: "Person " + person, Category: watchlist.Suspect}
		for range faceCrops {
			tr.Evidence.Scores = append(tr.Evidence.Scores, 0.7)
		}
	}
	a, _, err := w.alerts.Raise(w.ctx, tr)
	require.NoError(w.t, err)
	var keys []string
	w.seed++
	info, _, err := w.alerts.StoreEvidence(w.ctx, w.objs, a.ID, alerts.SnapshotEvidence, jpegBytes(w.t, w.seed), at, at)
	require.NoError(w.t, err)
	w.sizes[info.Key] = info.Size
	keys = append(keys, info.Key)
	if clip {
		w.seed++
		data := append([]byte("clip "), jpegBytes(w.t, w.seed)...)
		info, _, err := w.alerts.StoreEvidence(w.ctx, w.objs, a.ID, alerts.ClipEvidence, data, at, at.Add(15*time.Second))
		require.NoError(w.t, err)
		w.sizes[info.Key] = info.Size
		keys = append(keys, info.Key)
	}
	switch final {
	case alerts.Resolved:
		if person != "" {
			_, err := w.alerts.Confirm(w.ctx, a.ID, "op1")
			require.NoError(w.t, err)
		}
		a, err = w.alerts.Resolve(w.ctx, a.ID, "op1", "handled")
	case alerts.Dismissed:
		a, err = w.alerts.Dismiss(w.ctx, a.ID, "op1", "not the person")
	default:
		a, err = w.alerts.Alert(w.ctx, a.ID)
	}
	require.NoError(w.t, err)
	return a, keys
}

// notification queues a notice delivered `ago` before t0.
func (w *world) notification(key string, ago time.Duration) {
	w.t.Helper()
	at := t0.Add(-ago)
	require.NoError(w.t, w.db.EnqueueOutbox(w.ctx, notify.Message{Receiver: "unit-7", Key: key, Topic: "dispatch.request",
		Payload: []byte(`{"alert":"x"}`), Created: at}))
	msgs, err := w.db.OutboxMessages(w.ctx, "unit-7", 100)
	require.NoError(w.t, err)
	for _, m := range msgs {
		if m.Key == key {
			require.NoError(w.t, w.db.MarkOutboxDelivered(w.ctx, m.ID, at))
		}
	}
}

func (w *world) job(reg prometheus.Registerer, opts ...func(*retention.Options)) *retention.Job {
	w.t.Helper()
	o := retention.Options{Store: w.db, Objects: w.objs, Audit: w.audit, Now: w.clock.Now, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BatchSize: 3, ObjectTimeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	j, err := retention.New(o)
	require.NoError(w.t, err)
	return j
}

// keys lists every object in the store.
func (w *world) keys() []string {
	w.t.Helper()
	var out []string
	for info, err := range w.objs.List(w.ctx, "") {
		require.NoError(w.t, err)
		out = append(out, info.Key)
	}
	slices.Sort(out)
	return out
}

func (w *world) hasSighting(id string) bool {
	w.t.Helper()
	_, err := w.db.Sighting(w.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(w.t, err)
	return true
}

func (w *world) hasAlert(id string) bool {
	w.t.Helper()
	_, err := w.db.Alert(w.ctx, id)
	if errors.Is(err, alerts.ErrNotFound) {
		return false
	}
	require.NoError(w.t, err)
	return true
}

func (w *world) pending() []retention.PendingObject {
	w.t.Helper()
	p, err := w.db.PendingObjects(w.ctx, "", 10000)
	require.NoError(w.t, err)
	return p
}

func (w *world) auditActions() map[string]int {
	w.t.Helper()
	es, err := w.audit.List(w.ctx, audit.Filter{Limit: audit.MaxPage})
	require.NoError(w.t, err)
	out := map[string]int{}
	for _, e := range es {
		out[e.Action]++
	}
	rep, err := w.audit.Verify(w.ctx, audit.Head{})
	require.NoError(w.t, err, "audit chain")
	require.True(w.t, rep.OK(), "audit chain: %+v", rep)
	return out
}

// metric reads one sample from a registry: name and label value pairs.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matchLabels(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
	}
	return 0
}

func matchLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
