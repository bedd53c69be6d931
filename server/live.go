package server

import (
	"snowlight/live"
	"snowlight/media"
)

// newLive serves the cameras' rings to browsers over WebRTC.
func newLive(s *Server) (*live.Server, error) {
	return live.NewServer(live.Options{
		Rings: func(id string) (*media.Ring, bool) { return s.cameras.ring(id) },
		// The console usually runs on the same host or network; loopback candidates let a browser on
		// this machine connect too.
		IncludeLoopback: true,
		Log:             s.log,
		Registerer:      s.reg,
	})
}
