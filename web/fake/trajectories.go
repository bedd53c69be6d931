package fake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"snowlight/web"
)

// Trajectories answers trajectory queries from a list of sightings.
type Trajectories struct {
	mu        sync.Mutex
	sightings []web.SightingView
}

// NewTrajectories returns an empty set.
func NewTrajectories() *Trajectories { return &Trajectories{} }

// Add records sightings.
func (t *Trajectories) Add(ss ...web.SightingView) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sightings = append(t.sightings, ss...)
	slices.SortFunc(t.sightings, func(a, b web.SightingView) int { return a.Enter.Compare(b.Enter) })
}

func (t *Trajectories) filter(keep func(web.SightingView) bool, from, to time.Time) []web.SightingView {
	out := []web.SightingView{}
	for _, s := range t.sightings {
		if keep(s) && s.Exit.After(from) && s.Enter.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

func (t *Trajectories) PersonTrajectory(ctx context.Context, id string, from, to time.Time) (web.TrajectoryView, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := t.filter(func(s web.SightingView) bool { return s.PersonID == id }, from, to)
	return web.TrajectoryView{PersonID: id, From: from, To: to, Sightings: ss}, nil
}

func (t *Trajectories) FromSighting(ctx context.Context, id string, from, to time.Time) (web.TrajectoryView, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := slices.IndexFunc(t.sightings, func(s web.SightingView) bool { return s.ID == id })
	if i < 0 {
		return web.TrajectoryView{}, fmt.Errorf("no sighting %s: %w", id, web.ErrNotFound)
	}
	seed := t.sightings[i]
	ss := t.filter(func(s web.SightingView) bool {
		return s.ID == id || seed.Trajectory != "" && s.Trajectory == seed.Trajectory
	}, from, to)
	return web.TrajectoryView{PersonID: seed.PersonID, Sighting: id, From: from, To: to, Sightings: ss}, nil
}

func (t *Trajectories) CameraSightings(ctx context.Context, camera string, from, to time.Time) ([]web.SightingView, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.filter(func(s web.SightingView) bool { return s.Camera == camera }, from, to), nil
}

func (t *Trajectories) Latest(ctx context.Context, id string) (web.SightingView, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best web.SightingView
	found := false
	for _, s := range t.sightings {
		if s.PersonID == id && (!found || s.Exit.After(best.Exit)) {
			best, found = s, true
		}
	}
	return best, found, nil
}
