package server

import (
	"context"
	"errors"
	"fmt"

	"snowlight/bus/ledger"
	"snowlight/bus/rpc"
	"snowlight/camevent"
	"snowlight/center"
	"snowlight/live"
	"snowlight/tracks/stitch"
	"snowlight/watchlist"
)

// Cameras is the camera side as the center reaches it: the cameras of this process (package edge),
// or edges over NATS (NATS). The request and reply types are bus/rpc's, in one process too, so both
// answer alike.
type Cameras interface {
	// Run runs the cameras (or the intake from the edges) until ctx ends, handing what they report to
	// in, and returns once their last reports were handed over.
	Run(ctx context.Context, in center.Intake) error
	// Health is each camera's stream as last seen, by camera id; a camera nobody ingests is missing.
	Health() map[string]camevent.Health
	// Clip cuts the clip of a camera's window (and a snapshot, when asked) where the camera's video
	// is, stores them in the evidence store and gives their keys, and what of the window is lost.
	Clip(ctx context.Context, r rpc.ClipRequest) (rpc.Evidence, error)
	// Offer, Close and Done are the live view (web.Live); errors wrap live's.
	Offer(ctx context.Context, camera, offer string) (answer, id string, err error)
	Close(camera, id string) error
	Done(id string) <-chan struct{}
	// Embed turns enrolment photos into face embeddings; errors wrap rpc.ErrUnavailable when no
	// face models are at hand.
	Embed(ctx context.Context, r rpc.EmbedRequest) (rpc.EmbedReply, error)
	// SyncWatchList makes the cameras match exactly these persons (the active entries); PutPerson
	// and RemovePerson change one. A removed person must stop matching within 5 s.
	SyncWatchList(ctx context.Context, persons []watchlist.Person) error
	PutPerson(ctx context.Context, p watchlist.Person) error
	RemovePerson(ctx context.Context, id string) error
	// Shutdown frees what the cameras hold once Run returned and nothing uses them any more.
	Shutdown()
}

// noCameras is a server without cameras.
type noCameras struct{}

func (noCameras) Run(ctx context.Context, _ center.Intake) error { <-ctx.Done(); return nil }
func (noCameras) Health() map[string]camevent.Health             { return nil }
func (noCameras) Clip(context.Context, rpc.ClipRequest) (rpc.Evidence, error) {
	return rpc.Evidence{}, fmt.Errorf("no cameras: %w", rpc.ErrUnavailable)
}
func (noCameras) Offer(_ context.Context, camera, _ string) (string, string, error) {
	return "", "", fmt.Errorf("camera %s: %w", camera, live.ErrNoCamera)
}
func (noCameras) Close(_, _ string) error { return live.ErrNoSession }
func (noCameras) Done(string) <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
func (noCameras) Embed(context.Context, rpc.EmbedRequest) (rpc.EmbedReply, error) {
	return rpc.EmbedReply{}, fmt.Errorf("no cameras, no face models: %w", rpc.ErrUnavailable)
}
func (noCameras) SyncWatchList(context.Context, []watchlist.Person) error { return nil }
func (noCameras) PutPerson(context.Context, watchlist.Person) error       { return nil }
func (noCameras) RemovePerson(context.Context, string) error              { return nil }
func (noCameras) Shutdown()                                               {}

// buildCenter makes the intake: the stitcher over the cameras' topology and the center that stores
// and stitches what they report.
func (s *Server) buildCenter(ctx context.Context) error {
	topo, err := s.dep.Topology()
	if err != nil {
		return err
	}
	st, err := stitch.New(stitch.DefaultConfig(), topo)
	if err != nil {
		return fmt.Errorf("stitcher: %w", err)
	}
	if err := s.db.SetCameras(ctx, s.dep.CameraPositions()); err != nil {
		return fmt.Errorf("record camera positions: %w", err)
	}
	cmetrics, err := center.NewMetrics(s.reg)
	if err != nil {
		return err
	}
	s.center, err = center.New(center.Config{Store: s.db, Objects: s.objects, Stitcher: st, Metrics: cmetrics, Log: s.log})
	return err
}

// intake applies a batch of what the cameras report (center.Intake): sightings stored and stitched in
// one transaction, final ones newly stored queued for the search index, then each sighting and camera
// event through the alert rules. An event applied
// before (a redelivery) goes through the rules again, which raise nothing twice (alerts.Trigger.Key):
// a crash between the commit and the rules must not lose an alert. A rule that fails fails its item,
// which the bus delivers again.
func (s *Server) intake(ctx context.Context, items []center.Item) []error {
	res := s.center.Apply(ctx, items)
	errs := make([]error, len(items))
	for i, r := range res {
		switch {
		case r.Err != nil:
			errs[i] = r.Err
		case r.Outcome == ledger.Superseded:
		case items[i].Camera != nil:
			if err := s.rules.CameraEvent(ctx, *items[i].Camera); err != nil {
				errs[i] = fmt.Errorf("camera alert rules: %w", err)
			}
		case r.Sighting != nil:
			if r.Outcome == ledger.Fresh && r.Sighting.Final {
				s.index.add(*r.Sighting)
			}
			if _, err := s.rules.Sighting(ctx, *r.Sighting); err != nil {
				errs[i] = fmt.Errorf("alert rules on sighting %s: %w", r.Sighting.ID, err)
			}
		}
		if errs[i] != nil && !errors.Is(errs[i], context.Canceled) {
			s.log.Error("event not applied", "camera", camera(items[i]), "err", errs[i])
		}
	}
	return errs
}

func camera(it center.Item) string {
	if it.Camera != nil {
		return it.Camera.Camera
	}
	return it.Event.Camera
}
