package lease

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"snowlight/bus"
	"snowlight/camevent"
)

// Table is a live, in-memory copy of the three buckets, kept by KV watches: what the center's fence
// and API read and what an edge's Holder plans with. It is safe for concurrent use.
type Table struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger

	mu       sync.Mutex
	cams     map[string]Camera
	sessions map[string]sessionEntry
	leases   map[string][]leaseEntry // per camera, by revision, at most `history`
	maxRev   uint64                  // the highest lease revision seen
	ready    chan struct{}           // closed once all three buckets are loaded
	loaded   int
	changed  chan struct{} // closed and replaced at every change

	refused *prometheus.CounterVec
}

type sessionEntry struct {
	Session
	Renewed time.Time // the server's time of the last renewal
}

type leaseEntry struct {
	Record
	Rev     uint64
	Created time.Time // the server's clock
	Deleted bool      // released
}

// NewTable makes a table over nc's JetStream; Run keeps it current.
func NewTable(nc *nats.Conn, logger *slog.Logger) (*Table, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("lease table: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Table{nc: nc, js: js, log: logger, cams: map[string]Camera{}, sessions: map[string]sessionEntry{},
		leases: map[string][]leaseEntry{}, ready: make(chan struct{}), changed: make(chan struct{}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_fence_refused_total",
			Help: "Events the center's fence refused, by reason: stale (made after the camera changed hands), not_holder, not_eligible."},
			[]string{"reason"})}, nil
}

// Ready is closed once the table has loaded every bucket.
func (t *Table) Ready() <-chan struct{} { return t.ready }

// Changed returns a channel closed at the next change.
func (t *Table) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

func (t *Table) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Run keeps the table current until ctx ends. After a reconnection it loads every bucket afresh:
// what expired while the link was down left markers that may themselves have expired since.
func (t *Table) Run(ctx context.Context) error {
	reconnected := t.nc.StatusChanged(nats.CONNECTED)
	defer t.nc.RemoveStatusListener(reconnected)
	failing := false // said once per outage
	for {
		wctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 3)
		var wg sync.WaitGroup
		for _, w := range []struct {
			bucket string
			opts   []jetstream.WatchOpt
			load   func(jetstream.KeyValueEntry, *snapshot)
		}{
			{bus.BucketCameras, nil, loadCamera},
			{bus.BucketEdges, nil, loadSession},
			{bus.BucketLeases, []jetstream.WatchOpt{jetstream.IncludeHistory()}, loadLease},
		} {
			wg.Go(func() { errc <- t.watch(wctx, w.bucket, w.opts, w.load) })
		}
		var err error
		select {
		case <-ctx.Done():
		case <-reconnected:
			t.log.Info("lease table: reloading after reconnection")
		case err = <-errc:
		}
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			failing = false
		} else {
			if !failing {
				t.log.Warn("lease table: watch ended; starting again", "err", err)
			}
			failing = true
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// snapshot is what a watch loads before it replaces the table's part of that bucket.
type snapshot struct {
	cams     map[string]Camera
	sessions map[string]sessionEntry
	leases   map[string][]leaseEntry
	maxRev   uint64
}

func (t *Table) watch(ctx context.Context, bucket string, opts []jetstream.WatchOpt, load func(jetstream.KeyValueEntry, *snapshot)) error {
	kv, err := t.js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx, opts...)
	if err != nil {
		return fmt.Errorf("watch %s: %w", bucket, err)
	}
	defer w.Stop()
	snap := &snapshot{cams: map[string]Camera{}, sessions: map[string]sessionEntry{}, leases: map[string][]leaseEntry{}}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: closed", bucket)
			}
			if initial && e == nil {
				initial = false
				t.install(bucket, snap)
				continue
			}
			if initial {
				load(e, snap)
				continue
			}
			t.mu.Lock()
			load(e, &snapshot{cams: t.cams, sessions: t.sessions, leases: t.leases, maxRev: t.maxRev})
			if bucket == bus.BucketLeases {
				t.maxRev = max(t.maxRev, e.Revision())
			}
			t.notify()
			t.mu.Unlock()
		}
	}
}

func (t *Table) install(bucket string, s *snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch bucket {
	case bus.BucketCameras:
		t.cams = s.cams
	case bus.BucketEdges:
		t.sessions = s.sessions
	case bus.BucketLeases:
		t.leases = s.leases
		t.maxRev = max(t.maxRev, s.maxRev)
	}
	if t.loaded++; t.loaded == 3 {
		close(t.ready)
	}
	t.notify()
}

func deleted(e jetstream.KeyValueEntry) bool {
	return e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
}

func loadCamera(e jetstream.KeyValueEntry, s *snapshot) {
	if deleted(e) {
		delete(s.cams, e.Key())
		return
	}
	var c Camera
	if json.Unmarshal(e.Value(), &c) == nil && c.ID == e.Key() {
		s.cams[c.ID] = c
	}
}

func loadSession(e jetstream.KeyValueEntry, s *snapshot) {
	if deleted(e) {
		delete(s.sessions, e.Key())
		return
	}
	var v Session
	if json.Unmarshal(e.Value(), &v) == nil && v.Edge == e.Key() {
		s.sessions[v.Edge] = sessionEntry{Session: v, Renewed: e.Created()}
	}
}

func loadLease(e jetstream.KeyValueEntry, s *snapshot) {
	le := leaseEntry{Rev: e.Revision(), Created: e.Created(), Deleted: deleted(e)}
	if !le.Deleted && json.Unmarshal(e.Value(), &le.Record) != nil {
		return
	}
	s.maxRev = max(s.maxRev, le.Rev)
	h := s.leases[e.Key()]
	i, found := slices.BinarySearchFunc(h, le.Rev, func(x leaseEntry, rev uint64) int { return cmp.Compare(x.Rev, rev) })
	if found {
		return
	}
	h = slices.Insert(h, i, le)
	if len(h) > history {
		h = h[len(h)-history:]
	}
	s.leases[e.Key()] = h
}

// Errors of the fence (Check). ErrStale, ErrNotHolder and ErrNotEligible are final; ErrUnknownEpoch
// means the table has not seen the epoch yet (it was written a moment ago): try again shortly.
var (
	ErrStale        = errors.New("lease epoch stale: the camera had changed hands when the event was made")
	ErrNotHolder    = errors.New("the sending edge never held the camera under this epoch")
	ErrNotEligible  = errors.New("the sending edge may not hold this camera")
	ErrUnknownEpoch = errors.New("lease epoch not known yet")
)

// Check is the center's fence. An event of camera made by edge under epoch at produced (the edge's
// clock) is accepted when edge took the camera at that epoch and the next change of the camera's
// lease, if any, came after produced: events an edge made while it held the camera are accepted
// even when they arrive late (after an outage, from the outbox); events it made after the camera
// moved on are refused. A holder stops ingesting before its lease can expire (Holder) and before it
// releases one, so an honest edge's events pass unless its clock is off by more than that margin.
func (t *Table) Check(camera, edge string, epoch uint64, produced time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.cams[camera]; ok && !c.Eligible(edge) {
		t.refused.WithLabelValues("not_eligible").Inc()
		return fmt.Errorf("camera %s, edge %s: %w", camera, edge, ErrNotEligible)
	}
	h := t.leases[camera]
	i, found := slices.BinarySearchFunc(h, epoch, func(x leaseEntry, rev uint64) int { return cmp.Compare(x.Rev, rev) })
	if !found {
		if epoch > t.maxRev {
			return fmt.Errorf("camera %s, epoch %d: %w", camera, epoch, ErrUnknownEpoch)
		}
		t.refused.WithLabelValues("stale").Inc()
		return fmt.Errorf("camera %s, epoch %d (older than the history kept, or never the camera's): %w", camera, epoch, ErrStale)
	}
	if h[i].Deleted || h[i].Edge != edge {
		t.refused.WithLabelValues("not_holder").Inc()
		return fmt.Errorf("camera %s, epoch %d, edge %s: %w", camera, epoch, edge, ErrNotHolder)
	}
	if i+1 < len(h) && !produced.Before(h[i+1].Created) {
		t.refused.WithLabelValues("stale").Inc()
		return fmt.Errorf("camera %s, epoch %d: made %s, the camera changed hands %s: %w",
			camera, epoch, produced.Format(time.RFC3339Nano), h[i+1].Created.Format(time.RFC3339Nano), ErrStale)
	}
	return nil
}

// Fence wraps the center's handler with Check: refused events are terminated (bus.Refuse), events
// of an epoch not seen yet are delivered again.
func (t *Table) Fence(next bus.Handler) bus.Handler {
	return func(ctx context.Context, d bus.Delivery) error {
		if err := t.Check(d.Camera, d.Edge, d.Epoch, d.Produced); err != nil {
			if errors.Is(err, ErrUnknownEpoch) {
				return err
			}
			return bus.Refuse(err)
		}
		return next(ctx, d)
	}
}

// CameraState is one camera's assignment.
type CameraState struct {
	Camera string
	// Edge holds the camera under Epoch since Since (the server's clock); empty when nobody does.
	Edge  string
	Epoch uint64
	Since time.Time
	// Live is false when the holder's session has ended (it died or was cut off): the camera is
	// waiting for another edge, or for its pinned edge to come back.
	Live     bool
	Eligible []string
	// Health is the camera's stream as its live holder last reported it (zero when none did).
	Health camevent.Health
}

// EdgeState is one live edge.
type EdgeState struct {
	Edge     string
	Capacity int
	// Cameras it holds by the lease table; OutboxRecords and OutboxOldest as it last reported.
	Cameras       int
	OutboxRecords int
	OutboxOldest  time.Time
	// Renewed is the server's time of its last session renewal.
	Renewed time.Time
}

// current returns a camera's latest lease, if it is held.
func (t *Table) current(camera string) (leaseEntry, bool) {
	h := t.leases[camera]
	if len(h) == 0 || h[len(h)-1].Deleted {
		return leaseEntry{}, false
	}
	return h[len(h)-1], true
}

func (t *Table) live(r Record) bool {
	s, ok := t.sessions[r.Edge]
	return ok && s.ID == r.Session
}

// Cameras lists every camera of the list with its holder, by camera id.
func (t *Table) Cameras() []CameraState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]CameraState, 0, len(t.cams))
	for id, c := range t.cams {
		cs := CameraState{Camera: id, Eligible: c.Edges}
		if le, ok := t.current(id); ok {
			cs.Edge, cs.Epoch, cs.Since, cs.Live = le.Edge, le.Rev, le.Created, t.live(le.Record)
			if cs.Live {
				cs.Health = t.sessions[le.Edge].Health[id]
			}
		}
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Camera < out[j].Camera })
	return out
}

// Edges lists the live edges with their load, by edge id.
func (t *Table) Edges() []EdgeState {
	t.mu.Lock()
	defer t.mu.Unlock()
	held := map[string]int{}
	for id := range t.leases {
		if le, ok := t.current(id); ok && t.live(le.Record) {
			held[le.Edge]++
		}
	}
	out := make([]EdgeState, 0, len(t.sessions))
	for id, s := range t.sessions {
		out = append(out, EdgeState{Edge: id, Capacity: s.Capacity, Cameras: held[id], OutboxRecords: s.OutboxRecords,
			OutboxOldest: s.OutboxOldest, Renewed: s.Renewed})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Edge < out[j].Edge })
	return out
}

// Owner is the edge holding camera now, with its epoch; ok is false when no live edge does.
func (t *Table) Owner(camera string) (edge string, epoch uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	le, held := t.current(camera)
	if !held || !t.live(le.Record) {
		return "", 0, false
	}
	return le.Edge, le.Rev, true
}

// Span is part of a time window during which one edge held a camera.
type Span struct {
	Edge     string
	Epoch    uint64
	From, To time.Time
}

// Holders splits [from, to) by who held the camera, by the lease history (the server's times of
// each change). Parts nobody held (released, or before the history kept) are not in the result.
func (t *Table) Holders(camera string, from, to time.Time) []Span {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.leases[camera]
	var out []Span
	for i, le := range h {
		if le.Deleted {
			continue
		}
		end := to
		if i+1 < len(h) {
			end = h[i+1].Created
		}
		s, e := maxTime(from, le.Created), minTime(to, end)
		if s.Before(e) {
			out = append(out, Span{Edge: le.Edge, Epoch: le.Rev, From: s, To: e})
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var (
	descHolder   = prometheus.NewDesc("snowlight_camera_holder", "1 for the edge holding each camera (live session), by camera and edge.", []string{"camera", "edge"}, nil)
	descUnheld   = prometheus.NewDesc("snowlight_cameras_unassigned", "Cameras of the list no live edge holds.", nil, nil)
	descCameras  = prometheus.NewDesc("snowlight_edge_cameras", "Cameras each live edge holds.", []string{"edge"}, nil)
	descCapacity = prometheus.NewDesc("snowlight_edge_capacity", "Cameras each live edge declared it can hold.", []string{"edge"}, nil)
	descOutbox   = prometheus.NewDesc("snowlight_edge_outbox_records", "Undelivered events in each edge's outbox, as last reported.", []string{"edge"}, nil)
	descOldest   = prometheus.NewDesc("snowlight_edge_outbox_oldest_seconds", "Age of the oldest undelivered event of each edge's outbox, as last reported.", []string{"edge"}, nil)
)

// Describe implements prometheus.Collector: the table's state is read at each scrape.
func (t *Table) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHolder, descUnheld, descCameras, descCapacity, descOutbox, descOldest} {
		ch <- d
	}
	t.refused.Describe(ch)
}

// Collect implements prometheus.Collector.
func (t *Table) Collect(ch chan<- prometheus.Metric) {
	unheld := 0
	for _, c := range t.Cameras() {
		if c.Edge == "" || !c.Live {
			unheld++
			continue
		}
		ch <- prometheus.MustNewConstMetric(descHolder, prometheus.GaugeValue, 1, c.Camera, c.Edge)
	}
	ch <- prometheus.MustNewConstMetric(descUnheld, prometheus.GaugeValue, float64(unheld))
	for _, e := range t.Edges() {
		ch <- prometheus.MustNewConstMetric(descCameras, prometheus.GaugeValue, float64(e.Cameras), e.Edge)
		ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(e.Capacity), e.Edge)
		ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(e.OutboxRecords), e.Edge)
		age := 0.0
		if !e.OutboxOldest.IsZero() {
			age = time.Since(e.OutboxOldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, e.Edge)
	}
	t.refused.Collect(ch)
}
