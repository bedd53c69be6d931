package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/watchlist"
	"snowlight/web"
)

// alertsAPI is the alert engine as the web API sees it.
type alertsAPI struct{ s *Server }

// webErr translates the engine's errors into the API's, keeping the message a person can act on.
func webErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, alerts.ErrNotFound), errors.Is(err, dispatch.ErrUnknownUnit):
		return fmt.Errorf("%v: %w", err, web.ErrNotFound)
	case errors.Is(err, alerts.ErrTransition), errors.Is(err, alerts.ErrSameConfirmer), errors.Is(err, alerts.ErrConflict),
		errors.Is(err, dispatch.ErrNobody), errors.Is(err, dispatch.ErrNotAsked):
		return fmt.Errorf("%v: %w", err, web.ErrConflict)
	case errors.Is(err, alerts.ErrInvalid):
		return fmt.Errorf("%v: %w", err, web.ErrInvalid)
	}
	return err
}

func (x alertsAPI) List(ctx context.Context, f web.AlertFilter) ([]web.AlertView, error) {
	q := alerts.Query{Limit: 1000}
	for _, st := range f.Status {
		if st == web.StatusAcked {
			st = string(alerts.Dispatched)
		}
		parsed, err := alerts.ParseStatus(st)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, web.ErrInvalid)
		}
		q.Statuses = append(q.Statuses, parsed)
	}
	as, err := x.s.engine.Alerts(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]web.AlertView, 0, len(as))
	for _, a := range as {
		v := x.view(a)
		if len(f.Status) > 0 && !slices.Contains(f.Status, v.Status) {
			continue
		}
		if f.Scope.Allows(v) {
			out = append(out, v)
		}
	}
	// Active before closed, then the most urgent, then the newest.
	slices.SortStableFunc(out, func(a, b web.AlertView) int {
		if c := cmp.Compare(closedRank(a.Status), closedRank(b.Status)); c != 0 {
			return c
		}
		if c := cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)); c != 0 {
			return c
		}
		return b.Updated.Compare(a.Updated)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func closedRank(status string) int {
	if status == web.StatusResolved || status == web.StatusDismissed {
		return 1
	}
	return 0
}

func severityRank(s string) int {
	return map[string]int{"critical": 0, "high": 1, "normal": 2, "low": 3}[s]
}

func (x alertsAPI) view(a alerts.Alert) web.AlertView {
	v := web.AlertView{
		ID: a.ID, Rule: string(a.Kind), Severity: severity(a.Priority), Status: status(a),
		Title: title(a), Created: a.Created, Updated: a.Updated,
		Camera: a.Place.Camera, CameraName: a.Place.CameraName, Area: a.Place.Area,
		Score: float64(a.Evidence.BestScore()), Biometric: a.Biometric(), Confirmations: len(a.Confirmations),
		Snapshot: web.Media{Key: a.Evidence.Snapshot}, Patrol: a.Patrol,
	}
	if p := a.Place.Position; !p.IsZero() {
		v.Position = &p
	}
	if a.Person != nil {
		v.PersonID, v.PersonName, v.Category = a.Person.ID, a.Person.Name, a.Person.Category
		v.Threshold = float64(x.s.watch.policy.Threshold[a.Person.Category])
	}
	if v.Biometric {
		v.ConfirmationsRequired = 1
		if x.s.dep.Alerts.TwoPersonRule {
			v.ConfirmationsRequired = 2
		}
	}
	if v.Patrol == "" && a.Dispatch != nil && !a.Status.Final() {
		// The unit being asked; once escalation reaches the supervisors no unit is assigned (the
		// history says which supervisor is asked).
		if tg := a.Dispatch.Asking(); tg.Kind == dispatch.UnitTarget {
			v.Patrol = tg.ID
		}
	}
	// The snapshot and clip are cut from the ring of the camera the alert was raised at (the
	// evidence collector runs once, on the raised alert), as is the first face: the web handler links
	// them only for callers who may see that camera, which after the person moved on is not the
	// alert's camera.
	first := a.FirstPlace.Camera
	v.Snapshot.Camera = first
	if len(a.Evidence.FaceCrops) > 0 {
		v.Face = web.Media{Key: a.Evidence.FaceCrops[0], Camera: first}
	}
	v.Clip = web.Clip{Media: web.Media{Key: a.Evidence.Clip, Camera: first}, State: web.ClipNone, Start: a.Evidence.ClipStart, End: a.Evidence.ClipEnd}
	switch {
	case a.Evidence.Clip != "":
		v.Clip.State = web.ClipReady
	case x.s.now().Sub(a.Created) < x.s.dep.PreRoll+x.s.dep.PostRoll+30*time.Second:
		if _, ok := x.s.cameras.Health()[a.Place.Camera]; ok {
			v.Clip.State = web.ClipPreparing // the post-roll is still being recorded
		}
	}
	return v
}

func severity(p alerts.Priority) string {
	switch p {
	case alerts.Critical:
		return "critical"
	case alerts.High:
		return "high"
	case alerts.Normal:
		return "normal"
	}
	return "low"
}

// status is the alert's status as the console names it: a dispatch somebody took is "acknowledged".
func status(a alerts.Alert) string {
	if a.Status == alerts.Dispatched && a.Dispatch != nil && a.Dispatch.Acked() {
		return web.StatusAcked
	}
	return string(a.Status)
}

func title(a alerts.Alert) string {
	who := ""
	if a.Person != nil {
		who = a.Person.Name
	}
	switch a.Kind {
	case alerts.WatchlistHit:
		return fmt.Sprintf("%s on the watch list seen: %s", categoryName(a.Person.Category), who)
	case alerts.SafeZoneExit:
		return fmt.Sprintf("%s outside the safe zone: %s", categoryName(a.Person.Category), who)
	case alerts.Loitering:
		return "Loitering in zone " + a.Place.Zone
	case alerts.CameraOffline:
		return "Camera offline"
	case alerts.CameraTampered:
		return "Camera tampered with"
	}
	return string(a.Kind)
}

func categoryName(c watchlist.Category) string {
	l := c.Label()
	if l == "" {
		return "Person"
	}
	return strings.ToUpper(l[:1]) + l[1:] + " person"
}

func (x alertsAPI) Get(ctx context.Context, id string) (web.AlertDetail, error) {
	a, err := x.s.engine.Alert(ctx, id)
	if err != nil {
		return web.AlertDetail{}, webErr(err)
	}
	d := web.AlertDetail{AlertView: x.view(a)}
	tr := trajectoriesAPI{x.s}
	faceCamera := map[string]string{} // a face crop is its sighting's face picture
	for _, sid := range a.Evidence.Sightings {
		if sv, err := tr.sighting(ctx, sid); err == nil {
			d.Sightings = append(d.Sightings, sv)
			if sv.Face.Key != "" {
				faceCamera[sv.Face.Key] = sv.Camera
			}
		}
	}
	for i, key := range a.Evidence.FaceCrops {
		// A crop whose sighting is gone keeps no camera, and is shown only to those who see all.
		fc := web.FaceCrop{Image: web.Media{Key: key}, Time: a.LastSeen, Camera: faceCamera[key]}
		if i < len(a.Evidence.Scores) {
			fc.Similarity = float64(a.Evidence.Scores[i])
		}
		d.Crops = append(d.Crops, fc)
	}
	if len(d.Crops) > 0 && d.Crops[0].Camera != "" {
		d.Face.Camera = d.Crops[0].Camera // the view could only assume the first camera
	}
	if a.Patrol != "" {
		if u, err := x.s.patrols.Unit(ctx, a.Patrol); err == nil {
			pv := patrolView(u, id)
			d.PatrolUnit = &pv
		}
	}
	for _, ev := range a.History {
		h := web.AlertHistory{Status: string(ev.To), Action: string(ev.Action), Actor: ev.Actor, At: ev.At, Note: ev.Note, Camera: ev.Camera}
		if h.Status == "" && ev.Alert != nil {
			h.Status = status(*ev.Alert)
		}
		if h.Camera == "" {
			switch ev.Action {
			case alerts.ActRaised:
				h.Camera = a.FirstPlace.Camera
			case alerts.ActSighted:
				h.Note = "" // written before steps named their camera: the place cannot be checked
			}
		}
		if ev.Target != "" {
			d.Notices = append(d.Notices, fmt.Sprintf("%s: %s", ev.Action, ev.Target))
		}
		d.History = append(d.History, h)
	}
	return d, nil
}

// alertPathWindow is how far back before an alert's last sighting its path goes.
const alertPathWindow = 6 * time.Hour

// Path is the alert's person's trajectory over the hours before the alert's last sighting.
func (x alertsAPI) Path(ctx context.Context, id string) (web.TrajectoryView, error) {
	a, err := x.s.engine.Alert(ctx, id)
	if err != nil {
		return web.TrajectoryView{}, webErr(err)
	}
	if a.Person == nil {
		return web.TrajectoryView{}, fmt.Errorf("alert %s is about no watch-list person: it has no path: %w", id, web.ErrInvalid)
	}
	return trajectoriesAPI{x.s}.PersonTrajectory(ctx, a.Person.ID, a.LastSeen.Add(-alertPathWindow), a.LastSeen.Add(time.Minute))
}

func (x alertsAPI) Act(ctx context.Context, act web.AlertAction) (web.AlertView, error) {
	e := x.s.engine
	var (
		a   alerts.Alert
		err error
	)
	switch act.Action {
	case web.ActConfirm:
		a, err = e.Confirm(ctx, act.ID, act.Actor)
	case web.ActDispatch:
		if act.Patrol != "" {
			a, err = e.DispatchUnit(ctx, act.ID, act.Actor, act.Patrol)
		} else {
			a, err = e.Dispatch(ctx, act.ID, act.Actor)
		}
	case web.ActAck, web.ActOnScene:
		var by string
		if by, err = x.responder(ctx, act); err != nil {
			return web.AlertView{}, err
		}
		if act.Action == web.ActAck {
			a, err = e.Acknowledge(ctx, act.ID, by)
		} else {
			a, err = e.Arrive(ctx, act.ID, by)
		}
	case web.ActResolve:
		a, err = e.Resolve(ctx, act.ID, act.Actor, act.Note)
	case web.ActDismiss:
		a, err = e.Dismiss(ctx, act.ID, act.Actor, act.Note)
	default:
		return web.AlertView{}, fmt.Errorf("unknown action %q: %w", act.Action, web.ErrInvalid)
	}
	if err != nil {
		return web.AlertView{}, webErr(err)
	}
	return x.view(a), nil
}

// responder is who acknowledges or arrives: a patrol account speaks for its own unit (the unit with the
// account's name); anyone else answers for whoever the dispatch is asking now.
func (x alertsAPI) responder(ctx context.Context, act web.AlertAction) (string, error) {
	if act.Role == "patrol" {
		return act.Actor, nil
	}
	a, err := x.s.engine.Alert(ctx, act.ID)
	if err != nil {
		return "", webErr(err)
	}
	if a.Dispatch == nil {
		return "", fmt.Errorf("alert %s has not been dispatched: %w", act.ID, web.ErrConflict)
	}
	if a.Patrol != "" {
		return a.Patrol, nil
	}
	return a.Dispatch.Asking().ID, nil
}

func (x alertsAPI) Subscribe(ctx context.Context, after int64, maxReplay int) (<-chan web.AlertEvent, error) {
	if after >= 0 {
		// Event ids only grow (with gaps where retention deleted): resuming at most maxReplay
		// before the newest replays at most maxReplay events, however far behind the client was.
		newest, err := x.s.engine.LastEvent(ctx)
		if err != nil {
			return nil, err
		}
		after = max(after, newest-int64(maxReplay))
	}
	sub := x.s.hub.Subscribe(ctx, after, x.s.engine.Replay)
	out := make(chan web.AlertEvent)
	go func() {
		defer close(out)
		for se := range sub.C {
			ev := se.Data
			if ev.Alert == nil {
				continue
			}
			typ := "update"
			if ev.Action == alerts.ActRaised {
				typ = "alert"
			}
			select {
			case out <- web.AlertEvent{ID: ev.Seq, Type: typ, Alert: x.view(*ev.Alert)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
