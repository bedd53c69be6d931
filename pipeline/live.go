package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"snowlight/center"
	"snowlight/ingest"
	"snowlight/tracks"
)

// LiveCamera is one live camera: its ingest worker (which should decode in sampled mode at the
// camera's detection rate) and its edge.
type LiveCamera struct {
	Worker *ingest.Worker
	Edge   *Edge
	// Inspect, when set, sees every frame before the edge does (e.g. a tamper check); it must not keep
	// the frame or close it.
	Inspect func(ingest.Frame)
}

// frames is what the camera's edge reads: the worker's frames, through Inspect when there is one.
func (c LiveCamera) frames() <-chan ingest.Frame {
	if c.Inspect == nil {
		return c.Worker.Frames()
	}
	out := make(chan ingest.Frame)
	go func() {
		defer close(out)
		for f := range c.Worker.Frames() {
			c.Inspect(f)
			out <- f
		}
	}()
	return out
}

// LiveOptions configure RunLive.
type LiveOptions struct {
	Cameras []LiveCamera
	Center  *center.Center
	// Events is how many sighting events may wait for the center before edges block [256].
	Events int
	// FlushTimeout bounds the work on the final sightings after ctx ends [10 s].
	FlushTimeout time.Duration
	// Now is the clock latency is measured with [time.Now].
	Now     func() time.Time
	Metrics *Metrics
	Log     *slog.Logger
}

// RunLive runs the cameras' ingest workers and edges (a goroutine each) and the center (on the
// calling goroutine) until ctx ends. Events reach the center in the order the edges emit them. When ctx
// ends the workers stop, every edge ends its tracks, and the center stores their final sightings
// before RunLive returns, within FlushTimeout. A sighting event the center fails on is logged and
// counted; the cameras go on.
func RunLive(ctx context.Context, o LiveOptions) error {
	if o.Center == nil || len(o.Cameras) == 0 {
		return errors.New("live pipeline: a center and at least one camera are required")
	}
	if o.Events <= 0 {
		o.Events = 256
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	events := make(chan tracks.SightingEvent, o.Events)
	var wg sync.WaitGroup
	for _, c := range o.Cameras {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := c.Worker.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("camera worker stopped", "camera", c.Worker.Camera(), "err", err)
			}
		}()
		go func() {
			defer wg.Done()
			// The worker closes Frames when it stops; the edge then ends its tracks. Events are sent
			// even after ctx ends: the final sightings must reach the center.
			c.Edge.Run(ctx, c.frames(), func(ev tracks.SightingEvent) { events <- ev })
		}()
	}
	go func() {
		wg.Wait()
		close(events)
	}()

	// Once ctx ends, what the edges flush is still stored, but not forever.
	flushCtx, cancelFlush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFlush()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(o.FlushTimeout, cancelFlush)
	})
	defer stop()
	ids := o.Metrics.Identities()
	for ev := range events {
		handleCtx := ctx
		if ctx.Err() != nil {
			handleCtx = flushCtx
		}
		if err := o.Center.Handle(handleCtx, ev); err != nil {
			log.Error("sighting event not stored", "camera", ev.Camera, "sighting", ev.Sighting.ID, "kind", ev.Kind, "err", err)
			continue
		}
		ids.Stored(ev, o.Now())
	}
	return ctx.Err()
}
