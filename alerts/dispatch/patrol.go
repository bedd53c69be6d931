// Package dispatch decides who goes: patrol units with their positions and status, the areas of the
// city grid (street, district, city) with their supervisors, the nearest available unit for an
// incident (as the crow flies, or by a Router such as the roads package's), and the escalation chain
// when nobody acknowledges.
//
// It keeps no clock of its own: an Assignment is plain data that the alert engine stores with the alert
// and advances when its clock says a deadline has passed, so tests drive escalation by moving a clock.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"snowlight/geo"
	"strings"
	"time"
)

// Status is a unit's availability.
type Status string

// Unit statuses.
const (
	Available Status = "available"
	Busy      Status = "busy"
	Offline   Status = "offline"
)

// ParseStatus validates a status.
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case Available, Busy, Offline:
		return Status(s), nil
	}
	return "", fmt.Errorf("unknown patrol status %q (want available, busy or offline)", s)
}

// Unit is a patrol unit.
type Unit struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Area string `json:"area"` // the area it belongs to
	// Receiver names the unit's app for notifications (see notify.Receivers).
	Receiver   string     `json:"receiver,omitempty"`
	Position   geo.LatLon `json:"position"`
	PositionAt time.Time  `json:"position_at,omitzero"`
	Status     Status     `json:"status"`
	Updated    time.Time  `json:"updated"`
}

// Level is a level of the city grid.
type Level string

// Grid levels, from the street up.
const (
	Street   Level = "street"
	District Level = "district"
	City     Level = "city"
)

func (l Level) rank() int {
	switch l {
	case Street:
		return 1
	case District:
		return 2
	case City:
		return 3
	}
	return 0
}

// Area is one cell of the grid: a street's management centre, a district, the city command centre.
type Area struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Level  Level  `json:"level"`
	Parent string `json:"parent,omitempty"` // the area one level up; empty only for the city
	// Supervisor is who is on duty for the area, and Receiver their notification receiver.
	Supervisor string `json:"supervisor,omitempty"`
	Receiver   string `json:"receiver,omitempty"`
}

// Areas is the grid, by area id.
type Areas map[string]Area

// Validate checks the grid: known levels, parents that exist one level up or more, no cycles, and
// every chain ending at a city-level area.
func (as Areas) Validate() error {
	for id, a := range as {
		if a.ID != id {
			return fmt.Errorf("area %q: listed under id %q", a.ID, id)
		}
		if a.Level.rank() == 0 {
			return fmt.Errorf("area %s: unknown level %q (want street, district or city)", id, a.Level)
		}
		if a.Level == City && a.Parent != "" {
			return fmt.Errorf("area %s: a city-level area has no parent", id)
		}
		if a.Level != City {
			p, ok := as[a.Parent]
			if !ok {
				return fmt.Errorf("area %s: parent %q is not a known area", id, a.Parent)
			}
			if p.Level.rank() <= a.Level.rank() {
				return fmt.Errorf("area %s (%s): parent %s is %s, not a higher level", id, a.Level, p.ID, p.Level)
			}
		}
	}
	return nil
}

// Chain is the area and its ancestors, from id up to the city.
func (as Areas) Chain(id string) []Area {
	var out []Area
	for a, ok := as[id]; ok && len(out) <= len(as); a, ok = as[a.Parent] {
		out = append(out, a)
	}
	return out
}

// Store persists units; the store package implements it.
type Store interface {
	PatrolUnits(ctx context.Context) ([]Unit, error)
	// PatrolUnit returns ErrUnknownUnit if there is no such unit.
	PatrolUnit(ctx context.Context, id string) (Unit, error)
	// PutPatrolUnit creates or replaces a unit's definition (name, area, receiver), keeping the
	// position and status of an existing unit.
	PutPatrolUnit(ctx context.Context, u Unit) error
	SetPatrolPosition(ctx context.Context, id string, p geo.LatLon, at time.Time) error
	SetPatrolStatus(ctx context.Context, id string, s Status, at time.Time) error
}

// ErrUnknownUnit means no unit has the id.
var ErrUnknownUnit = errors.New("unknown patrol unit")

// Registry is the API over units the web handlers call: it validates input before it reaches the store.
type Registry struct {
	store Store
	areas Areas
	now   func() time.Time
}

// NewRegistry returns a registry over store for the grid areas.
func NewRegistry(store Store, areas Areas, now func() time.Time) (*Registry, error) {
	if err := areas.Validate(); err != nil {
		return nil, fmt.Errorf("patrol areas: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Registry{store: store, areas: areas, now: now}, nil
}

// Areas is the grid.
func (r *Registry) Areas() Areas { return r.areas }

// Register adds or redefines a unit. A new unit starts offline until it reports its status.
func (r *Registry) Register(ctx context.Context, u Unit) error {
	u.ID = strings.TrimSpace(u.ID)
	if u.ID == "" || len(u.ID) > 64 {
		return errors.New("patrol unit: id must be 1 to 64 characters")
	}
	if _, ok := r.areas[u.Area]; !ok {
		return fmt.Errorf("patrol unit %s: unknown area %q", u.ID, u.Area)
	}
	if _, clash := r.areas[u.ID]; clash {
		// Acknowledgements name units and areas alike; one id must not mean both.
		return fmt.Errorf("patrol unit %s: an area has the same id", u.ID)
	}
	if u.Status == "" {
		u.Status = Offline
	}
	if _, err := ParseStatus(string(u.Status)); err != nil {
		return fmt.Errorf("patrol unit %s: %w", u.ID, err)
	}
	if !u.PositionAt.IsZero() {
		if err := u.Position.Validate(); err != nil {
			return fmt.Errorf("patrol unit %s: %w", u.ID, err)
		}
	}
	u.Updated = r.now()
	if err := r.store.PutPatrolUnit(ctx, u); err != nil {
		return fmt.Errorf("register patrol unit %s: %w", u.ID, err)
	}
	return nil
}

// Units lists the units.
func (r *Registry) Units(ctx context.Context) ([]Unit, error) { return r.store.PatrolUnits(ctx) }

// Unit returns one unit.
func (r *Registry) Unit(ctx context.Context, id string) (Unit, error) {
	return r.store.PatrolUnit(ctx, id)
}

// UpdatePosition records where a unit is now (its app reports this).
func (r *Registry) UpdatePosition(ctx context.Context, id string, p geo.LatLon) (Unit, error) {
	if err := p.Validate(); err != nil {
		return Unit{}, fmt.Errorf("update position of %s: %w", id, err)
	}
	if err := r.store.SetPatrolPosition(ctx, id, p, r.now()); err != nil {
		return Unit{}, fmt.Errorf("update position of %s: %w", id, err)
	}
	return r.store.PatrolUnit(ctx, id)
}

// SetStatus records a unit's availability.
func (r *Registry) SetStatus(ctx context.Context, id string, s Status) (Unit, error) {
	if _, err := ParseStatus(string(s)); err != nil {
		return Unit{}, fmt.Errorf("set status of %s: %w", id, err)
	}
	if err := r.store.SetPatrolStatus(ctx, id, s, r.now()); err != nil {
		return Unit{}, fmt.Errorf("set status of %s: %w", id, err)
	}
	return r.store.PatrolUnit(ctx, id)
}
