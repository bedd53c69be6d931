package fake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"snowlight/web"
)

// Holds keeps case holds in memory, with the real service's rules for what a hold covers: an item must
// exist, a trajectory named by any of its sightings is held under its first sighting and lists the
// sightings it has, and a release names only what the case holds. It records nothing in an audit log;
// the real service does.
type Holds struct {
	now          func() time.Time
	alerts       *Alerts
	trajectories *Trajectories

	mu    sync.Mutex
	holds []web.HoldView
	seq   int64
}

// NewHolds returns an empty set of holds over the world's alerts and sightings.
func NewHolds(now func() time.Time, a *Alerts, t *Trajectories) *Holds {
	return &Holds{now: now, alerts: a, trajectories: t}
}

// resolve returns what holding it means: the item as stored and, for a trajectory, its sightings.
func (h *Holds) resolve(ctx context.Context, it web.HoldItem) (web.HoldItem, []string, error) {
	switch it.Kind {
	case web.HoldAlert:
		if _, err := h.alerts.Get(ctx, it.ID); err != nil {
			return it, nil, err
		}
		return it, nil, nil
	case web.HoldSighting, web.HoldTrajectory:
		h.trajectories.mu.Lock()
		defer h.trajectories.mu.Unlock()
		var seed *web.SightingView
		for i, s := range h.trajectories.sightings {
			if s.ID == it.ID || it.Kind == web.HoldTrajectory && s.Trajectory == it.ID {
				seed = &h.trajectories.sightings[i]
				break
			}
		}
		if seed == nil {
			return it, nil, fmt.Errorf("no %s %s: %w", it.Kind, it.ID, web.ErrNotFound)
		}
		if it.Kind == web.HoldSighting {
			return it, nil, nil
		}
		traj := seed.Trajectory
		if traj == "" {
			traj = seed.ID
		}
		var ids []string
		for _, s := range h.trajectories.sightings {
			if s.ID == traj || s.Trajectory == traj {
				ids = append(ids, s.ID)
			}
		}
		return web.HoldItem{Kind: web.HoldTrajectory, ID: traj}, ids, nil
	}
	return it, nil, fmt.Errorf("item kind %q: %w", it.Kind, web.ErrInvalid)
}

// active finds the case's active hold of an item, however it came to be held.
func (h *Holds) active(c string, it web.HoldItem) int {
	for i, x := range h.holds {
		if x.Case == c && x.Item == it && x.Released == nil {
			return i
		}
	}
	return -1
}

func (h *Holds) Hold(ctx context.Context, r web.HoldRequest) ([]web.HoldView, error) {
	type resolved struct {
		item web.HoldItem
		ids  []string
	}
	var rs []resolved
	for _, it := range r.Items {
		item, ids, err := h.resolve(ctx, it)
		if err != nil {
			return nil, fmt.Errorf("hold for case %s: %w", r.Case, err)
		}
		rs = append(rs, resolved{item, ids})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []web.HoldView
	add := func(it web.HoldItem, via string) {
		if i := h.active(r.Case, it); i >= 0 {
			out = append(out, h.holds[i])
			return
		}
		h.seq++
		v := web.HoldView{ID: h.seq, Case: r.Case, Item: it, Via: via, Reason: r.Reason, By: r.Actor, At: h.now()}
		h.holds = append(h.holds, v)
		out = append(out, v)
	}
	for _, x := range rs {
		add(x.item, "")
		for _, id := range x.ids {
			add(web.HoldItem{Kind: web.HoldSighting, ID: id}, web.HoldTrajectory+"/"+x.item.ID)
		}
	}
	return out, nil
}

func (h *Holds) Release(ctx context.Context, r web.HoldRequest) ([]web.HoldView, error) {
	var want []web.HoldItem
	for _, it := range r.Items {
		item, _, err := h.resolve(ctx, it)
		if err != nil && !errors.Is(err, web.ErrNotFound) {
			return nil, err
		}
		want = append(want, item)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// A trajectory releases the sightings it listed; any other item its own hold. All or nothing.
	covers := func(x web.HoldView, it web.HoldItem) bool {
		if it.Kind == web.HoldTrajectory && x.Via == web.HoldTrajectory+"/"+it.ID {
			return true
		}
		return x.Item == it
	}
	var idx []int
	for _, it := range want {
		n := len(idx)
		for i, x := range h.holds {
			if x.Case == r.Case && x.Released == nil && covers(x, it) {
				idx = append(idx, i)
			}
		}
		if len(idx) == n {
			return nil, fmt.Errorf("release of case %s: case %s does not hold %s/%s: %w", r.Case, r.Case, it.Kind, it.ID, web.ErrNotFound)
		}
	}
	if len(want) == 0 {
		for i, x := range h.holds {
			if x.Case == r.Case && x.Released == nil {
				idx = append(idx, i)
			}
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("release of case %s: case %s holds nothing: %w", r.Case, r.Case, web.ErrNotFound)
	}
	rel := &web.HoldRelease{By: r.Actor, Reason: r.Reason, At: h.now()}
	out := make([]web.HoldView, 0, len(idx))
	seen := map[int]bool{}
	for _, i := range idx {
		if seen[i] {
			continue
		}
		seen[i] = true
		h.holds[i].Released = rel
		out = append(out, h.holds[i])
	}
	return out, nil
}

func (h *Holds) List(ctx context.Context, f web.HoldFilter) ([]web.HoldView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []web.HoldView{}
	for _, x := range h.holds {
		if x.ID <= f.After || f.Case != "" && x.Case != f.Case || !f.All && x.Released != nil {
			continue
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
		out = append(out, x)
	}
	return out, nil
}
