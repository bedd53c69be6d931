package server

import (
	"context"
	"image"
	"sync"
	"time"

	"snowlight/alerts"
	"snowlight/alerts/clip"
	"snowlight/tracks"
)

// evidence cuts a newly raised alert's snapshot and clip from its camera's ring and attaches them.
// The alert went out already; evidence follows when the post-roll has been recorded.
type evidence struct {
	s    *Server
	jobs chan alerts.Alert
}

// evidenceStoreTimeout bounds storing one piece of evidence once it is cut, which goes on after the
// server began to stop: an object is stored whole or not at all.
const evidenceStoreTimeout = time.Minute

func newEvidence(s *Server) *evidence { return &evidence{s: s, jobs: make(chan alerts.Alert, 256)} }

// request queues an alert; it never blocks the engine.
func (e *evidence) request(a alerts.Alert) {
	select {
	case e.jobs <- a:
	default:
		e.s.log.Error("evidence queue full: alert gets no clip", "alert", a.ID)
	}
}

// run serves requests, each in its own goroutine since a clip waits for its post-roll, until ctx ends;
// it returns when every collection it started has finished, so that none outlives the database.
// Collections still waiting for their post-roll then give up (the cameras have stopped); those that have
// cut their evidence store it.
func (e *evidence) run(ctx context.Context) error {
	var collecting sync.WaitGroup
	defer collecting.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-e.jobs:
			collecting.Go(func() { e.collect(ctx, a) })
		}
	}
}

func (e *evidence) collect(ctx context.Context, a alerts.Alert) {
	s := e.s
	ring, ok := s.cameras.ring(a.Place.Camera)
	if !ok {
		return // a camera that is not ingested here (or offline alerts of an unknown camera)
	}
	at := a.FirstSeen
	log := s.log.With("alert", a.ID, "camera", a.Place.Camera)
	store := func(kind alerts.EvidenceKind, data []byte, from, to time.Time) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), evidenceStoreTimeout)
		defer cancel()
		if _, _, err := s.engine.StoreEvidence(sctx, s.objects, a.ID, kind, data, from, to); err != nil {
			log.Error("evidence not stored", "kind", kind, "err", err)
		}
	}

	// The snapshot first: it needs no post-roll.
	if c, err := ring.Window(at.Add(-2*time.Second), at); err == nil {
		marks := e.marks(ctx, a, at)
		if jpg, shown, err := clip.Snapshot(c, at, marks, 85); err != nil {
			log.Warn("no snapshot for alert", "err", err)
		} else {
			store(alerts.SnapshotEvidence, jpg, shown, shown)
		}
	}
	mp4, info, err := clip.Cut(ctx, ring, a.Place.Camera, at, s.dep.PreRoll, s.dep.PostRoll)
	if err != nil {
		log.Warn("no clip for alert", "err", err)
		return
	}
	store(alerts.ClipEvidence, mp4, info.Start, info.End)
}

// marks are the boxes of the alert's sightings at the moment of the snapshot.
func (e *evidence) marks(ctx context.Context, a alerts.Alert, at time.Time) []clip.Mark {
	var out []clip.Mark
	for _, id := range a.Evidence.Sightings {
		sg, err := e.s.db.Sighting(ctx, id)
		if err != nil || len(sg.Boxes) == 0 {
			continue
		}
		b := nearestBox(sg.Boxes, at)
		label := ""
		if a.Person != nil {
			label = a.Person.Name
		}
		out = append(out, clip.Mark{Box: image.Rect(int(b.X), int(b.Y), int(b.X+b.W), int(b.Y+b.H)), Label: label})
	}
	return out
}

func nearestBox(boxes []tracks.TimedBox, at time.Time) tracks.Box {
	best := boxes[0]
	for _, b := range boxes[1:] {
		if absDur(b.Time.Sub(at)) < absDur(best.Time.Sub(at)) {
			best = b
		}
	}
	return best.Box
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
