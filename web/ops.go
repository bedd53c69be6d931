package web

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opsRoutes are for load balancers and Prometheus, with metrics under the given policy: public on a
// separate listen address (Options.OpsSeparate) that only the monitoring network reaches, for admins
// only on the main one, since they tell what the cameras see and how the system is used.
func (s *Server) opsRoutes(metrics Policy) []Route {
	return []Route{
		{Pattern: "GET /healthz", Name: "healthz", Policy: Policy{Public: true}, Handler: http.HandlerFunc(s.healthz)},
		{Pattern: "GET /metrics", Name: "metrics", Policy: metrics,
			Handler: promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})},
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.opts.Health(ctx); err != nil {
			s.log.Warn("health check failed", "err", err)
			WriteError(w, http.StatusServiceUnavailable, "unhealthy: see the server log")
			return
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Warn("metrics", "err", v) }
