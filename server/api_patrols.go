package server

import (
	"context"
	"fmt"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/geo"
	"snowlight/web"
)

// patrolsAPI is the patrol registry as the web API sees it. A patrol account reports for the unit of
// the same name.
type patrolsAPI struct{ s *Server }

func patrolView(u dispatch.Unit, alert string) web.PatrolView {
	v := web.PatrolView{ID: u.ID, Name: u.Name, Status: string(u.Status), Area: u.Area, Updated: u.Updated,
		Alert: alert, Account: u.ID}
	if !u.Position.IsZero() {
		v.Position = &u.Position
	}
	return v
}

// ReportPosition records where a patrol unit is, as its app would through the API.
func (s *Server) ReportPosition(ctx context.Context, id string, lat, lon float64) error {
	_, err := s.patrols.UpdatePosition(ctx, id, geo.LatLon{Lat: lat, Lon: lon})
	return err
}

func (x patrolsAPI) List(ctx context.Context) ([]web.PatrolView, error) {
	units, err := x.s.patrols.Units(ctx)
	if err != nil {
		return nil, err
	}
	// Which alert each busy unit is on.
	active, err := x.s.engine.Alerts(ctx, alerts.Query{Statuses: []alerts.Status{alerts.Dispatched, alerts.OnScene}, Limit: 1000})
	if err != nil {
		return nil, err
	}
	on := map[string]string{}
	for _, a := range active {
		switch {
		case a.Patrol != "":
			on[a.Patrol] = a.ID
		case a.Dispatch != nil:
			// Asked and not yet acknowledged: the unit is on its way to deciding, not free.
			on[a.Dispatch.Asking().ID] = a.ID
		}
	}
	out := make([]web.PatrolView, 0, len(units))
	for _, u := range units {
		out = append(out, patrolView(u, on[u.ID]))
	}
	return out, nil
}

func (x patrolsAPI) Create(ctx context.Context, p web.PatrolInput) (web.PatrolView, error) {
	if _, err := x.s.patrols.Unit(ctx, p.ID); err == nil {
		return web.PatrolView{}, fmt.Errorf("patrol unit %s exists already: %w", p.ID, web.ErrConflict)
	}
	u := dispatch.Unit{ID: p.ID, Name: p.Name, Area: p.Area, Status: dispatch.Available}
	if p.Status != "" {
		st, err := dispatch.ParseStatus(p.Status)
		if err != nil {
			return web.PatrolView{}, fmt.Errorf("%v: %w", err, web.ErrInvalid)
		}
		u.Status = st
	}
	if p.Position != nil {
		u.Position = *p.Position
		u.PositionAt = x.s.now()
	}
	if err := x.s.patrols.Register(ctx, u); err != nil {
		return web.PatrolView{}, fmt.Errorf("%v: %w", err, web.ErrInvalid)
	}
	u, err := x.s.patrols.Unit(ctx, p.ID)
	return patrolView(u, ""), webErr(err)
}

func (x patrolsAPI) UpdatePosition(ctx context.Context, id string, up web.PositionUpdate) (web.PatrolView, error) {
	u, err := x.s.patrols.UpdatePosition(ctx, id, up.Position)
	if err != nil {
		return web.PatrolView{}, webErr(err)
	}
	if up.Status != "" {
		st, err := dispatch.ParseStatus(up.Status)
		if err != nil {
			return web.PatrolView{}, fmt.Errorf("%v: %w", err, web.ErrInvalid)
		}
		if u, err = x.s.patrols.SetStatus(ctx, id, st); err != nil {
			return web.PatrolView{}, webErr(err)
		}
	}
	return patrolView(u, ""), nil
}
