package edge

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"snowlight/alerts/clip"
	"snowlight/bus/rpc"
	"snowlight/center"
	"snowlight/objstore"
	"snowlight/tracks"
)

// upload gives the event with its snapshots in the object store and their keys in place of the bytes
// (center.StoreSnapshots; the event's own snapshots stay untouched).
func (e *Edge) upload(ctx context.Context, ev tracks.SightingEvent) (tracks.SightingEvent, error) {
	_, err := center.StoreSnapshots(ctx, e.o.Objects, &ev.Sighting)
	return ev, err
}

// storeTimeout bounds storing a clip or snapshot once cut, which goes on when the request is
// cancelled (the process stopping): an object is stored whole or not at all.
const storeTimeout = time.Minute

// clip cuts what the ring of r's camera holds of r's window (waiting for the post-roll while the
// camera still sends), and the snapshot when asked (alone when the window is empty), and stores them.
// A window the ring no longer has is answered with nothing covered: the center reports it lost.
func (e *Edge) clip(ctx context.Context, r rpc.ClipRequest) (rpc.ClipReply, error) {
	ring, ok := e.ring(r.Camera)
	if !ok {
		return rpc.ClipReply{}, nil
	}
	alert, _ := strings.CutPrefix(r.Ref, "alert/")
	log := e.log.With("camera", r.Camera, "for", r.Ref)
	store := func(kind, ext, ct string, data []byte, start, end time.Time) (objstore.Info, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		return objstore.PutContent(sctx, e.o.Objects, kind, ext, data, ct, objstore.Meta{AlertID: alert, Camera: r.Camera, Start: start, End: end})
	}
	var reply rpc.ClipReply
	// The snapshot first: it needs no post-roll.
	if sr := r.Snapshot; sr != nil {
		at := sr.At
		if c, err := ring.Window(at.Add(-2*time.Second), at); err == nil {
			marks := make([]clip.Mark, len(sr.Marks))
			for i, m := range sr.Marks {
				marks[i] = clip.Mark{Box: image.Rect(m.X, m.Y, m.X+m.W, m.Y+m.H), Label: m.Label}
			}
			if jpg, shown, err := clip.Snapshot(c, at, marks, 85); err != nil {
				log.Warn("no snapshot", "err", err)
			} else if info, err := store("snapshot", "jpg", "image/jpeg", jpg, shown, shown); err != nil {
				return rpc.ClipReply{}, fmt.Errorf("store the snapshot of %s: %w", r.Ref, err)
			} else {
				reply.Snapshot, reply.SnapshotAt = info.Key, shown
			}
		}
	}
	if r.From.Equal(r.To) {
		return reply, nil
	}
	mp4, info, err := clip.Cut(ctx, ring, r.Camera, r.From, 0, r.To.Sub(r.From))
	if err != nil {
		if ctx.Err() != nil {
			return rpc.ClipReply{}, fmt.Errorf("clip of %s: %v: %w", r.Ref, err, rpc.ErrUnavailable)
		}
		log.Warn("no clip", "err", err)
		return reply, nil
	}
	stored, err := store("clip", "mp4", "video/mp4", mp4, info.Start, info.End)
	if err != nil {
		return rpc.ClipReply{}, fmt.Errorf("store the clip of %s: %w", r.Ref, err)
	}
	// The clip's last picture shows until the next one would have come.
	end := info.End
	if info.Frames > 1 {
		end = end.Add(info.Duration / time.Duration(info.Frames-1))
	}
	reply.Covered = []rpc.Interval{{From: info.Start, To: end}}
	reply.Object, reply.Pending, reply.Start, reply.End = stored.Key, stored.Pending, info.Start, info.End
	return reply, nil
}

// Clip answers the center's request for evidence in one process: the cameras are all here.
func (e *Edge) Clip(ctx context.Context, r rpc.ClipRequest) (rpc.Evidence, error) {
	if r.To.Before(r.From) || r.From.Equal(r.To) && r.Snapshot == nil {
		return rpc.Evidence{}, fmt.Errorf("clip of %s over [%v, %v): %w", r.Camera, r.From, r.To, rpc.ErrInvalid)
	}
	reply, err := e.clip(ctx, r)
	if err != nil {
		return rpc.Evidence{}, err
	}
	ev := rpc.Evidence{Snapshot: reply.Snapshot, SnapshotAt: reply.SnapshotAt}
	covered, gaps := reply.Cover(r.Interval)
	for _, iv := range covered {
		ev.Parts = append(ev.Parts, rpc.Part{Edge: "local", Interval: iv, Object: reply.Object,
			Pending: reply.Pending, Start: reply.Start, End: reply.End})
	}
	for _, gap := range gaps {
		ev.Lost = append(ev.Lost, rpc.Lost{Interval: gap, Reason: "not in the camera's ring"})
	}
	if len(ev.Parts) == 0 && ev.Snapshot == "" {
		return ev, errors.New("the camera's ring has none of the window")
	}
	return ev, nil
}
