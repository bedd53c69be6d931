package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/rpc"
	"snowlight/bus/watchsync"
	"snowlight/camevent"
	"snowlight/center"
	"snowlight/live"
	"snowlight/store"
	"snowlight/watchlist"
)

// NATS is the hook of Options.Cameras for a center whose cameras are on edges (`snowlight center`):
// it provisions the events stream and the buckets, publishes the camera list, keeps the lease table,
// distributes the watch list, consumes the edges' events through the fence into the intake, and
// relays evidence, live view and enrolment requests to the edges (Deployment.NATS says where).
func NATS(r Resources) (Cameras, error) {
	n := r.Deployment.NATS
	if len(n.Connect.URLs) == 0 {
		return nil, errors.New("nats: no server URLs (nats.urls)")
	}
	if r.Store == nil {
		return nil, errors.New("nats: the center needs its database")
	}
	o := n.Connect
	o.Name, o.Edge, o.Logger = "center", "", r.Log
	nc, err := bus.Connect(context.Background(), o)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	table, err := lease.NewTable(nc, r.Log)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &natsCameras{r: r, log: r.Log.With("component", "bus"), nc: nc, js: js, table: table, client: rpc.NewClient(nc, table),
		metrics: bus.NewMetrics(r.Registry), ready: make(chan struct{}), sessions: map[string]*relayed{}}
	if err := r.Registry.Register(table); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	return c, nil
}

// natsCameras is the center's side of the bus.
type natsCameras struct {
	r       Resources
	log     *slog.Logger
	nc      *nats.Conn
	js      jetstream.JetStream
	table   *lease.Table
	client  *rpc.Client
	metrics *bus.Metrics

	ready  chan struct{} // closed once the stream and buckets are provisioned
	source *watchsync.Source

	mu       sync.Mutex
	sessions map[string]*relayed
}

// relayed is a live view relayed to the edge that answered it.
type relayed struct {
	edge, camera string
	done         chan struct{}
	once         sync.Once
}

func (v *relayed) end() { v.once.Do(func() { close(v.done) }) }

// Run provisions what the center owns on the bus (trying again while NATS is unreachable), then keeps
// the lease table, the watch list's heartbeat and the consumer running until ctx ends.
func (c *natsCameras) Run(ctx context.Context, in center.Intake) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := c.table.Run(ctx); err != nil {
			c.log.Error("lease table stopped", "err", err)
		}
	})
	if !c.provision(ctx) {
		return nil
	}
	wg.Go(func() {
		if err := c.source.Run(ctx); err != nil {
			c.log.Error("watch-list source stopped", "err", err)
		}
	})
	wg.Go(func() { c.superviseLive(ctx) })
	wg.Go(func() { c.prune(ctx) })
	return bus.ConsumeBatches(ctx, c.js, bus.ConsumerOptions{Metrics: c.metrics, Logger: c.log, DeadLetter: c.deadLetter},
		func(ctx context.Context, ds []bus.Delivery) []error { return c.apply(ctx, ds, in) })
}

// provision creates (or updates) the stream and buckets, publishes the cameras and the watch list;
// it tries again every few seconds while that fails, and reports false when ctx ended first.
func (c *natsCameras) provision(ctx context.Context) bool {
	n := c.r.Deployment.NATS
	step := func() error {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := bus.ProvisionEvents(pctx, c.js, n.Stream); err != nil {
			return err
		}
		if err := lease.Provision(pctx, c.js, n.Leases); err != nil {
			return err
		}
		if err := watchsync.Provision(pctx, c.js, n.Stream.Replicas); err != nil {
			return err
		}
		if err := lease.PublishCameras(pctx, c.js, c.r.Deployment.LeaseCameras()); err != nil {
			return err
		}
		src, err := watchsync.NewSource(pctx, c.js, 0, c.log)
		if err != nil {
			return err
		}
		persons, err := c.r.Store.Watchlist().Active(pctx, c.r.Now())
		if err != nil {
			return err
		}
		if err := src.Sync(pctx, persons); err != nil {
			return err
		}
		c.mu.Lock()
		c.source = src
		c.mu.Unlock()
		return nil
	}
	for logged := false; ; {
		err := step()
		if err == nil {
			close(c.ready)
			c.log.Info("bus provisioned: stream, buckets, cameras and watch list in place", "cameras", len(c.r.Deployment.LeaseCameras()))
			return true
		}
		if !logged {
			c.log.Warn("nats not ready; trying again", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(2 * time.Second):
		}
	}
}

// Ledger and dead letters are kept this long: the ledger longer than any event can still arrive (an
// edge's outbox through a long outage, the stream's backlog), dead letters for people to look at.
const (
	keepApplied = 7 * 24 * time.Hour
	keepDead    = 30 * 24 * time.Hour
)

// prune forgets old ledger entries and dead letters every hour until ctx ends.
func (c *natsCameras) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := c.r.Now()
		if n, err := c.r.Store.PruneBus(ctx, now.Add(-keepApplied), now.Add(-keepDead)); err != nil && ctx.Err() == nil {
			c.log.Error("pruning the bus ledger failed", "err", err)
		} else if n > 0 {
			c.log.Info("bus ledger pruned", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// apply fences a batch of deliveries, decodes them and hands them to the intake; its verdicts are
// the consumer's (bus.BatchHandler).
func (c *natsCameras) apply(ctx context.Context, ds []bus.Delivery, in center.Intake) []error {
	errs := make([]error, len(ds))
	items := make([]center.Item, 0, len(ds))
	at := make([]int, 0, len(ds))
	for i, d := range ds {
		if err := c.table.Check(d.Camera, d.Edge, d.Epoch, d.Produced); err != nil {
			if errors.Is(err, lease.ErrUnknownEpoch) {
				errs[i] = err // the table has not seen the claim yet: again shortly
			} else {
				errs[i] = bus.Refuse(err)
			}
			continue
		}
		it, err := center.FromBus(d)
		if err != nil {
			errs[i] = bus.Refuse(err)
			continue
		}
		items = append(items, it)
		at = append(at, i)
	}
	if len(items) == 0 {
		return errs
	}
	for j, err := range in(ctx, items) {
		errs[at[j]] = err
	}
	return errs
}

// deadLetter keeps an event given up on for people to look at.
func (c *natsCameras) deadLetter(ctx context.Context, d bus.Delivery, err error) {
	if serr := c.r.Store.SaveDeadLetter(context.WithoutCancel(ctx), store.DeadLetter{At: time.Now(), Edge: d.Edge, Camera: d.Camera,
		Kind: d.Kind, MsgID: d.MessageID(), Epoch: d.Epoch, Seq: d.Seq, Produced: d.Produced, Reason: err.Error(), Payload: d.Payload}); serr != nil {
		c.log.Error("dead letter not kept", "event", d.MessageID(), "err", serr)
	}
}

// Health is what the edges last reported of the cameras they hold (with their sessions).
func (c *natsCameras) Health() map[string]camevent.Health {
	out := map[string]camevent.Health{}
	for _, cs := range c.table.Cameras() {
		if cs.Edge == "" || !cs.Live {
			continue
		}
		h := cs.Health
		if h.State == "" {
			h.State = "connecting" // taken a moment ago, not yet reported
		}
		out[cs.Camera] = h
	}
	return out
}

// Assignments are the lease table's view of cameras and edges, for the API.
func (c *natsCameras) Assignments() ([]lease.CameraState, []lease.EdgeState) {
	return c.table.Cameras(), c.table.Edges()
}

// Lag is how far the center's consumer is behind.
func (c *natsCameras) Lag(ctx context.Context) (bus.Lag, error) {
	select {
	case <-c.ready:
	default:
		return bus.Lag{}, errors.New("the bus is not provisioned yet")
	}
	return bus.ConsumerLag(ctx, c.js, "", nil)
}

func (c *natsCameras) Clip(ctx context.Context, r rpc.ClipRequest) (rpc.Evidence, error) {
	return c.client.Clip(ctx, r)
}

func (c *natsCameras) Embed(ctx context.Context, r rpc.EmbedRequest) (rpc.EmbedReply, error) {
	return c.client.Embed(ctx, r)
}

// Offer relays a viewer's offer to the edge holding the camera; the media flows from that edge to
// the browser.
func (c *natsCameras) Offer(ctx context.Context, camera, offer string) (string, string, error) {
	if _, ok := c.r.Deployment.Camera(camera); !ok {
		return "", "", fmt.Errorf("camera %s: %w", camera, live.ErrNoCamera)
	}
	a, edge, err := c.client.WHEP(ctx, rpc.WHEPOffer{Camera: camera, SDP: offer})
	switch {
	case errors.Is(err, rpc.ErrInvalid):
		return "", "", kindErr{err, live.ErrBadOffer}
	case err != nil:
		// No holder, the holder without video, too many viewers there, or no answer: try again later.
		return "", "", kindErr{err, live.ErrNoVideo}
	}
	c.mu.Lock()
	c.sessions[a.Session] = &relayed{edge: edge, camera: camera, done: make(chan struct{})}
	c.mu.Unlock()
	return a.SDP, a.Session, nil
}

// Close ends a relayed live view on the edge that serves it.
func (c *natsCameras) Close(camera, id string) error {
	c.mu.Lock()
	v, ok := c.sessions[id]
	if ok && v.camera == camera {
		delete(c.sessions, id)
	}
	c.mu.Unlock()
	if !ok || v.camera != camera {
		return live.ErrNoSession
	}
	v.end()
	ctx, cancel := context.WithTimeout(context.Background(), c.client.WHEPTimeout)
	defer cancel()
	if err := c.client.WHEPClose(ctx, v.edge, rpc.WHEPClose{Camera: camera, Session: id}); err != nil && !errors.Is(err, rpc.ErrUnknown) {
		return fmt.Errorf("close live view %s on edge %s: %w", id, v.edge, err)
	}
	return nil
}

// Done is closed when a relayed live view ended, whatever ended it (superviseLive asks the edges).
func (c *natsCameras) Done(id string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.sessions[id]; ok {
		return v.done
	}
	done := make(chan struct{})
	close(done)
	return done
}

// liveCheck is how often the edges are asked whether the views they serve are still on.
const liveCheck = 2 * time.Second

// superviseLive ends the relayed views an edge no longer serves (the viewer went, the edge died or
// the camera moved), until ctx ends.
func (c *natsCameras) superviseLive(ctx context.Context) {
	t := time.NewTicker(liveCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		views := maps.Clone(c.sessions)
		c.mu.Unlock()
		for id, v := range views {
			actx, cancel := context.WithTimeout(ctx, liveCheck)
			alive, err := c.client.WHEPAlive(actx, v.edge, rpc.WHEPClose{Camera: v.camera, Session: id})
			cancel()
			if err == nil && alive || err != nil && ctx.Err() != nil {
				continue
			}
			c.mu.Lock()
			delete(c.sessions, id)
			c.mu.Unlock()
			v.end()
		}
	}
}

// SyncWatchList gives the edges exactly these persons, once the bucket exists (the provisioning
// gives them the list as the database has it then).
func (c *natsCameras) SyncWatchList(ctx context.Context, persons []watchlist.Person) error {
	c.mu.Lock()
	src := c.source
	c.mu.Unlock()
	if src == nil {
		return nil
	}
	return src.Sync(ctx, persons)
}

func (c *natsCameras) PutPerson(ctx context.Context, p watchlist.Person) error {
	src, err := c.watchSource()
	if err != nil {
		return err
	}
	return src.Put(ctx, p)
}

func (c *natsCameras) RemovePerson(ctx context.Context, id string) error {
	src, err := c.watchSource()
	if err != nil {
		return err
	}
	return src.Remove(ctx, id)
}

func (c *natsCameras) watchSource() (*watchsync.Source, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.source == nil {
		return nil, errors.New("the watch list is not on the bus yet: NATS is unreachable (edges match nobody meanwhile)")
	}
	return c.source, nil
}

func (c *natsCameras) Shutdown() {
	c.nc.Close()
}
