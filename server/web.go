package server

import (
	"context"
	"errors"
	"fmt"
	"net"

	"snowlight/audit"
	"snowlight/retention"
	"snowlight/web"
)

// buildWeb assembles the API, the console and the listeners.
func (s *Server) buildWeb() error {
	routes, err := web.ProductRoutes(web.APIOptions{
		Alerts: alertsAPI{s}, Patrols: patrolsAPI{s}, Cameras: camerasAPI{s}, Watchlist: watchlistAPI{s},
		Trajectories: trajectoriesAPI{s}, Holds: holdsAPI{s.holds}, Media: s.objects, Live: s.cameras, Signer: s.signer,
		Search: searchAPI{s}, Exports: exportsAPI{s.exporter},
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

// holdsAPI is the case-hold service as the web API sees it. retention.Holds records every hold and
// release in the audit log itself.
type holdsAPI struct{ h *retention.Holds }

func (x holdsAPI) Hold(ctx context.Context, r web.HoldRequest) ([]web.HoldView, error) {
	hs, err := x.h.Hold(ctx, retention.Actor{Name: r.Actor, Role: r.Role}, audit.Case{Number: r.Case, Reason: r.Reason}, holdItems(r.Items)...)
	if err != nil {
		return nil, holdErr(err)
	}
	return holdViews(hs), nil
}

func (x holdsAPI) Release(ctx context.Context, r web.HoldRequest) ([]web.HoldView, error) {
	hs, err := x.h.Release(ctx, retention.Actor{Name: r.Actor, Role: r.Role}, audit.Case{Number: r.Case, Reason: r.Reason}, holdItems(r.Items)...)
	if err != nil {
		return nil, holdErr(err)
	}
	return holdViews(hs), nil
}

func (x holdsAPI) List(ctx context.Context, f web.HoldFilter) ([]web.HoldView, error) {
	hs, err := x.h.List(ctx, retention.HoldQuery{Case: f.Case, All: f.All, After: f.After, Limit: f.Limit})
	if err != nil {
		return nil, holdErr(err)
	}
	return holdViews(hs), nil
}

func holdItems(in []web.HoldItem) []retention.Item {
	out := make([]retention.Item, len(in))
	for i, it := range in {
		out[i] = retention.Item{Kind: retention.ItemKind(it.Kind), ID: it.ID}
	}
	return out
}

func holdViews(hs []retention.Hold) []web.HoldView {
	out := make([]web.HoldView, len(hs))
	for i, h := range hs {
		out[i] = web.HoldView{ID: h.ID, Case: h.Case, Item: web.HoldItem{Kind: string(h.Item.Kind), ID: h.Item.ID},
			Via: h.Via, Reason: h.Reason, By: h.By, At: h.At}
		if r := h.Released; r != nil {
			out[i].Released = &web.HoldRelease{By: r.By, Reason: r.Reason, At: r.At}
		}
	}
	return out
}

// holdErr puts the service's errors under the API's, keeping the service's message, which names the
// case and the item and already says "not found" or what is invalid.
func holdErr(err error) error {
	switch {
	case errors.Is(err, retention.ErrInvalid):
		return kindErr{err, web.ErrInvalid}
	case errors.Is(err, retention.ErrNotFound):
		return kindErr{err, web.ErrNotFound}
	}
	return err
}

// kindErr is err, also matching kind, with err's message alone.
type kindErr struct{ err, kind error }

func (e kindErr) Error() string   { return e.err.Error() }
func (e kindErr) Unwrap() []error { return []error{e.err, e.kind} }
