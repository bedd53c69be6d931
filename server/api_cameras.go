package server

import (
	"context"
	"time"

	"snowlight/ingest"
	"snowlight/media"
	"snowlight/web"
)

// camerasAPI reports the cameras' health; never their URLs.
type camerasAPI struct{ s *Server }

func (x camerasAPI) List(ctx context.Context) ([]web.CameraView, error) {
	now := x.s.now()
	out := make([]web.CameraView, 0, len(x.s.dep.Cameras))
	for _, cc := range x.s.dep.Cameras {
		v := web.CameraView{ID: cc.ID, Name: cc.Name, Area: cc.Area, State: "offline", LastFrameAge: -1,
			Position: &cc.Position}
		if c, ok := x.s.cameras.byID[cc.ID]; ok {
			st := c.worker.Status()
			v.State, v.Online = string(st.State), st.State == ingest.StateOnline
			v.FPS, v.Width, v.Height, v.Codec = st.FPS, st.Width, st.Height, st.Codec
			if !st.LastFrame.IsZero() {
				v.LastFrame, v.LastFrameAge = st.LastFrame, now.Sub(st.LastFrame).Round(time.Millisecond).Seconds()
			}
			v.Live = v.Online && st.Codec == media.H264.String()
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
