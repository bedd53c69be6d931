package server

import (
	"context"
	"fmt"
	"net"

	"snowlight/web"
)

// buildWeb assembles the API, the console and the listeners.
func (s *Server) buildWeb() error {
	routes, err := web.ProductRoutes(web.APIOptions{
		Alerts: alertsAPI{s}, Patrols: patrolsAPI{s}, Cameras: camerasAPI{s}, Watchlist: watchlistAPI{s},
		Trajectories: trajectoriesAPI{s}, Media: s.objects, Live: s.live, Signer: s.signer,
		Audit: s.audit, Log: s.log, Now: s.now,
	})
	if err != nil {
		return err
	}
	opts := web.Options{Auth: s.auth, Audit: s.audit, Log: s.log, Registry: s.reg,
		OpsSeparate: s.cfg.OpsListen != "", Health: s.health}
	if m := s.cfg.Storage.MinIO; s.cfg.Storage.Kind == "minio" {
		// Presigned evidence links point at MinIO itself: the console must be allowed to load them.
		scheme := "http://"
		if m.Secure {
			scheme = "https://"
		}
		opts.MediaSources = []string{scheme + m.Endpoint}
	}
	if s.web, err = web.New(opts, routes...); err != nil {
		return err
	}
	if s.ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.OpsListen != "" {
		if s.opsL, err = net.Listen("tcp", s.cfg.OpsListen); err != nil {
			return fmt.Errorf("listen on %s (ops): %w", s.cfg.OpsListen, err)
		}
	}
	return nil
}

// health says whether the process can serve: the database answers.
func (s *Server) health(ctx context.Context) error {
	return s.db.R.PingContext(ctx)
}
