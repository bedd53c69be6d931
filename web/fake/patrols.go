package fake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"snowlight/geo"
	"snowlight/web"
)

// Patrols is a set of units in memory.
type Patrols struct {
	Now func() time.Time

	mu    sync.Mutex
	units []web.PatrolView
}

// NewPatrols returns the units given.
func NewPatrols(now func() time.Time, units ...web.PatrolView) *Patrols {
	if now == nil {
		now = time.Now
	}
	return &Patrols{Now: now, units: slices.Clone(units)}
}

// Add puts units in service as configuration would.
func (p *Patrols) Add(units ...web.PatrolView) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.units = append(p.units, units...)
}

func (p *Patrols) List(ctx context.Context) ([]web.PatrolView, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.units), nil
}

func (p *Patrols) Create(ctx context.Context, in web.PatrolInput) (web.PatrolView, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.units {
		if strings.EqualFold(u.ID, in.ID) {
			return web.PatrolView{}, fmt.Errorf("a unit %s exists already: choose another id: %w", in.ID, web.ErrConflict)
		}
	}
	u := web.PatrolView{ID: in.ID, Name: in.Name, Area: in.Area, Status: in.Status, Position: in.Position, Account: in.Account, Updated: p.Now()}
	p.units = append(p.units, u)
	return u, nil
}

func (p *Patrols) UpdatePosition(ctx context.Context, id string, up web.PositionUpdate) (web.PatrolView, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.units {
		if p.units[i].ID == id {
			pos := up.Position
			p.units[i].Position = &pos
			p.units[i].Updated = up.At
			if up.Status != "" {
				p.units[i].Status = up.Status
			}
			return p.units[i], nil
		}
	}
	return web.PatrolView{}, fmt.Errorf("no patrol unit %s: %w", id, web.ErrNotFound)
}

func (p *Patrols) get(id string) (web.PatrolView, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.units {
		if u.ID == id {
			return u, true
		}
	}
	return web.PatrolView{}, false
}

// assign gives alert to the unit named, or to the nearest available one to at.
func (p *Patrols) assign(id, alert string, at *geo.LatLon) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i, u := range p.units {
		if u.Status != web.PatrolAvailable {
			if u.ID == id {
				return "", fmt.Errorf("unit %s is %s, not available: %w", id, u.Status, web.ErrConflict)
			}
			continue
		}
		switch {
		case id != "":
			if u.ID == id {
				best = i
			}
		case best < 0:
			best = i
		case at != nil && u.Position != nil && (p.units[best].Position == nil || geo.Distance(*at, *u.Position) < geo.Distance(*at, *p.units[best].Position)):
			best = i
		}
	}
	if best < 0 {
		if id != "" {
			return "", fmt.Errorf("no patrol unit %s: %w", id, web.ErrNotFound)
		}
		return "", fmt.Errorf("no patrol unit is available: wait for one to become free or assign one by hand: %w", web.ErrConflict)
	}
	p.units[best].Status = web.PatrolBusy
	p.units[best].Alert = alert
	return p.units[best].ID, nil
}

func (p *Patrols) release(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.units {
		if p.units[i].ID == id {
			p.units[i].Status = web.PatrolAvailable
			p.units[i].Alert = ""
		}
	}
}
