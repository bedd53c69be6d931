package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/notify"
	"snowlight/geo"
	"snowlight/watchlist"
)

// Store persists alerts, their events and the notifications their changes cause; the store package
// implements it.
type Store interface {
	// ApplyAlertChange writes a change in one transaction: the alert (inserted, or updated only if
	// it still has the version it was read at, else ErrConflict), its events (numbered in Seq) and
	// its outbox messages. It returns the events with their Seq.
	ApplyAlertChange(ctx context.Context, c Change) ([]Event, error)
	// Alert returns an alert with its history, or ErrNotFound.
	Alert(ctx context.Context, id string) (Alert, error)
	// ActiveAlert returns the most recent alert of kind about subject that is not final.
	ActiveAlert(ctx context.Context, kind Kind, subject string) (Alert, bool, error)
	// Alerts lists alerts (without history), most recently triggered first.
	Alerts(ctx context.Context, q Query) ([]Alert, error)
	// AlertEventsAfter returns up to limit events with Seq > after, in order, each with its alert
	// snapshot.
	AlertEventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// LastAlertEvent returns the Seq of the newest event, 0 when there is none.
	LastAlertEvent(ctx context.Context) (int64, error)
	// TriggerAlert returns the alert a trigger key was raised or folded into (Change.Trigger).
	TriggerAlert(ctx context.Context, key string) (id string, ok bool, err error)
}

// Change is one atomic step of an alert.
type Change struct {
	Alert Alert // the new state; Version already incremented
	New   bool
	// Events record the step; Outbox holds the notifications it causes.
	Events []Event
	Outbox []notify.Message
	// Trigger is the key of the trigger raised or folded by the change (Trigger.Key), recorded with
	// it; empty for other changes.
	Trigger string
}

// Query selects alerts.
type Query struct {
	Statuses []Status // any of these; all if empty
	Kinds    []Kind
	PersonID string
	Camera   string
	Since    time.Time // last triggered at or after
	Limit    int       // [100], at most 1000
}

// Errors the engine reports; test with errors.Is.
var (
	ErrNotFound = errors.New("no such alert")
	// ErrConflict means the alert changed between reading and writing it; retry.
	ErrConflict = errors.New("alert changed concurrently")
	// ErrTransition means the step is not allowed in the alert's status.
	ErrTransition = errors.New("not allowed in this status")
	// ErrSameConfirmer means the two-person rule needs another user.
	ErrSameConfirmer = errors.New("already confirmed by this user; the two-person rule needs a different user")
	// ErrInvalid means the request itself is wrong (missing user, reason or field).
	ErrInvalid = errors.New("invalid alert request")
)

// Guardians says who is notified about a person: the notification receivers of their guardians.
type Guardians interface {
	GuardiansOf(ctx context.Context, personID string) ([]string, error)
}

// GuardianMap is a fixed Guardians table: person id to receivers.
type GuardianMap map[string][]string

// GuardiansOf implements Guardians.
func (g GuardianMap) GuardiansOf(ctx context.Context, personID string) ([]string, error) {
	return g[personID], nil
}

// Options configure an Engine. Zero values take the defaults in brackets.
type Options struct {
	// Cooldown is how long after its last trigger an open alert still absorbs new triggers for the
	// same person and rule [10 min]; a trigger after that opens a new alert.
	Cooldown time.Duration
	// TwoPersonRule requires two different users to confirm a biometric alert before dispatch.
	TwoPersonRule bool
	// AckTimeout is how long each dispatch target has to acknowledge before the next is asked [60 s].
	AckTimeout time.Duration
	Plan       dispatch.PlanOptions
	// Guardians are notified when an alert about their person is confirmed, for persons in
	// GuardianCategories [at_risk, missing].
	Guardians          Guardians
	GuardianCategories []watchlist.Category
	// Links build the URLs put in notifications [BaseURL + /alerts/{id} and /api/v1/alerts/{id}/snapshot].
	BaseURL string
	Links   Links
	// OnDismiss is called after a biometric alert was dismissed as false, so the matcher can take the
	// evidence as a negative for that person. Errors are logged; the dismissal stands.
	OnDismiss func(ctx context.Context, a Alert) error
	// OnConfirm is called after a biometric alert was confirmed (by as many people as the two-person
	// rule asks), so the matcher may learn the confirmed faces. Errors are logged; the confirmation
	// stands.
	OnConfirm func(ctx context.Context, a Alert) error
	// Publish receives every committed event, in order, with the alert as it left it (for the console
	// stream's hub).
	Publish func(events ...Event)
	// Kick is called after notifications were queued (the outbox worker's Kick).
	Kick   func()
	Now    func() time.Time
	Logger *slog.Logger
}

// Links make the URLs notifications carry.
type Links struct {
	Alert    func(a Alert) string
	Snapshot func(a Alert) string
}

// Engine owns every change of every alert. Its methods are the API the HTTP handlers call; they are
// safe for concurrent use.
type Engine struct {
	store   Store
	patrols *dispatch.Registry
	o       Options
	log     *slog.Logger

	// mu serialises changes, which makes "find the open alert, else create one" atomic and keeps
	// published events in Seq order. Changes are a few milliseconds of SQLite each.
	mu sync.Mutex
}

// NewEngine returns an engine over store; patrols may be nil when there is nobody to dispatch.
func NewEngine(store Store, patrols *dispatch.Registry, o Options) (*Engine, error) {
	if o.Cooldown <= 0 {
		o.Cooldown = 10 * time.Minute
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 60 * time.Second
	}
	if o.GuardianCategories == nil {
		o.GuardianCategories = []watchlist.Category{watchlist.AtRisk, watchlist.Missing}
	}
	if o.Guardians == nil {
		o.Guardians = GuardianMap{}
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if o.Links.Alert == nil {
		o.Links.Alert = func(a Alert) string { return base + "/alerts/" + a.ID }
	}
	if o.Links.Snapshot == nil {
		o.Links.Snapshot = func(a Alert) string {
			if a.Evidence.Snapshot == "" {
				return ""
			}
			return base + "/api/v1/alerts/" + a.ID + "/snapshot"
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, patrols: patrols, o: o, log: log.With("component", "alerts")}, nil
}

// Trigger is one rule firing: the input of Raise.
type Trigger struct {
	Kind   Kind
	At     time.Time // wall time of the evidence
	Person *Person   // required for watch-list hits and safe-zone exits
	Place  Place
	// Subject overrides what repeated triggers fold by (default: the person, else camera and zone).
	Subject  string
	Detail   string
	Evidence Evidence
	// Key, when set, makes the trigger count once: a trigger whose key was raised or folded before,
	// by this process or an earlier one (the key is stored in the change's transaction), changes
	// nothing. The rules key a sighting's trigger by sighting, rule and what it adds, so an event
	// delivered again after a crash raises nothing twice.
	Key string
}

func (t Trigger) subject() string {
	switch {
	case t.Subject != "":
		return t.Subject
	case t.Person != nil:
		return "person:" + t.Person.ID
	case t.Place.Zone != "":
		return "camera:" + t.Place.Camera + "/zone:" + t.Place.Zone
	}
	return "camera:" + t.Place.Camera
}

func (t Trigger) validate() error {
	if _, err := ParseKind(string(t.Kind)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if t.At.IsZero() {
		return fmt.Errorf("%w: trigger without a time", ErrInvalid)
	}
	if t.Place.Camera == "" {
		return fmt.Errorf("%w: trigger without a camera", ErrInvalid)
	}
	if (t.Kind == WatchlistHit || t.Kind == SafeZoneExit) && (t.Person == nil || t.Person.ID == "") {
		return fmt.Errorf("%w: %s trigger without a person", ErrInvalid, t.Kind)
	}
	if len(t.Evidence.Scores) > len(t.Evidence.FaceCrops) {
		return fmt.Errorf("%w: %d scores for %d face crops", ErrInvalid, len(t.Evidence.Scores), len(t.Evidence.FaceCrops))
	}
	return nil
}

func priorityOf(t Trigger) Priority {
	switch {
	case t.Person != nil && t.Person.Category == watchlist.Suspect:
		return Critical
	case t.Person != nil:
		return High
	case t.Kind == Loitering:
		return Normal
	}
	return Low
}

// Raise records a rule firing. If an alert of the same kind about the same subject is still active and
// was last triggered within the cooldown, the trigger is folded into it (created false); otherwise a
// new alert opens.
func (e *Engine) Raise(ctx context.Context, t Trigger) (Alert, bool, error) {
	if err := t.validate(); err != nil {
		return Alert{}, false, err
	}
	subject := t.subject()
	e.mu.Lock()
	defer e.mu.Unlock()
	if t.Key != "" {
		id, seen, err := e.store.TriggerAlert(ctx, t.Key)
		if err != nil {
			return Alert{}, false, fmt.Errorf("raise %s for %s: %w", t.Kind, subject, err)
		}
		if seen {
			a, err := e.store.Alert(ctx, id)
			return a, false, err
		}
	}
	now := e.o.Now()
	a, ok, err := e.store.ActiveAlert(ctx, t.Kind, subject)
	if err != nil {
		return Alert{}, false, fmt.Errorf("raise %s for %s: %w", t.Kind, subject, err)
	}
	if ok && t.At.Sub(a.LastSeen) <= e.o.Cooldown {
		c := e.fold(&a, t)
		c.trigger = t.Key
		a, err := e.commit(ctx, a, false, now, c)
		return a, false, err
	}
	a = Alert{
		ID: newID(now), Kind: t.Kind, Subject: subject, Priority: priorityOf(t), Person: t.Person,
		Place: t.Place, FirstPlace: t.Place, FirstSeen: t.At, LastSeen: t.At, Triggers: 1, Detail: t.Detail,
		Evidence: Evidence{}, Status: Open, Created: now,
	}
	a.Evidence.merge(t.Evidence)
	a, err = e.commit(ctx, a, true, now, step{trigger: t.Key,
		events: []Event{{Actor: System, Action: ActRaised, To: Open, Note: t.Detail, Camera: t.Place.Camera}}})
	return a, true, err
}

// fold merges a repeated trigger into a, and tells whoever is on the way where the person is now.
func (e *Engine) fold(a *Alert, t Trigger) step {
	a.Triggers++
	if !t.At.Before(a.LastSeen) {
		a.LastSeen, a.Place = t.At, t.Place
	}
	a.Evidence.merge(t.Evidence)
	if t.Detail != "" {
		a.Detail = t.Detail
	}
	s := step{events: []Event{{Actor: System, Action: ActSighted, Note: "at " + placeName(t.Place), Camera: t.Place.Camera}}}
	if a.Status == Dispatched || a.Status == OnScene {
		if tg, ok := a.responder(); ok && tg.Receiver != "" {
			s.outbox = append(s.outbox, e.message(*a, tg.Receiver, "dispatch.update", fmt.Sprintf("%s/update/%d/%s", a.ID, a.Version+1, tg.Receiver), nil))
		}
	}
	return s
}

func placeName(p Place) string {
	if p.CameraName != "" {
		return p.CameraName
	}
	return p.Camera
}

// responder is who is on it: the target that acknowledged, else the one being asked.
func (a *Alert) responder() (dispatch.Target, bool) {
	if a.Dispatch == nil {
		return dispatch.Target{}, false
	}
	if a.Dispatch.Acked() {
		for _, t := range a.Dispatch.Targets {
			if t.ID == a.Dispatch.AckedBy {
				return t, true
			}
		}
	}
	return a.Dispatch.Asking(), true
}

// step is what one change records and sends.
type step struct {
	events  []Event
	outbox  []notify.Message
	after   func(ctx context.Context, a Alert) // side effects once committed
	trigger string                             // Trigger.Key of a raise or fold
}

func (e *Engine) commit(ctx context.Context, a Alert, isNew bool, now time.Time, s step) (Alert, error) {
	a.Version++
	a.Updated = now
	a.History = nil
	snap := a
	for i := range s.events {
		ev := &s.events[i]
		ev.AlertID, ev.At, ev.Alert = a.ID, now, &snap
	}
	for i := range s.outbox {
		s.outbox[i].Created = now
	}
	evs, err := e.store.ApplyAlertChange(ctx, Change{Alert: a, New: isNew, Events: s.events, Outbox: s.outbox, Trigger: s.trigger})
	if err != nil {
		return Alert{}, fmt.Errorf("alert %s: %w", a.ID, err)
	}
	for _, ev := range evs {
		attrs := []any{"alert", a.ID, "kind", a.Kind, "status", a.Status, "actor", ev.Actor}
		if ev.Target != "" { // the unit or receiver a step went to; most steps have none
			attrs = append(attrs, "target", ev.Target)
		}
		e.log.Info("alert "+string(ev.Action), attrs...)
	}
	if e.o.Publish != nil {
		e.o.Publish(evs...)
	}
	if len(s.outbox) > 0 && e.o.Kick != nil {
		e.o.Kick()
	}
	if s.after != nil {
		s.after(ctx, a)
	}
	return a, nil
}

// change applies fn to the current state of alert id and commits what it returns.
func (e *Engine) change(ctx context.Context, id string, fn func(a *Alert, now time.Time) (step, error)) (Alert, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.store.Alert(ctx, id)
	if err != nil {
		return Alert{}, fmt.Errorf("alert %s: %w", id, err)
	}
	now := e.o.Now()
	s, err := fn(&a, now)
	if err != nil {
		return Alert{}, fmt.Errorf("alert %s: %w", id, err)
	}
	return e.commit(ctx, a, false, now, s)
}

func needUser(user, what string) error {
	if strings.TrimSpace(user) == "" {
		return fmt.Errorf("%w: %s needs the acting user", ErrInvalid, what)
	}
	return nil
}

// Confirm records that user checked the evidence. With the two-person rule a biometric alert becomes
// confirmed at the second confirmation, by a different user. Guardians are notified when it does.
func (e *Engine) Confirm(ctx context.Context, id, user string) (Alert, error) {
	if err := needUser(user, "confirm"); err != nil {
		return Alert{}, err
	}
	a, err := e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		if _, err := a.Lifecycle().Next(ActConfirmed); err != nil {
			return step{}, err
		}
		for _, c := range a.Confirmations {
			if c.User == user {
				return step{}, ErrSameConfirmer
			}
		}
		a.Confirmations = append(a.Confirmations, Confirmation{User: user, At: now})
		need := 1
		if e.o.TwoPersonRule && a.Biometric() {
			need = 2
		}
		if len(a.Confirmations) < need {
			return step{events: []Event{{Actor: user, Action: ActConfirmed, Note: fmt.Sprintf("%d of %d confirmations", len(a.Confirmations), need)}}}, nil
		}
		a.Status = Confirmed
		s := step{events: []Event{{Actor: user, Action: ActConfirmed, From: Open, To: Confirmed}}}
		msgs, err := e.guardianNotices(ctx, *a)
		if err != nil {
			return step{}, err
		}
		s.outbox = msgs
		return s, nil
	})
	if err == nil && a.Status == Confirmed && a.Biometric() && e.o.OnConfirm != nil {
		if ferr := e.o.OnConfirm(ctx, a); ferr != nil {
			e.log.Error("confirmation feedback to matching failed", "alert", a.ID, "person", a.Person.ID, "err", ferr)
		}
	}
	return a, err
}

func (e *Engine) guardianNotices(ctx context.Context, a Alert) ([]notify.Message, error) {
	if a.Person == nil || !slices.Contains(e.o.GuardianCategories, a.Person.Category) {
		return nil, nil
	}
	receivers, err := e.o.Guardians.GuardiansOf(ctx, a.Person.ID)
	if err != nil {
		return nil, fmt.Errorf("guardians of %s: %w", a.Person.ID, err)
	}
	var out []notify.Message
	for _, r := range receivers {
		out = append(out, e.message(a, r, "guardian.notice", a.ID+"/guardian.notice/"+r, nil))
	}
	return out, nil
}

// Dispatch sends the nearest available unit. A biometric alert must be confirmed first.
func (e *Engine) Dispatch(ctx context.Context, id, user string) (Alert, error) {
	return e.dispatch(ctx, id, user, "")
}

// DispatchUnit sends the unit the operator chose (it must be available); if it does not acknowledge,
// escalation continues with the nearest others and the supervisors as for Dispatch.
func (e *Engine) DispatchUnit(ctx context.Context, id, user, unit string) (Alert, error) {
	if unit == "" {
		return Alert{}, fmt.Errorf("%w: no unit chosen", ErrInvalid)
	}
	return e.dispatch(ctx, id, user, unit)
}

func (e *Engine) dispatch(ctx context.Context, id, user, unit string) (Alert, error) {
	if err := needUser(user, "dispatch"); err != nil {
		return Alert{}, err
	}
	if e.patrols == nil {
		return Alert{}, fmt.Errorf("alert %s: no patrol units configured", id)
	}
	return e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		if _, err := a.Lifecycle().Next(ActDispatched); err != nil {
			if a.Status == Open {
				need := 1
				if e.o.TwoPersonRule {
					need = 2
				}
				err = fmt.Errorf("%w (%d of %d confirmations)", err, len(a.Confirmations), need)
			}
			return step{}, err
		}
		targets, err := e.patrols.Plan(ctx, dispatch.Incident{Position: a.Place.Position, Area: a.Place.Area}, e.o.Plan)
		if err != nil && !(unit != "" && errors.Is(err, dispatch.ErrNobody)) {
			return step{}, err
		}
		if unit != "" {
			u, err := e.patrols.Unit(ctx, unit)
			if err != nil {
				return step{}, err
			}
			if u.Status != dispatch.Available {
				return step{}, fmt.Errorf("%w: unit %s is %s", ErrInvalid, unit, u.Status)
			}
			chosen := dispatch.Target{Kind: dispatch.UnitTarget, ID: u.ID, Name: u.Name, Receiver: u.Receiver, Distance: geo.Distance(a.Place.Position, u.Position)}
			// The chosen unit is measured as the plan measures the others, by road if there is a router.
			if i := slices.IndexFunc(targets, func(t dispatch.Target) bool { return t.Kind == dispatch.UnitTarget && t.ID == unit }); i >= 0 {
				chosen = targets[i]
			} else if r := e.o.Plan.Router; r != nil {
				tr, err := r.Travel(ctx, a.Place.Position, []geo.LatLon{u.Position})
				if err != nil {
					return step{}, fmt.Errorf("route unit %s: %w", unit, err)
				}
				chosen.Distance, chosen.Route = tr[0].Metres, tr[0].Route
			}
			targets = append([]dispatch.Target{chosen}, slices.DeleteFunc(targets, func(t dispatch.Target) bool {
				return t.Kind == dispatch.UnitTarget && t.ID == unit
			})...)
		}
		asg, err := dispatch.NewAssignment(targets, now, e.o.AckTimeout)
		if err != nil {
			return step{}, err
		}
		from := a.Status
		a.Status, a.Dispatch = Dispatched, asg
		tg := asg.Asking()
		s := step{events: []Event{{Actor: user, Action: ActDispatched, From: from, To: Dispatched, Target: tg.ID,
			Note: targetNote(tg)}}}
		if tg.Receiver != "" {
			s.outbox = append(s.outbox, e.message(*a, tg.Receiver, "dispatch.request", fmt.Sprintf("%s/dispatch/%d/%d/%s", a.ID, a.Version+1, asg.Current, tg.ID), &tg))
		}
		return s, nil
	})
}

func targetNote(t dispatch.Target) string {
	if t.Kind == dispatch.UnitTarget {
		return fmt.Sprintf("unit %s, %.0f m away", t.ID, t.Distance)
	}
	return fmt.Sprintf("%s supervisor of %s", t.Level, t.ID)
}

// Acknowledge records that a dispatch target (a unit id, or an area id for a supervisor) takes the
// alert; escalation stops and the unit becomes busy.
func (e *Engine) Acknowledge(ctx context.Context, id, by string) (Alert, error) {
	if err := needUser(by, "acknowledge"); err != nil {
		return Alert{}, err
	}
	return e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		if _, err := a.Lifecycle().Next(ActAcknowledged); err != nil {
			return step{}, err
		}
		tg, err := a.Dispatch.Acknowledge(by, now)
		if err != nil {
			return step{}, err
		}
		s := step{events: []Event{{Actor: by, Action: ActAcknowledged, Target: tg.ID}}}
		if tg.Kind == dispatch.UnitTarget {
			a.Patrol = tg.ID
			s.after = func(ctx context.Context, a Alert) { e.setUnit(ctx, tg.ID, dispatch.Busy) }
		}
		return s, nil
	})
}

// Arrive records that the responder is on scene.
func (e *Engine) Arrive(ctx context.Context, id, by string) (Alert, error) {
	if err := needUser(by, "mark on scene"); err != nil {
		return Alert{}, err
	}
	return e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		to, err := a.Lifecycle().Next(ActOnScene)
		if err != nil {
			return step{}, err
		}
		a.Status = to
		return step{events: []Event{{Actor: by, Action: ActOnScene, From: Dispatched, To: OnScene}}}, nil
	})
}

// Resolve closes an alert that was handled. A biometric alert that nobody confirmed cannot be resolved
// (it is confirmed or dismissed first).
func (e *Engine) Resolve(ctx context.Context, id, user, note string) (Alert, error) {
	if err := needUser(user, "resolve"); err != nil {
		return Alert{}, err
	}
	return e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		to, err := a.Lifecycle().Next(ActResolved)
		if err != nil {
			return step{}, err
		}
		return e.close(a, now, to, ActResolved, user, note), nil
	})
}

// Dismiss closes an alert as false. A reason is required: it is what the matching feedback and the
// audit show.
func (e *Engine) Dismiss(ctx context.Context, id, user, reason string) (Alert, error) {
	if err := needUser(user, "dismiss"); err != nil {
		return Alert{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Alert{}, fmt.Errorf("%w: dismissing needs a reason", ErrInvalid)
	}
	a, err := e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		to, err := a.Lifecycle().Next(ActDismissed)
		if err != nil {
			return step{}, err
		}
		return e.close(a, now, to, ActDismissed, user, reason), nil
	})
	if err == nil && a.Biometric() && e.o.OnDismiss != nil {
		if ferr := e.o.OnDismiss(ctx, a); ferr != nil {
			e.log.Error("dismissal feedback to matching failed", "alert", a.ID, "person", a.Person.ID, "err", ferr)
		}
	}
	return a, err
}

// close ends an alert, tells whoever was dispatched to stand down, and frees the unit.
func (e *Engine) close(a *Alert, now time.Time, to Status, act Action, user, note string) step {
	from := a.Status
	a.Status = to
	a.Closed = &Closure{By: user, At: now, Reason: note}
	s := step{events: []Event{{Actor: user, Action: act, From: from, To: to, Note: note}}}
	if from == Dispatched || from == OnScene {
		if tg, ok := a.responder(); ok && tg.Receiver != "" {
			s.outbox = append(s.outbox, e.message(*a, tg.Receiver, "dispatch.closed", a.ID+"/closed/"+tg.Receiver, nil))
		}
	}
	if unit := a.Patrol; unit != "" {
		s.after = func(ctx context.Context, a Alert) { e.setUnit(ctx, unit, dispatch.Available) }
	}
	return s
}

func (e *Engine) setUnit(ctx context.Context, unit string, st dispatch.Status) {
	if e.patrols == nil {
		return
	}
	if _, err := e.patrols.SetStatus(ctx, unit, st); err != nil {
		e.log.Error("update patrol status", "unit", unit, "status", st, "err", err)
	}
}

// AttachEvidence adds a snapshot or clip (object-store keys) or more face crops to an alert, at any
// point of its life: the clip is written after its post-roll, often after the alert went out.
func (e *Engine) AttachEvidence(ctx context.Context, id string, ev Evidence) (Alert, error) {
	if ev.Snapshot == "" && ev.Clip == "" && len(ev.FaceCrops) == 0 && len(ev.ClipLost) == 0 {
		return Alert{}, fmt.Errorf("%w: no evidence to attach", ErrInvalid)
	}
	return e.change(ctx, id, func(a *Alert, now time.Time) (step, error) {
		var what []string
		if ev.Snapshot != "" {
			a.Evidence.Snapshot = ev.Snapshot
			what = append(what, "snapshot")
		}
		if ev.Clip != "" {
			a.Evidence.Clip, a.Evidence.ClipStart, a.Evidence.ClipEnd = ev.Clip, ev.ClipStart, ev.ClipEnd
			what = append(what, "clip")
		}
		if len(ev.ClipParts) > 0 {
			a.Evidence.ClipParts = ev.ClipParts
			what = append(what, fmt.Sprintf("%d more clip parts", len(ev.ClipParts)))
		}
		if len(ev.FaceCrops) > 0 {
			a.Evidence.merge(Evidence{FaceCrops: ev.FaceCrops, Scores: ev.Scores})
			what = append(what, "face crops")
		}
		note := strings.Join(what, ", ") + " attached"
		if len(ev.ClipLost) > 0 {
			a.Evidence.ClipLost = ev.ClipLost
			var lost []string
			for _, g := range ev.ClipLost {
				lost = append(lost, fmt.Sprintf("%v of video lost at %s: %s", g.To.Sub(g.From).Round(100*time.Millisecond),
					g.From.UTC().Format("15:04:05"), g.Reason))
			}
			if len(what) == 0 {
				note = "no clip"
			}
			note += "; " + strings.Join(lost, "; ")
		}
		return step{events: []Event{{Actor: System, Action: ActEvidence, Note: note}}}, nil
	})
}

// Escalate asks the next target of every dispatch whose current target let its deadline pass. It
// returns how many alerts it changed.
func (e *Engine) Escalate(ctx context.Context) (int, error) {
	dispatched, err := e.store.Alerts(ctx, Query{Statuses: []Status{Dispatched}, Limit: 1000})
	if err != nil {
		return 0, fmt.Errorf("escalate: %w", err)
	}
	n := 0
	for _, d := range dispatched {
		if d.Dispatch == nil || !d.Dispatch.Due(e.o.Now()) {
			continue
		}
		_, err := e.change(ctx, d.ID, func(a *Alert, now time.Time) (step, error) {
			if a.Status != Dispatched || a.Dispatch == nil || !a.Dispatch.Due(now) {
				return step{}, errNothing
			}
			missed := a.Dispatch.Asking()
			tg, ok := a.Dispatch.Escalate(now)
			if !ok {
				return step{events: []Event{{Actor: System, Action: ActExhausted, Target: missed.ID,
					Note: "nobody acknowledged; the last target was " + missed.ID}}}, nil
			}
			s := step{events: []Event{{Actor: System, Action: ActEscalated, Target: tg.ID,
				Note: fmt.Sprintf("%s did not acknowledge within %v; asking %s", missed.ID, time.Duration(a.Dispatch.Timeout), targetNote(tg))}}}
			if tg.Receiver != "" {
				topic := "dispatch.request"
				if tg.Kind == dispatch.SupervisorTarget {
					topic = "dispatch.escalation"
				}
				s.outbox = append(s.outbox, e.message(*a, tg.Receiver, topic, fmt.Sprintf("%s/dispatch/%d/%d/%s", a.ID, a.Version+1, a.Dispatch.Current, tg.ID), &tg))
			}
			return s, nil
		})
		switch {
		case errors.Is(err, errNothing):
		case err != nil:
			return n, err
		default:
			n++
		}
	}
	return n, nil
}

var errNothing = errors.New("nothing to do")

// Run escalates overdue dispatches every interval until ctx ends.
func (e *Engine) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := e.Escalate(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("escalation pass failed", "err", err)
			}
		}
	}
}

// Alert returns an alert with its history.
func (e *Engine) Alert(ctx context.Context, id string) (Alert, error) {
	a, err := e.store.Alert(ctx, id)
	if err != nil {
		return Alert{}, fmt.Errorf("alert %s: %w", id, err)
	}
	return a, nil
}

// Alerts lists alerts.
func (e *Engine) Alerts(ctx context.Context, q Query) ([]Alert, error) { return e.store.Alerts(ctx, q) }

// LastEvent is the id of the newest alert event, 0 when there is none: a stream that resumes can be
// told how far behind it is.
func (e *Engine) LastEvent(ctx context.Context) (int64, error) { return e.store.LastAlertEvent(ctx) }

// Replay serves the console stream's resume (notify.StreamOptions.Replay).
func (e *Engine) Replay(ctx context.Context, after int64, limit int) ([]notify.Event[Event], error) {
	evs, err := e.store.AlertEventsAfter(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Event[Event], len(evs))
	for i, ev := range evs {
		out[i] = StreamEvent(ev)
	}
	return out, nil
}

// newID makes alert ids that sort by creation time: 12 hex digits of Unix milliseconds and 8 random.
func newID(now time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("al_%012x%s", now.UnixMilli(), hex.EncodeToString(r[:]))
}
