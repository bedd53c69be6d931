package server

import (
	"context"
	"time"

	"snowlight/media"
	"snowlight/web"
)

// camerasAPI reports the cameras' health; never their URLs.
type camerasAPI struct{ s *Server }

func (x camerasAPI) List(ctx context.Context) ([]web.CameraView, error) {
	now := x.s.now()
	health := x.s.cameras.Health()
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
		out = append(out, v)
	}
	return out, nil
}

func (x camerasAPI) Area(camera string) string {
	if c, ok := x.s.dep.Camera(camera); ok {
		return c.Area
	}
	return ""
}
