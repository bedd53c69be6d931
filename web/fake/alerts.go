// Package fake holds in-memory implementations of the web package's service interfaces, so the API and
// the console can be tested (and shown) apart from the store and perception. They keep the rules the
// real services promise (the alert lifecycle is the alert engine's own table, alerts.Lifecycle;
// two-person confirmation, nearest available unit, replayable event ids) but no persistence, and the
// watch list's face check is a stand-in: see Watchlist.
package fake

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"snowlight/alerts"
	"snowlight/web"
)

// Alerts is an alert engine in memory. Add alerts with Raise; the lifecycle follows web.AlertAction.
type Alerts struct {
	Now     func() time.Time
	Patrols *Patrols // for dispatch to the nearest available unit
	// Trajectories answer Path: the person's sightings in the six hours before the alert's last change.
	Trajectories *Trajectories

	mu     sync.Mutex
	alerts map[string]*web.AlertDetail
	events []web.AlertEvent
	subs   map[chan web.AlertEvent]struct{}
	seq    int
}

// NewAlerts returns an empty engine that dispatches to units of p.
func NewAlerts(now func() time.Time, p *Patrols) *Alerts {
	if now == nil {
		now = time.Now
	}
	return &Alerts{Now: now, Patrols: p, alerts: map[string]*web.AlertDetail{}, subs: map[chan web.AlertEvent]struct{}{}}
}

// Raise adds an alert (an id is given when empty; status open) and publishes it.
func (a *Alerts) Raise(d web.AlertDetail) web.AlertView {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.Now()
	if d.ID == "" {
		a.seq++
		d.ID = fmt.Sprintf("a%d", a.seq)
	}
	if d.Status == "" {
		d.Status = web.StatusOpen
	}
	if d.Created.IsZero() {
		d.Created = now
	}
	d.Updated = now
	if d.Biometric && d.ConfirmationsRequired == 0 {
		d.ConfirmationsRequired = 1
	}
	d.History = append(d.History, web.AlertHistory{Status: d.Status, Actor: "system", At: now, Note: "raised by rule " + d.Rule})
	a.alerts[d.ID] = &d
	a.publish("alert", d.AlertView)
	return d.AlertView
}

// Update changes an alert outside the lifecycle (e.g. its clip became ready) and publishes the change.
func (a *Alerts) Update(id string, f func(*web.AlertDetail)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.alerts[id]
	if !ok {
		return fmt.Errorf("alert %s: %w", id, web.ErrNotFound)
	}
	f(d)
	d.Updated = a.Now()
	a.publish("update", d.AlertView)
	return nil
}

// publish records and fans out an event; a.mu is held.
func (a *Alerts) publish(typ string, v web.AlertView) {
	ev := web.AlertEvent{ID: int64(len(a.events) + 1), Type: typ, Alert: v}
	a.events = append(a.events, ev)
	for ch := range a.subs {
		select {
		case ch <- ev:
		default:
			// Too slow: end its subscription; it resumes from its last id.
			delete(a.subs, ch)
			close(ch)
		}
	}
}

var sevRank = map[string]int{"critical": 0, "high": 1, "normal": 2, "low": 3}

func closed(status string) bool { return status == web.StatusResolved || status == web.StatusDismissed }

// List returns the alerts in f's scope, open ones first, then by severity, newest first.
func (a *Alerts) List(ctx context.Context, f web.AlertFilter) ([]web.AlertView, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []web.AlertView
	for _, d := range a.alerts {
		if len(f.Status) > 0 && !slices.Contains(f.Status, d.Status) {
			continue
		}
		if !f.Scope.Allows(d.AlertView) {
			continue
		}
		out = append(out, d.AlertView)
	}
	slices.SortFunc(out, func(x, y web.AlertView) int {
		if c := cmp.Compare(boolInt(closed(x.Status)), boolInt(closed(y.Status))); c != 0 {
			return c
		}
		if c := cmp.Compare(sevRank[x.Severity], sevRank[y.Severity]); c != 0 {
			return c
		}
		return y.Created.Compare(x.Created)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Get returns a copy of the alert.
func (a *Alerts) Get(ctx context.Context, id string) (web.AlertDetail, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.alerts[id]
	if !ok {
		return web.AlertDetail{}, fmt.Errorf("no alert %s: %w", id, web.ErrNotFound)
	}
	c := *d
	c.History = slices.Clone(d.History)
	c.Crops = slices.Clone(d.Crops)
	c.Sightings = slices.Clone(d.Sightings)
	if a.Patrols != nil && c.Patrol != "" {
		if u, ok := a.Patrols.get(c.Patrol); ok {
			c.PatrolUnit = &u
		}
	}
	return c, nil
}

// Path is the alert's person's trajectory in the six hours up to a minute after its last change.
func (a *Alerts) Path(ctx context.Context, id string) (web.TrajectoryView, error) {
	d, err := a.Get(ctx, id)
	if err != nil {
		return web.TrajectoryView{}, err
	}
	if d.PersonID == "" || a.Trajectories == nil {
		return web.TrajectoryView{}, fmt.Errorf("alert %s is about nobody: it has no path: %w", id, web.ErrInvalid)
	}
	return a.Trajectories.PersonTrajectory(ctx, d.PersonID, d.Updated.Add(-6*time.Hour), d.Updated.Add(time.Minute))
}

// Act applies a lifecycle step.
func (a *Alerts) Act(ctx context.Context, act web.AlertAction) (web.AlertView, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.alerts[act.ID]
	if !ok {
		return web.AlertView{}, fmt.Errorf("no alert %s: %w", act.ID, web.ErrNotFound)
	}
	conflict := func(format string, args ...any) (web.AlertView, error) {
		return web.AlertView{}, fmt.Errorf(format+": %w", append(args, web.ErrConflict)...)
	}
	now := a.Now()
	step := web.AlertHistory{Action: act.Action, Actor: act.Actor, At: now, Note: act.Note}
	to, err := lifecycle(d).Next(lifecycleSteps[act.Action])
	switch {
	case lifecycleSteps[act.Action] == "":
		return web.AlertView{}, fmt.Errorf("unknown action %q: %w", act.Action, web.ErrInvalid)
	case err != nil:
		return conflict("alert %s: %v", d.ID, err)
	}
	switch act.Action {
	case web.ActConfirm:
		for _, h := range d.History {
			if h.Action == web.ActConfirm && h.Actor == act.Actor {
				return conflict("you confirmed this alert already: a second, different person must confirm it")
			}
		}
		d.Confirmations++
		if d.Confirmations < max(1, d.ConfirmationsRequired) {
			to = alerts.Open
		}
	case web.ActDispatch:
		if a.Patrols == nil {
			return conflict("no patrol units are configured")
		}
		u, err := a.Patrols.assign(act.Patrol, d.ID, d.Position)
		if err != nil {
			return web.AlertView{}, err
		}
		d.Patrol = u
		step.Note = joinNote(act.Note, "unit "+u)
	case web.ActResolve, web.ActDismiss:
		if a.Patrols != nil && d.Patrol != "" {
			a.Patrols.release(d.Patrol)
		}
	}
	d.Status = string(to)
	if act.Action == web.ActAck {
		d.Status = web.StatusAcked // the console shows a dispatch somebody took as acknowledged
	}
	step.Status = d.Status
	d.History = append(d.History, step)
	d.Updated = now
	a.publish("update", d.AlertView)
	return d.AlertView, nil
}

// lifecycleSteps are the console's actions as the alert lifecycle's steps.
var lifecycleSteps = map[string]alerts.Action{
	web.ActConfirm: alerts.ActConfirmed, web.ActDispatch: alerts.ActDispatched, web.ActAck: alerts.ActAcknowledged,
	web.ActOnScene: alerts.ActOnScene, web.ActResolve: alerts.ActResolved, web.ActDismiss: alerts.ActDismissed,
}

// lifecycle is a console alert's state as the alert engine's lifecycle sees it: "acked" is a dispatch
// somebody acknowledged.
func lifecycle(d *web.AlertDetail) alerts.Lifecycle {
	if d.Status == web.StatusAcked {
		return alerts.Lifecycle{Status: alerts.Dispatched, Biometric: d.Biometric, Acked: true}
	}
	return alerts.Lifecycle{Status: alerts.Status(d.Status), Biometric: d.Biometric}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Subscribe replays the newest maxReplay events after after (when after >= 0) and then streams live
// ones.
func (a *Alerts) Subscribe(ctx context.Context, after int64, maxReplay int) (<-chan web.AlertEvent, error) {
	a.mu.Lock()
	var replay []web.AlertEvent
	if after >= 0 && after < int64(len(a.events)) {
		replay = a.events[max(after, int64(len(a.events)-maxReplay)):]
	}
	ch := make(chan web.AlertEvent, len(replay)+256)
	for _, e := range replay {
		ch <- e
	}
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	go func() {
		<-ctx.Done()
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
			close(ch)
		}
	}()
	return ch, nil
}

// Subscribers is the number of open subscriptions.
func (a *Alerts) Subscribers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.subs)
}
