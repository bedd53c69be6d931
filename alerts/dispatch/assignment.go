package dispatch

import (
	"context"
	"errors"
	"fmt"
	"snowlight/geo"
	"sort"
	"time"
)

// TargetKind says whether a target is a unit or an area's supervisor.
type TargetKind string

// Target kinds.
const (
	UnitTarget       TargetKind = "unit"
	SupervisorTarget TargetKind = "supervisor"
)

// Target is someone a dispatch can go to.
type Target struct {
	Kind TargetKind `json:"kind"`
	ID   string     `json:"id"` // unit id, or area id for a supervisor
	Name string     `json:"name"`
	// Receiver names the target's notification receiver; empty if it has none (the console still shows
	// the step).
	Receiver string  `json:"receiver,omitempty"`
	Level    Level   `json:"level,omitempty"`      // for supervisors
	Distance float64 `json:"distance_m,omitempty"` // for units: metres from the incident
	// Route says how Distance was measured; empty (great-circle) when no Router is configured.
	Route Route `json:"route,omitempty"`
}

// Incident is where help is needed.
type Incident struct {
	Position geo.LatLon
	Area     string // the grid area of the camera
}

// PlanOptions tune the candidate list.
type PlanOptions struct {
	// MaxUnits is how many of the nearest available units are asked, one after the other, before the
	// supervisors [3].
	MaxUnits int
	// MaxPositionAge drops units whose last position is older than this; a stale position ranks a
	// unit wrongly [15 min].
	MaxPositionAge time.Duration
	// Router ranks units by travel distance, e.g. on a road network; nil ranks them by great-circle
	// distance.
	Router Router
}

// ErrNobody means there is no unit and no supervisor to dispatch to.
var ErrNobody = errors.New("no available patrol unit and no supervisor to dispatch to")

// Plan orders who will be asked: the nearest available units with a fresh position, then the
// supervisors up the grid from the incident's area (street, district, city).
func (r *Registry) Plan(ctx context.Context, inc Incident, o PlanOptions) ([]Target, error) {
	if o.MaxUnits <= 0 {
		o.MaxUnits = 3
	}
	if o.MaxPositionAge <= 0 {
		o.MaxPositionAge = 15 * time.Minute
	}
	if err := inc.Position.Validate(); err != nil {
		return nil, fmt.Errorf("plan dispatch: incident %w", err)
	}
	units, err := r.store.PatrolUnits(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan dispatch: %w", err)
	}
	now := r.now()
	var cands []Target
	var from []geo.LatLon // the positions of cands, for the router
	for _, u := range units {
		if u.Status != Available || u.PositionAt.IsZero() || now.Sub(u.PositionAt) > o.MaxPositionAge {
			continue
		}
		cands = append(cands, Target{Kind: UnitTarget, ID: u.ID, Name: u.Name, Receiver: u.Receiver, Distance: geo.Distance(inc.Position, u.Position)})
		from = append(from, u.Position)
	}
	if o.Router != nil && len(from) > 0 {
		travel, err := o.Router.Travel(ctx, inc.Position, from)
		if err != nil {
			return nil, fmt.Errorf("plan dispatch: route: %w", err)
		}
		if len(travel) != len(from) {
			return nil, fmt.Errorf("plan dispatch: router measured %d of %d units", len(travel), len(from))
		}
		for i, t := range travel {
			cands[i].Distance, cands[i].Route = t.Metres, t.Route
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].Distance != cands[j].Distance {
			return cands[i].Distance < cands[j].Distance
		}
		return cands[i].ID < cands[j].ID
	})
	if len(cands) > o.MaxUnits {
		cands = cands[:o.MaxUnits]
	}
	chain := r.areas.Chain(inc.Area)
	if len(chain) == 0 {
		// A camera outside the grid still escalates, to the city.
		for _, a := range r.areas {
			if a.Level == City {
				chain = append(chain, a)
			}
		}
		sort.Slice(chain, func(i, j int) bool { return chain[i].ID < chain[j].ID })
	}
	for _, a := range chain {
		if a.Supervisor == "" && a.Receiver == "" {
			continue
		}
		cands = append(cands, Target{Kind: SupervisorTarget, ID: a.ID, Name: a.Supervisor, Receiver: a.Receiver, Level: a.Level})
	}
	if len(cands) == 0 {
		return nil, ErrNobody
	}
	return cands, nil
}

// Assignment is the state of one dispatch: who was asked in which order, who is being asked now and
// until when, and who acknowledged. It is plain data, stored with the alert.
type Assignment struct {
	Targets  []Target  `json:"targets"`
	Current  int       `json:"current"` // index into Targets of the one being asked
	Asked    time.Time `json:"asked"`   // when Current was asked
	Deadline time.Time `json:"deadline"`
	Timeout  Duration  `json:"timeout"`
	AckedBy  string    `json:"acked_by,omitempty"`
	AckedAt  time.Time `json:"acked_at,omitzero"`
	// Exhausted is set when the last target's deadline passed without an acknowledgement.
	Exhausted bool `json:"exhausted,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("30s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// NewAssignment asks the first target at now; each target has timeout to acknowledge.
func NewAssignment(targets []Target, now time.Time, timeout time.Duration) (*Assignment, error) {
	if len(targets) == 0 {
		return nil, ErrNobody
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("dispatch: acknowledgement timeout must be positive, got %v", timeout)
	}
	return &Assignment{Targets: targets, Asked: now, Deadline: now.Add(timeout), Timeout: Duration(timeout)}, nil
}

// Asking is the target being asked now.
func (a *Assignment) Asking() Target { return a.Targets[a.Current] }

// Acked reports whether someone acknowledged.
func (a *Assignment) Acked() bool { return a.AckedBy != "" }

// Due reports whether the current target's time is up and nobody acknowledged.
func (a *Assignment) Due(now time.Time) bool {
	return !a.Acked() && !a.Exhausted && !now.Before(a.Deadline)
}

// Escalate moves to the next target when Due. It returns the new target, or ok false when there is
// none left (the assignment is then Exhausted, and stays with the last target asked).
func (a *Assignment) Escalate(now time.Time) (next Target, ok bool) {
	if !a.Due(now) {
		return Target{}, false
	}
	if a.Current+1 >= len(a.Targets) {
		a.Exhausted = true
		return Target{}, false
	}
	a.Current++
	a.Asked, a.Deadline = now, now.Add(time.Duration(a.Timeout))
	return a.Targets[a.Current], true
}

// ErrNotAsked means someone who was never asked tried to acknowledge.
var ErrNotAsked = errors.New("not asked to take this dispatch")

// Acknowledge records that target id (a unit id, or an area id for a supervisor) takes the dispatch.
// Anyone asked so far may: a unit that answers just after its deadline is still the nearest help.
func (a *Assignment) Acknowledge(id string, now time.Time) (Target, error) {
	if a.Acked() {
		return Target{}, fmt.Errorf("dispatch already acknowledged by %s", a.AckedBy)
	}
	for i := 0; i <= a.Current; i++ {
		if a.Targets[i].ID == id {
			a.AckedBy, a.AckedAt = id, now
			return a.Targets[i], nil
		}
	}
	return Target{}, fmt.Errorf("%s: %w", id, ErrNotAsked)
}
