package edge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"snowlight/bus/lease"
	"snowlight/camevent"
	"snowlight/deploy"
	"snowlight/detect"
	"snowlight/detect/tamper"
	"snowlight/ingest"
	"snowlight/pipeline"
	"snowlight/tracks"
)

// camera is one camera running here: its ingest worker, detectors, tracker edge and tamper check.
type camera struct {
	cfg deploy.Camera
	// lease is what the camera's events are stamped with in distributed mode (nil in one process).
	lease *lease.Lease

	worker *ingest.Worker
	det    *detect.Pipeline
	dcam   *detect.Camera
	edge   *pipeline.Edge
	tamper *tamper.Detector
	// lastTamper is when the tamper detector last looked; it runs a few times a second, not per frame.
	lastTamper time.Time

	cancel context.CancelFunc
	done   chan struct{} // closed when the worker and the edge stopped and the last events were handed on

	mu      sync.Mutex
	stopped time.Time // when it stopped here; zero while it runs
}

// flushTimeout bounds handing on a stopped camera's last sightings.
const flushTimeout = 10 * time.Second

// tamperEvery is how often a camera's picture is checked for covering, blur or turning.
const tamperEvery = 500 * time.Millisecond

func (c *camera) running() bool { return c.stoppedAt().IsZero() }

func (c *camera) stoppedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// build makes the camera's parts (loading the models takes a moment). The camera is not yet
// registered: the caller adds it to e.cams and starts it.
func (e *Edge) build(cc deploy.Camera, l *lease.Lease) (*camera, error) {
	c := &camera{cfg: cc, lease: l, done: make(chan struct{})}
	var err error
	c.worker, err = ingest.NewWorker(ingest.Config{
		Camera: cc.ID, URL: cc.URL(), Transport: ingest.Transport(cc.Transport),
		Decode: ingest.DecodeSampled, SampleFPS: cc.DetectFPS, RingDuration: e.ringFor(),
		OfflineAfter: e.o.Deployment.OfflineAfter, Metrics: e.imetrics, Log: e.log,
		OnEvent: func(ev ingest.Event) { e.note(c, ev.Report()) },
	})
	if err != nil {
		return nil, err
	}
	dc := detect.DefaultConfig(e.o.Config.Models)
	dc.Log, dc.Metrics, dc.Engine = e.log, e.dmetrics, e.infer
	if c.det, err = detect.NewPipeline(dc); err != nil {
		return nil, fmt.Errorf("camera %s: %w", cc.ID, err)
	}
	gate := pipeline.GateConfig()
	c.dcam = c.det.NewCamera(cc.ID, &gate)
	c.edge, err = pipeline.NewEdge(cc.ID, c.dcam, pipeline.EdgeConfig{
		Tracker: pipeline.TrackerConfig(), WatchList: e.matcher.Load,
		Metrics: e.pmetrics, Log: e.log,
	})
	if err != nil {
		c.free()
		return nil, err
	}
	if c.tamper, err = tamper.New(tamper.DefaultConfig()); err != nil {
		c.free()
		return nil, err
	}
	return c, nil
}

// start runs a built camera until stop: the worker, and the edge on its frames, whose events (and the
// camera's own) go to the edge's sink.
func (e *Edge) start(c *camera) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.worker.Run(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("camera worker stopped", "camera", c.cfg.ID, "err", err)
		}
	})
	wg.Go(func() {
		ids := e.pmetrics.Identities()
		// The worker closes Frames when it stops; the edge then ends its tracks, and their final
		// sightings are handed on too, with a context of their own (ctx has ended by then), but not
		// forever.
		flush, cancelFlush := context.WithCancel(context.WithoutCancel(ctx))
		defer cancelFlush()
		defer context.AfterFunc(ctx, func() { time.AfterFunc(flushTimeout, cancelFlush) })()
		c.edge.Run(ctx, e.inspected(c), func(ev tracks.SightingEvent) {
			ev, err := e.upload(flush, ev)
			if err == nil {
				err = e.sink.sighting(flush, c, ev)
			}
			if err != nil {
				e.log.Error("sighting event lost", "camera", c.cfg.ID, "sighting", ev.Sighting.ID, "kind", ev.Kind, "err", err)
				return
			}
			ids.Stored(ev, time.Now())
		})
	})
	go func() {
		wg.Wait()
		c.mu.Lock()
		c.stopped = time.Now()
		c.mu.Unlock()
		c.free()
		close(c.done)
	}()
}

// stop stops the camera and returns once its last events were handed on; the ring stays.
func (c *camera) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
}

// free releases the detectors (after the edge stopped using them).
func (c *camera) free() {
	if c.dcam != nil {
		c.dcam.Close()
		c.dcam = nil
	}
	if c.det != nil {
		c.det.Close()
		c.det = nil
	}
	if c.tamper != nil {
		c.tamper.Close()
		c.tamper = nil
	}
}

// inspected is the worker's frames, each checked for tampering a few times a second on the way.
func (e *Edge) inspected(c *camera) <-chan ingest.Frame {
	out := make(chan ingest.Frame)
	go func() {
		defer close(out)
		for f := range c.worker.Frames() {
			e.inspect(c, f)
			out <- f
		}
	}()
	return out
}

func (e *Edge) inspect(c *camera, f ingest.Frame) {
	if f.Time.Sub(c.lastTamper) < tamperEvery {
		return
	}
	c.lastTamper = f.Time
	r, err := c.tamper.Update(f.Mat, f.Time)
	if err != nil {
		e.log.Warn("tamper check failed", "camera", c.cfg.ID, "err", err)
		return
	}
	if ev, changed := r.Event(c.cfg.ID); changed {
		e.note(c, ev)
	}
}

// note queues a camera event; it never blocks the ingest worker.
func (e *Edge) note(c *camera, ev camevent.Event) {
	select {
	case e.notes <- note{c, ev}:
	default:
		e.log.Error("camera state queue full: a state change was not reported", "camera", ev.Camera, "kind", ev.Kind)
	}
}

// forward hands the queued camera events on, in order, until ctx ends, then what is still queued.
func (e *Edge) forward(ctx context.Context) {
	send := func(ctx context.Context, n note) {
		if err := e.sink.camera(ctx, n.cam, n.ev); err != nil {
			e.log.Error("camera event lost", "camera", n.ev.Camera, "kind", n.ev.Kind, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case n := <-e.notes:
					send(context.WithoutCancel(ctx), n)
				default:
					return
				}
			}
		case n := <-e.notes:
			send(ctx, n)
		}
	}
}

// camerasOf finds a configured camera.
func (e *Edge) camerasOf(id string) (deploy.Camera, bool) {
	c, ok := e.o.Deployment.Camera(id)
	if !ok || c.URL() == "" {
		return deploy.Camera{}, false
	}
	return c, true
}
