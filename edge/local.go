package edge

import (
	"context"
	"sync"

	"snowlight/camevent"
	"snowlight/center"
	"snowlight/server"
	"snowlight/tracks"
)

var _ server.Cameras = (*Edge)(nil)

// Run runs every configured camera until ctx ends, handing what they report straight to in (a process
// that is its own center), then stops them and returns once their last sightings were handed over.
func (e *Edge) Run(ctx context.Context, in center.Intake) error {
	e.sink = intake{in}
	var started []*camera
	for _, cc := range e.o.Deployment.Cameras {
		if cc.URL() == "" {
			e.log.Warn("camera has only a recording: it is for snowlight replay, not served", "camera", cc.ID)
			continue
		}
		c, err := e.build(cc, nil)
		if err != nil {
			for _, c := range started {
				c.stop()
			}
			return err
		}
		e.mu.Lock()
		e.cams[cc.ID] = c
		e.mu.Unlock()
		e.start(c)
		started = append(started, c)
	}
	fctx, stopForward := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { e.forward(fctx) })
	<-ctx.Done()
	for _, c := range started {
		c.stop()
	}
	stopForward()
	wg.Wait()
	return nil
}

// intake is the sink of a process that is its own center.
type intake struct{ in center.Intake }

func (s intake) sighting(ctx context.Context, _ *camera, ev tracks.SightingEvent) error {
	return s.in(ctx, []center.Item{{Event: ev}})[0]
}

func (s intake) camera(ctx context.Context, _ *camera, ev camevent.Event) error {
	return s.in(ctx, []center.Item{{Camera: &ev}})[0]
}

// sink is where the cameras' reports go: the center's intake in one process, the bus otherwise.
// Snapshots of sightings are already object keys.
type sink interface {
	sighting(ctx context.Context, c *camera, ev tracks.SightingEvent) error
	camera(ctx context.Context, c *camera, ev camevent.Event) error
}
