package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"snowlight/bus"
	"snowlight/camevent"
)

// Lease is an edge's hold on one camera. It is immutable but for the sequence counter.
type Lease struct {
	Camera, Edge string
	// Session is the holder's session id, Epoch the revision of the claim.
	Session string
	Epoch   uint64
	// Acquired is when the claim succeeded (the edge's clock).
	Acquired time.Time
	// Pinned: no other edge may hold the camera, so the holder keeps it through an outage.
	Pinned bool
	seq    atomic.Uint64
}

// Stamp fills the envelope of an event about the lease's camera: edge, camera, epoch, the next
// sequence number, and the production time, now.
func (l *Lease) Stamp(e *bus.Event) {
	e.Edge, e.Camera, e.Epoch, e.Seq, e.Produced = l.Edge, l.Camera, l.Epoch, l.seq.Add(1), time.Now()
}

// Reason says why a camera was released.
type Reason string

const (
	// ReasonRebalance: handed on to an edge below its share, or gone from the list.
	ReasonRebalance Reason = "rebalance"
	// ReasonFenced: the edge could not renew its session in time, so another may take the camera.
	ReasonFenced Reason = "fenced"
	// ReasonLost: another edge holds the camera now.
	ReasonLost Reason = "lost"
)

// HolderOptions configure an edge's Holder.
type HolderOptions struct {
	Edge     string
	Capacity int
	// Hysteresis: an edge hands cameras on only when it holds more than its target plus this
	// (default max(1, Capacity/10)).
	Hysteresis int
	// MinHold: a camera is not handed on sooner than this after it was taken (default 30 s).
	MinHold time.Duration
	// OrphanGrace: an edge at or above its target takes an orphan only after this (default 2 s),
	// leaving it to edges below target first.
	OrphanGrace time.Duration
	// Margin: the edge stops ingesting cameras others may take this long before its session could
	// expire on the server (default 1 s, or TTL/6 if smaller): it covers the clocks' difference
	// between the edge and the servers.
	Margin time.Duration

	// Acquired is called when the edge takes a camera: start ingesting it (stamp its events with
	// the lease). It must not block for long; the holder's loop waits for it.
	Acquired func(l *Lease)
	// Released is called when the edge must stop ingesting a camera, before the lease is given
	// up: it must return once the camera's ingest has stopped and its last events are published.
	Released func(camera string, why Reason)
	// Outbox, when set, reports the edge's undelivered events for the session (its lag).
	Outbox func() (records int, oldest time.Time)
	// Health, when set, reports the held cameras' streams for the session.
	Health func() map[string]camevent.Health
	Logger *slog.Logger
}

// Holder keeps an edge's session and claims, holds and releases its cameras.
type Holder struct {
	opts  HolderOptions
	table *Table
	js    jetstream.JetStream
	nc    *nats.Conn
	log   *slog.Logger
	ttl   time.Duration

	edges, leases jetstream.KeyValue

	mu          sync.Mutex
	held        map[string]*Lease
	session     Session
	sessionRev  uint64
	deadline    time.Time // after it, the session may have expired on the server
	renewed     time.Time // when the last renewal was sent
	orphanSince map[string]time.Time
}

// NewHolder makes an edge's holder on nc (the edge's own connection).
func NewHolder(nc *nats.Conn, opts HolderOptions) (*Holder, error) {
	if err := bus.CheckID("edge", opts.Edge); err != nil {
		return nil, err
	}
	if opts.Capacity <= 0 {
		return nil, fmt.Errorf("edge %s: capacity must be at least one camera", opts.Edge)
	}
	if opts.Hysteresis <= 0 {
		opts.Hysteresis = max(1, opts.Capacity/10)
	}
	if opts.MinHold == 0 {
		opts.MinHold = 30 * time.Second
	}
	if opts.OrphanGrace == 0 {
		opts.OrphanGrace = 2 * time.Second
	}
	if opts.Acquired == nil || opts.Released == nil {
		return nil, errors.New("lease holder: Acquired and Released are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("edge", opts.Edge)
	t, err := NewTable(nc, log)
	if err != nil {
		return nil, err
	}
	return &Holder{opts: opts, table: t, js: t.js, nc: nc, log: log, held: map[string]*Lease{}, orphanSince: map[string]time.Time{}}, nil
}

// Table is the holder's view of the buckets.
func (h *Holder) Table() *Table { return h.table }

// Lease returns the edge's lease on camera, if it holds it.
func (h *Holder) Lease(camera string) (*Lease, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.held[camera]
	return l, ok
}

// Leases lists what the edge holds.
func (h *Holder) Leases() []*Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Lease, 0, len(h.held))
	for _, l := range h.held {
		out = append(out, l)
	}
	return out
}

// Run keeps the session and the cameras until ctx ends. It then returns without releasing anything,
// as a crash would: the session expires and others take the cameras. For a handover without that
// wait, call Drain after Run returned.
func (h *Holder) Run(ctx context.Context) error {
	// An edge may start while its link is down: wait for the buckets.
	for logged := false; ; {
		err := h.bind(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, errNoTTL) {
			return err
		}
		if !logged {
			h.log.Warn("lease buckets unreachable; trying again", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	if h.opts.Margin <= 0 {
		h.opts.Margin = min(time.Second, h.ttl/6)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		if err := h.table.Run(tctx); err != nil {
			h.log.Error("lease table stopped", "err", err)
		}
	})
	select {
	case <-ctx.Done():
		return nil
	case <-h.table.Ready():
	}
	tick := time.NewTicker(max(h.ttl/6, 100*time.Millisecond))
	defer tick.Stop()
	for {
		changed := h.table.Changed()
		planning := h.step(ctx)
		// The fence must not wait for the next tick: a tick as long as the margin would let the
		// session expire on the server, and another edge take the cameras, while they still run here.
		var fence <-chan time.Time
		if wait := time.Until(h.deadline); wait > 0 && h.fences() {
			fence = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-fence:
		case <-changed:
			// A burst of changes (the center publishing thousands of cameras, other edges claiming
			// theirs) is planned once per pause: planning reads the whole table, and replanning at
			// every change made leasing quadratic in the cameras. The pause keeps planning under a
			// fifth of the edge's time and adds at most coalesceMax to a camera's move.
			select {
			case <-ctx.Done():
				return nil
			case <-fence:
			case <-time.After(min(coalesceMax, max(coalesceMin, 4*planning))):
			}
		}
	}
}

// The pause after a table change before the holder plans again (Run): at least coalesceMin, four
// times the last planning's duration, at most coalesceMax.
const (
	coalesceMin = 20 * time.Millisecond
	coalesceMax = 500 * time.Millisecond
)

// claimsInFlight bounds the claims (compare-and-set round trips) a step has outstanding at once.
const claimsInFlight = 32

var errNoTTL = fmt.Errorf("lease holder: bucket %s has no TTL; provision it with lease.Provision", bus.BucketEdges)

// bind finds the sessions and leases buckets and the session TTL.
func (h *Holder) bind(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	if h.edges, err = h.js.KeyValue(bctx, bus.BucketEdges); err != nil {
		return fmt.Errorf("lease holder: %w", err)
	}
	if h.leases, err = h.js.KeyValue(bctx, bus.BucketLeases); err != nil {
		return fmt.Errorf("lease holder: %w", err)
	}
	st, err := h.edges.Status(bctx)
	if err != nil {
		return fmt.Errorf("lease holder: %w", err)
	}
	if h.ttl = st.TTL(); h.ttl <= 0 {
		return errNoTTL
	}
	return nil
}

// step renews the session when due, fences when it could not, notices cameras lost to others, and
// carries out the plan. It returns how long planning took.
func (h *Holder) step(ctx context.Context) (planning time.Duration) {
	now := time.Now()
	// While the link is down there is nothing to try (the connection says so in the log); the fence
	// below still runs on time.
	connected := h.nc.IsConnected()
	if connected && (h.sessionRev == 0 || now.Sub(h.renewed) >= h.ttl/3) {
		h.renew(ctx)
	}
	if !time.Now().Before(h.deadline) {
		h.fence()
		return 0
	}
	if !connected {
		return 0
	}
	// Nothing below may keep the loop past the deadline, when it must fence (a link that died
	// silently makes every request wait for its timeout).
	ctx, cancel := context.WithDeadline(ctx, h.deadline)
	defer cancel()
	h.noticeLost()
	in := h.planInput(now)
	p := makePlan(in)
	planning = time.Since(now)
	for _, c := range p.releases {
		h.release(ctx, c, ReasonRebalance)
	}
	// Claims go out claimsInFlight at a time (one at a time, 10,000 cameras took one round trip
	// each); each batch's winners are taken in the plan's order.
	for batch := range slices.Chunk(p.claims, claimsInFlight) {
		if ctx.Err() != nil {
			return planning
		}
		h.claimAll(ctx, batch, in.cams)
	}
	return planning
}

func newSessionID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// renew renews the session, or starts one when there is none or it expired on the server.
func (h *Holder) renew(ctx context.Context) {
	h.mu.Lock()
	s := h.session
	s.Edge, s.Capacity, s.Cameras = h.opts.Edge, h.opts.Capacity, len(h.held)
	h.mu.Unlock()
	if h.opts.Outbox != nil {
		s.OutboxRecords, s.OutboxOldest = h.opts.Outbox()
	}
	if h.opts.Health != nil {
		s.Health = h.opts.Health()
	}
	sent := time.Now()
	limit := sent.Add(h.ttl / 3)
	if h.sessionRev != 0 && h.deadline.After(sent) && h.deadline.Before(limit) {
		limit = h.deadline
	}
	rctx, cancel := context.WithDeadline(ctx, limit)
	defer cancel()
	if h.sessionRev != 0 {
		b, _ := json.Marshal(s)
		rev, err := h.edges.Update(rctx, h.opts.Edge, b, h.sessionRev)
		if err == nil {
			h.sessionRev, h.renewed, h.deadline = rev, sent, sent.Add(h.ttl-h.opts.Margin)
			return
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			h.log.Warn("session renewal failed", "err", err)
			return
		}
		h.log.Warn("session expired on the server; starting a new one", "err", err)
	}
	s.ID = newSessionID()
	b, _ := json.Marshal(s)
	rev, err := h.edges.Create(rctx, h.opts.Edge, b)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Our previous life's session (a restart), or another process with our id: wait for it
			// to expire rather than take it.
			h.log.Warn("a session of this edge id is still alive; waiting for it to expire", "ttl", h.ttl)
		} else {
			h.log.Warn("starting a session failed", "err", err)
		}
		return
	}
	h.mu.Lock()
	h.session = s
	h.mu.Unlock()
	h.sessionRev, h.renewed, h.deadline = rev, sent, sent.Add(h.ttl-h.opts.Margin)
	h.log.Info("session started", "session", s.ID, "capacity", s.Capacity)
}

// fences reports whether the holder holds a camera the fence would stop.
func (h *Holder) fences() bool {
	for _, l := range h.Leases() {
		if !l.Pinned {
			return true
		}
	}
	return false
}

// fence stops the cameras another edge may take once the session may have expired on the server.
func (h *Holder) fence() {
	for _, l := range h.Leases() {
		if l.Pinned {
			continue
		}
		h.log.Warn("could not renew the session in time; stopping the camera", "camera", l.Camera)
		h.opts.Released(l.Camera, ReasonFenced)
		h.drop(l.Camera)
	}
}

// noticeLost stops cameras the table shows in another edge's hands.
func (h *Holder) noticeLost() {
	for _, l := range h.Leases() {
		h.table.mu.Lock()
		h2 := h.table.leases[l.Camera]
		var last leaseEntry
		if len(h2) > 0 {
			last = h2[len(h2)-1]
		}
		h.table.mu.Unlock()
		if last.Rev > l.Epoch && (last.Deleted || last.Edge != h.opts.Edge) {
			h.log.Warn("camera taken by another edge", "camera", l.Camera, "by", last.Edge, "epoch", last.Rev)
			h.opts.Released(l.Camera, ReasonLost)
			h.drop(l.Camera)
		}
	}
}

func (h *Holder) drop(camera string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.held, camera)
}

func (h *Holder) planInput(now time.Time) planInput {
	t := h.table
	t.mu.Lock()
	in := planInput{me: h.opts.Edge, now: now, cams: make(map[string]Camera, len(t.cams)),
		sessions: make(map[string]sessionEntry, len(t.sessions)), current: make(map[string]leaseEntry, len(t.leases)),
		orphanSince: h.orphanSince, opts: h.opts}
	for k, v := range t.cams {
		in.cams[k] = v
	}
	for k, v := range t.sessions {
		in.sessions[k] = v
	}
	for k, v := range t.leases {
		if len(v) > 0 {
			in.current[k] = v[len(v)-1]
		}
	}
	t.mu.Unlock()
	h.mu.Lock()
	in.held = make(map[string]*Lease, len(h.held))
	for k, v := range h.held {
		in.held[k] = v
	}
	h.mu.Unlock()
	// Remember since when each camera has been without a live holder, for OrphanGrace.
	for id := range in.cams {
		if _, live := in.liveHolder(id); live {
			delete(h.orphanSince, id)
		} else if _, seen := h.orphanSince[id]; !seen {
			h.orphanSince[id] = now
		}
	}
	return in
}

// claimAll sends the claims at once and takes the cameras whose compare-and-set succeeded.
func (h *Holder) claimAll(ctx context.Context, claims []claim, cams map[string]Camera) {
	h.mu.Lock()
	sess := h.session
	h.mu.Unlock()
	b, _ := json.Marshal(Record{Edge: h.opts.Edge, Session: sess.ID})
	cctx, cancel := context.WithTimeout(ctx, h.ttl/3)
	defer cancel()
	revs := make([]uint64, len(claims))
	var wg sync.WaitGroup
	for i, c := range claims {
		wg.Go(func() {
			rev, err := h.leases.Update(cctx, c.camera, b, c.rev)
			if err != nil {
				if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					h.log.Warn("claim failed", "camera", c.camera, "err", err)
				}
				return // someone else was faster, or the table was behind; the next step sees
			}
			revs[i] = rev
		})
	}
	wg.Wait()
	for i, c := range claims {
		if revs[i] != 0 {
			h.take(c.camera, sess.ID, revs[i], cams[c.camera])
		}
	}
}

// take holds the camera under the lease of revision rev, and starts it unless the edge held it
// already (a claim again under a new session).
func (h *Holder) take(camera, session string, rev uint64, cam Camera) {
	h.mu.Lock()
	old, reclaim := h.held[camera]
	h.mu.Unlock()
	l := &Lease{Camera: camera, Edge: h.opts.Edge, Session: session, Epoch: rev, Acquired: time.Now(), Pinned: cam.PinnedTo(h.opts.Edge)}
	if reclaim {
		// Held through an outage under the previous session: the ingest never stopped, only the
		// epoch its events carry from now on changes.
		l.Acquired = old.Acquired
	}
	h.mu.Lock()
	h.held[camera] = l
	h.mu.Unlock()
	h.log.Info("camera taken", "camera", camera, "epoch", rev, "again", reclaim)
	if !reclaim {
		h.opts.Acquired(l)
	}
}

// release stops the camera and gives up its lease.
func (h *Holder) release(ctx context.Context, camera string, why Reason) {
	l, ok := h.Lease(camera)
	if !ok {
		return
	}
	h.opts.Released(camera, why)
	h.drop(camera)
	dctx, cancel := context.WithTimeout(ctx, h.ttl/3)
	defer cancel()
	if err := h.leases.Delete(dctx, camera, jetstream.LastRevision(l.Epoch)); err != nil {
		// Taken meanwhile, or the link is down: either way it is no longer ours, and without our
		// session the lease dies with it.
		h.log.Warn("releasing the lease failed", "camera", camera, "err", err)
		return
	}
	h.log.Info("camera handed on", "camera", camera, "why", why)
}

// Drain releases every camera and ends the session, for a handover without waiting for the session
// to expire. Call it after Run returned.
func (h *Holder) Drain(ctx context.Context) error {
	if h.edges == nil {
		return nil
	}
	for _, l := range h.Leases() {
		h.release(ctx, l.Camera, ReasonRebalance)
	}
	if h.sessionRev == 0 {
		return nil
	}
	if err := h.edges.Delete(ctx, h.opts.Edge, jetstream.LastRevision(h.sessionRev)); err != nil {
		return fmt.Errorf("end session of %s: %w", h.opts.Edge, err)
	}
	return nil
}
