package fake

import (
	"context"
	"slices"
	"sync"
	"time"

	"snowlight/media"
	"snowlight/web"
)

// Cameras lists cameras. A camera with a ring (SetRing) reports health from it: online while access
// units keep arriving, its frame rate and last frame time measured from the ring.
type Cameras struct {
	Now func() time.Time

	mu    sync.Mutex
	cams  []web.CameraView
	rings map[string]*media.Ring
}

// NewCameras returns the cameras given, as listed.
func NewCameras(now func() time.Time, cams ...web.CameraView) *Cameras {
	if now == nil {
		now = time.Now
	}
	return &Cameras{Now: now, cams: slices.Clone(cams), rings: map[string]*media.Ring{}}
}

// Add configures cameras.
func (c *Cameras) Add(cams ...web.CameraView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cams = append(c.cams, cams...)
}

// SetRing ties a camera to the ring its video arrives in.
func (c *Cameras) SetRing(id string, r *media.Ring) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rings[id] = r
}

// Ring returns a camera's ring, for a live.Server.
func (c *Cameras) Ring(id string) (*media.Ring, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rings[id]
	return r, ok
}

func (c *Cameras) List(ctx context.Context) ([]web.CameraView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.cams)
	now := c.Now()
	for i := range out {
		r, ok := c.rings[out[i].ID]
		if !ok {
			if out[i].LastFrame.IsZero() {
				out[i].LastFrameAge = -1
			} else {
				out[i].LastFrameAge = now.Sub(out[i].LastFrame).Seconds()
			}
			continue
		}
		st := r.Stats()
		out[i].LastFrameAge = -1
		if st.AccessUnits > 0 {
			out[i].LastFrame = st.Newest
			out[i].LastFrameAge = now.Sub(st.Newest).Seconds()
			if span := st.Newest.Sub(st.Oldest).Seconds(); span > 0 {
				out[i].FPS = float64(st.AccessUnits-1) / span
			}
		}
		out[i].Online = out[i].LastFrameAge >= 0 && out[i].LastFrameAge < 3
		out[i].State = "offline"
		if out[i].Online {
			out[i].State = "online"
		}
		codec, _, ok := r.Params()
		out[i].Live = ok && codec == media.H264
		if ok {
			out[i].Codec = codec.String()
		}
	}
	return out, nil
}

// Edges is nil: the fake is one process.
func (c *Cameras) Edges(context.Context) (*web.EdgesView, error) { return nil, nil }

func (c *Cameras) Area(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cam := range c.cams {
		if cam.ID == id {
			return cam.Area
		}
	}
	return ""
}
