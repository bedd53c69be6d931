package server

import (
	"context"
	"time"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/media"
	"snowlight/web"
)

// camerasAPI reports the cameras' health; never their URLs.
type camerasAPI struct{ s *Server }

// distributed is the camera side of a center whose cameras are on edges (natsCameras).
type distributed interface {
	Assignments() ([]lease.CameraState, []lease.EdgeState)
	Lag(ctx context.Context) (bus.Lag, error)
}

func (x camerasAPI) List(ctx context.Context) ([]web.CameraView, error) {
	now := x.s.now()
	health := x.s.cameras.Health()
	held := map[string]lease.CameraState{}
	if d, ok := x.s.cameras.(distributed); ok {
		cams, _ := d.Assignments()
		for _, c := range cams {
			if c.Edge != "" && c.Live {
				held[c.Camera] = c
			}
		}
	}
	out := make([]web.CameraView, 0, len(x.s.dep.Cameras))
	for _, cc := range x.s.dep.Cameras {
		v := web.CameraView{ID: cc.ID, Name: cc.Name, Area: cc.Area, State: "offline", LastFrameAge: -1,
			Position: &cc.Position}
		if h, ok := health[cc.ID]; ok {
			v.State, v.Online = h.State, h.Online()
			v.FPS, v.Width, v.Height, v.Codec = h.FPS, h.Width, h.Height, h.Codec
			if !h.LastFrame.IsZero() {
				v.LastFrame, v.LastFrameAge = h.LastFrame, now.Sub(h.LastFrame).Round(time.Millisecond).Seconds()
			}
			v.Live = v.Online && h.Codec == media.H264.String()
		}
		if c, ok := held[cc.ID]; ok {
			v.Edge, v.Epoch, v.HeldSince = c.Edge, c.Epoch, c.Since
		}
		out = append(out, v)
	}
	return out, nil
}

func (x camerasAPI) Edges(ctx context.Context) (*web.EdgesView, error) {
	d, ok := x.s.cameras.(distributed)
	if !ok {
		return nil, nil
	}
	now := x.s.now()
	_, edges := d.Assignments()
	v := &web.EdgesView{Edges: make([]web.EdgeView, len(edges)), Pending: -1, AckPending: -1}
	for i, e := range edges {
		v.Edges[i] = web.EdgeView{ID: e.Edge, Capacity: e.Capacity, Cameras: e.Cameras, Outbox: e.OutboxRecords, Renewed: e.Renewed}
		if !e.OutboxOldest.IsZero() {
			v.Edges[i].OutboxAge = now.Sub(e.OutboxOldest).Round(time.Millisecond).Seconds()
		}
	}
	// The console refreshes this every few seconds: a slow NATS must not hold the page.
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if lag, err := d.Lag(lctx); err == nil {
		v.Pending, v.AckPending = int64(lag.Pending), int64(lag.AckPending)
	}
	return v, nil
}

func (x camerasAPI) Area(camera string) string {
	if c, ok := x.s.dep.Camera(camera); ok {
		return c.Area
	}
	return ""
}
