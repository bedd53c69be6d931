package server

import (
	"context"
	"sync"
	"time"

	"snowlight/alerts"
	"snowlight/bus/rpc"
	"snowlight/tracks"
)

// evidence asks the cameras' side for a newly raised alert's snapshot and clip (it cuts them from the
// ring of the camera, wherever that is, and stores them) and attaches them. The alert went out
// already; evidence follows when the post-roll has been recorded.
type evidence struct {
	s    *Server
	jobs chan alerts.Alert
}

// evidenceStoreTimeout bounds attaching the evidence once cut, which goes on after the server began to
// stop.
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
	if _, ok := s.cameras.Health()[a.Place.Camera]; !ok {
		return // a camera nobody ingests (or offline alerts of an unknown camera)
	}
	at := a.FirstSeen
	log := s.log.With("alert", a.ID, "camera", a.Place.Camera)
	attach := func(att alerts.Evidence) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), evidenceStoreTimeout)
		defer cancel()
		if _, err := s.engine.AttachEvidence(sctx, a.ID, att); err != nil {
			log.Error("evidence not attached", "err", err)
		}
	}
	// The snapshot first: it needs no post-roll.
	ref := "alert/" + a.ID
	snap, err := s.cameras.Clip(ctx, rpc.ClipRequest{Camera: a.Place.Camera, Interval: rpc.Interval{From: at, To: at}, Ref: ref,
		Snapshot: &rpc.SnapshotRequest{At: at, Marks: e.marks(ctx, a, at)}})
	switch {
	case err != nil:
		log.Warn("no snapshot for alert", "err", err)
	case snap.Snapshot != "":
		attach(alerts.Evidence{Snapshot: snap.Snapshot})
	}
	ev, err := s.cameras.Clip(ctx, rpc.ClipRequest{Camera: a.Place.Camera,
		Interval: rpc.Interval{From: at.Add(-s.dep.PreRoll), To: at.Add(s.dep.PostRoll)}, Ref: ref})
	if err != nil {
		log.Warn("no clip for alert", "err", err)
		return
	}
	var att alerts.Evidence
	// The part that shows the alert's moment (else the first after it) is the clip; when the camera
	// moved between edges within the window the others are further parts.
	main := -1
	for i, p := range ev.Parts {
		if !at.Before(p.From) && at.Before(p.To) || main < 0 && p.From.After(at) {
			main = i
		}
	}
	if main < 0 && len(ev.Parts) > 0 {
		main = len(ev.Parts) - 1
	}
	for i, p := range ev.Parts {
		if i == main {
			att.Clip, att.ClipStart, att.ClipEnd = p.Object, p.Start, p.End
		} else if p.Object != ev.Parts[main].Object {
			att.ClipParts = append(att.ClipParts, alerts.ClipPart{Key: p.Object, Start: p.Start, End: p.End})
		}
	}
	for _, l := range ev.Lost {
		att.ClipLost = append(att.ClipLost, alerts.Gap{From: l.From, To: l.To, Reason: l.Reason})
	}
	if att.Clip == "" && len(att.ClipLost) == 0 {
		log.Warn("no clip for alert: the camera's video has none of the window")
		return
	}
	attach(att)
}

// marks are the boxes of the alert's sightings at the moment of the snapshot, labelled with the
// watch-list category, never a name (the edge that draws them is not told who it is).
func (e *evidence) marks(ctx context.Context, a alerts.Alert, at time.Time) []rpc.Mark {
	var out []rpc.Mark
	for _, id := range a.Evidence.Sightings {
		sg, err := e.s.db.Sighting(ctx, id)
		if err != nil || len(sg.Boxes) == 0 {
			continue
		}
		b := nearestBox(sg.Boxes, at)
		label := ""
		if a.Person != nil {
			label = a.Person.Category.Label()
		}
		out = append(out, rpc.Mark{X: int(b.X), Y: int(b.Y), W: int(b.W), H: int(b.H), Label: label})
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
