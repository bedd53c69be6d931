package edge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/outbox"
	"snowlight/bus/rpc"
	"snowlight/bus/watchsync"
	"snowlight/camevent"
	"snowlight/center"
	"snowlight/live"
	"snowlight/tracks"
)

// drainTimeout bounds the handover at shutdown: stopping the cameras, queueing their last events and
// sending what the outbox holds while the link is up.
const drainTimeout = 30 * time.Second

// RunNATS runs this process as an edge of a distributed deployment (Deployment.NATS says which, with
// which credentials and capacity) until ctx ends: it keeps a session, takes the cameras the leases
// give it and runs them, publishes what they report through its outbox (an outage of the link loses
// nothing), keeps the watch list the center distributes in memory, and answers the center's
// requests. When ctx ends it hands its cameras on without waiting for its session to expire: each is
// stopped and its last events queued, the leases and the session are given up, and the outbox is
// flushed while the link is up.
func (e *Edge) RunNATS(ctx context.Context) error {
	n := e.o.Deployment.NATS
	if n.Edge == "" || n.Capacity <= 0 {
		return errors.New("edge: the edge's id and capacity are required (nats.edge, nats.capacity)")
	}
	log := e.log.With("edge", n.Edge)
	co := n.Connect
	co.Name, co.Edge, co.Logger = n.Edge, n.Edge, log
	nc, err := bus.Connect(ctx, co)
	if err != nil {
		return err
	}
	defer nc.Close()
	ob, err := outbox.Open(n.OutboxDir, outbox.Options{MaxBytes: n.OutboxBytes})
	if err != nil {
		return fmt.Errorf("edge outbox: %w", err)
	}
	defer ob.Close()
	pub, err := bus.NewPublisher(nc, ob, bus.PublisherOptions{Metrics: bus.NewMetrics(e.o.Registry), Logger: log})
	if err != nil {
		return err
	}
	holder, err := lease.NewHolder(nc, lease.HolderOptions{Edge: n.Edge, Capacity: n.Capacity,
		Acquired: e.acquire, Released: e.release, Health: e.Health, Logger: e.log,
		Outbox: func() (int, time.Time) { st := pub.Stats(); return st.Records, st.Oldest }})
	if err != nil {
		return err
	}
	replica, err := watchsync.NewReplica(nc, 0, log)
	if err != nil {
		return err
	}
	e.sink = published{pub: pub, holder: holder}

	// The publisher and the camera events outlive ctx: the handover queues and sends more.
	pctx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	fctx, stopForward := context.WithCancel(context.WithoutCancel(ctx))
	var pubs, rest sync.WaitGroup
	pubs.Go(func() {
		if err := pub.Run(pctx); err != nil {
			log.Error("event publisher stopped", "err", err)
		}
	})
	rest.Go(func() { e.forward(fctx) })
	rest.Go(func() { e.forget(ctx) })
	rest.Go(func() {
		if err := replica.Run(ctx); err != nil {
			log.Error("watch-list replica stopped", "err", err)
		}
	})
	rest.Go(func() { e.follow(ctx, replica) })
	rest.Go(func() {
		if err := rpc.Serve(ctx, nc, n.Edge, e.handlers(holder)); err != nil {
			log.Error("requests not served", "err", err)
		}
	})
	runErr := holder.Run(ctx)

	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := holder.Drain(dctx); err != nil {
		log.Warn("handover incomplete: the session expires on its own", "err", err)
	}
	e.stopAll()
	stopForward()
	rest.Wait()
	for pub.Stats().Records > 0 && nc.IsConnected() && dctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if st := pub.Stats(); st.Records > 0 {
		log.Warn("events left in the outbox: they are sent when the edge starts again", "events", st.Records)
	}
	stopPub()
	pubs.Wait()
	return runErr
}

// acquire starts a camera the edge was given. It must not keep the holder waiting: the camera's
// models are loaded and its stream opened in the background.
func (e *Edge) acquire(l *lease.Lease) {
	cc, ok := e.camerasOf(l.Camera)
	if !ok {
		e.log.Error("leased a camera this edge's configuration does not have: it is not ingested (give every process the same camera list)",
			"camera", l.Camera)
		return
	}
	ready := make(chan struct{})
	e.mu.Lock()
	e.pending[l.Camera] = ready
	e.mu.Unlock()
	go func() {
		defer close(ready)
		c, err := e.build(cc, l)
		e.mu.Lock()
		delete(e.pending, l.Camera)
		e.mu.Unlock()
		if err != nil {
			e.log.Error("camera not started", "camera", l.Camera, "err", err)
			return
		}
		e.mu.Lock()
		e.cams[l.Camera] = c
		e.mu.Unlock()
		e.start(c)
		e.log.Info("camera started", "camera", l.Camera, "epoch", l.Epoch)
	}()
}

// release stops a camera the edge must give up and returns once its last events are in the outbox.
// Its ring stays for a while: the center may still ask for a clip of the time the edge held it.
func (e *Edge) release(camera string, why lease.Reason) {
	e.mu.Lock()
	ready := e.pending[camera]
	e.mu.Unlock()
	if ready != nil {
		<-ready
	}
	e.mu.Lock()
	c := e.cams[camera]
	e.mu.Unlock()
	if c == nil {
		return
	}
	c.stop()
	e.log.Info("camera stopped", "camera", camera, "why", why)
}

// stopAll stops whatever still runs (cameras released by a drain that could not reach NATS are
// stopped by Released too; this is for the rest).
func (e *Edge) stopAll() {
	e.mu.Lock()
	cams := slices.Collect(maps.Values(e.cams))
	e.mu.Unlock()
	for _, c := range cams {
		c.stop()
	}
}

// follow rebuilds the cameras' matcher whenever the replica changes: the active entries while the
// replica hears the center, nobody when it does not (it cannot hear removals then).
func (e *Edge) follow(ctx context.Context, r *watchsync.Replica) {
	for {
		changed := r.Changed()
		snap := r.Snapshot(time.Now())
		if err := e.SyncWatchList(ctx, snap.Persons); err != nil {
			e.log.Error("watch list not applied: matching nobody", "err", err)
			e.matcher.Store(nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// handlers answer the center's requests.
func (e *Edge) handlers(h *lease.Holder) rpc.EdgeHandlers {
	return rpc.EdgeHandlers{
		Clip: e.clip,
		WHEP: func(ctx context.Context, o rpc.WHEPOffer) (rpc.WHEPAnswer, error) {
			answer, id, err := e.live.Offer(ctx, o.Camera, o.SDP)
			switch {
			case errors.Is(err, live.ErrBadOffer):
				return rpc.WHEPAnswer{}, fmt.Errorf("%v: %w", err, rpc.ErrInvalid)
			case errors.Is(err, live.ErrNoCamera):
				return rpc.WHEPAnswer{}, fmt.Errorf("%v: %w", err, rpc.ErrNotHolder)
			case err != nil:
				return rpc.WHEPAnswer{}, fmt.Errorf("%v: %w", err, rpc.ErrUnavailable)
			}
			return rpc.WHEPAnswer{SDP: answer, Session: id}, nil
		},
		WHEPClose: func(_ context.Context, c rpc.WHEPClose) error {
			if err := e.live.Close(c.Camera, c.Session); err != nil {
				return fmt.Errorf("%v: %w", err, rpc.ErrUnknown)
			}
			return nil
		},
		WHEPAlive: func(session string) bool {
			select {
			case <-e.live.Done(session):
				return false
			default:
				return true
			}
		},
		Embed: e.Embed,
		Holds: func(camera string) bool { _, ok := h.Lease(camera); return ok },
	}
}

// published is the sink of an edge: every event goes through the outbox, stamped with the camera's
// lease (the current one: a pinned camera kept through an outage is claimed again under a new epoch
// without stopping; the one it started with while it flushes after a release).
type published struct {
	pub    *bus.Publisher
	holder *lease.Holder
}

func (p published) stamp(c *camera, ev *bus.Event) error {
	l, ok := p.holder.Lease(c.cfg.ID)
	if !ok {
		l = c.lease
	}
	if l == nil {
		return fmt.Errorf("camera %s: no lease", c.cfg.ID)
	}
	l.Stamp(ev)
	return p.pub.Publish(ev)
}

func (p published) sighting(_ context.Context, c *camera, s tracks.SightingEvent) error {
	ev, err := center.SightingEnvelope(s)
	if err != nil {
		return err
	}
	return p.stamp(c, &ev)
}

func (p published) camera(_ context.Context, c *camera, s camevent.Event) error {
	ev, err := center.CameraEnvelope(s)
	if err != nil {
		return err
	}
	return p.stamp(c, &ev)
}
