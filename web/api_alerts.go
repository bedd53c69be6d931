package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"snowlight/auth"
)

func (a *api) alertRoutes() []Route {
	readers := roles(auth.Admin, auth.Operator, auth.Investigator, auth.Patrol, auth.Guardian)
	rs := []Route{
		{Pattern: "GET /api/v1/alerts", Name: "alerts.list", Policy: Policy{Roles: readers}, Handler: http.HandlerFunc(a.listAlerts)},
		{Pattern: "GET /api/v1/alerts/stream", Name: "alerts.stream", Policy: Policy{Roles: readers}, Handler: http.HandlerFunc(a.streamAlerts)},
		// Opening an alert shows face crops: each view is recorded. The alert itself is the
		// justification, so no case number is asked of the operator who must check it quickly.
		{Pattern: "GET /api/v1/alerts/{id}", Name: "alerts.get", Policy: Policy{Roles: readers, Audit: AuditAccess}, Handler: http.HandlerFunc(a.getAlert)},
	}
	for _, act := range []struct {
		action string
		roles  []auth.Role
	}{
		{ActConfirm, roles(auth.Admin, auth.Operator, auth.Investigator)},
		{ActDispatch, roles(auth.Admin, auth.Operator)},
		{ActAck, roles(auth.Admin, auth.Operator, auth.Patrol)},
		{ActOnScene, roles(auth.Admin, auth.Operator, auth.Patrol)},
		{ActResolve, roles(auth.Admin, auth.Operator, auth.Patrol)},
		{ActDismiss, roles(auth.Admin, auth.Operator, auth.Investigator)},
	} {
		rs = append(rs, Route{Pattern: "POST /api/v1/alerts/{id}/" + act.action, Name: "alerts." + act.action,
			Policy: Policy{Roles: act.roles}, Handler: a.actOnAlert(act.action)})
	}
	return rs
}

// alertViewer is what one caller may see of the alerts.
type alertViewer struct {
	p    auth.Principal
	unit string // the patrol unit the caller reports for
	area func(camera string) string
}

func (a *api) viewer(ctx context.Context, p auth.Principal) (alertViewer, error) {
	v := alertViewer{p: p, area: a.o.Cameras.Area}
	if p.User.Role == auth.Patrol {
		units, err := a.o.Patrols.List(ctx)
		if err != nil {
			return v, fmt.Errorf("find the unit of patrol account %s: %w", p.User.Name, err)
		}
		for _, u := range units {
			if u.Account == p.User.Name {
				v.unit = u.ID
				break
			}
		}
	}
	return v, nil
}

func (v alertViewer) scope() AlertScope {
	s := v.p.User.Scope
	switch v.p.User.Role {
	case auth.Admin, auth.Investigator:
		return AlertScope{All: true}
	case auth.Operator:
		return AlertScope{Cameras: slices.Clone(s.Cameras), Areas: slices.Clone(s.Areas)}
	case auth.Guardian:
		return AlertScope{Persons: slices.Clone(s.Persons)}
	case auth.Patrol:
		// A patrol account with no unit sees nothing: an empty unit matches no alert.
		return AlertScope{Unit: v.unit}
	}
	return AlertScope{}
}

// canSee is the handler's own check of every alert it returns, whatever the service filtered.
func (v alertViewer) canSee(al AlertView) bool {
	switch v.p.User.Role {
	case auth.Admin, auth.Investigator:
		return true
	case auth.Operator:
		area := al.Area
		if area == "" && al.Camera != "" {
			area = v.area(al.Camera)
		}
		return v.p.CanSeeCamera(al.Camera, area)
	case auth.Guardian:
		return al.PersonID != "" && v.p.CanSeePerson(al.PersonID)
	case auth.Patrol:
		return v.unit != "" && al.Patrol == v.unit
	}
	return false
}

// listAlerts answers GET /api/v1/alerts?status=open,confirmed&limit=200.
func (a *api) listAlerts(w http.ResponseWriter, r *http.Request) {
	f := AlertFilter{}
	if s := r.URL.Query().Get("status"); s != "" {
		for st := range strings.SplitSeq(s, ",") {
			if !validStatus(st) {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("unknown status %q: use open, confirmed, dispatched, acknowledged, on_scene, resolved or dismissed", st))
				return
			}
			f.Status = append(f.Status, st)
		}
	}
	var err error
	if f.Limit, err = intParam(r, "limit", 200, 1, 1000); err != nil {
		Fail(w, r, err)
		return
	}
	v, err := a.viewer(r.Context(), principal(r))
	if err != nil {
		Fail(w, r, err)
		return
	}
	f.Scope = v.scope()
	list, err := a.o.Alerts.List(r.Context(), f)
	if err != nil {
		failService(w, r, err)
		return
	}
	out := make([]AlertView, 0, len(list))
	for _, al := range list {
		if v.canSee(al) {
			a.linkAlert(r.Context(), &al)
			out = append(out, al)
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

func validStatus(s string) bool {
	switch s {
	case StatusOpen, StatusConfirmed, StatusDispatched, StatusAcked, StatusOnScene, StatusResolved, StatusDismissed:
		return true
	}
	return false
}

// getAlert answers GET /api/v1/alerts/{id} with the evidence. An alert the caller may not see is
// reported as missing, so guardians and patrols cannot probe for others' alerts.
func (a *api) getAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	v, err := a.viewer(ctx, principal(r))
	if err != nil {
		Fail(w, r, err)
		return
	}
	d, err := a.o.Alerts.Get(ctx, id)
	if err == nil && !v.canSee(d.AlertView) {
		err = fmt.Errorf("no alert %s among those you may see: %w", id, ErrNotFound)
	}
	if err != nil {
		failService(w, r, err)
		return
	}
	if v.p.User.Role == auth.Guardian {
		// A guardian learns where and when their person was seen and what is being done, not the
		// evidence about others in the pictures or the units' whereabouts.
		d = AlertDetail{AlertView: d.AlertView, History: d.History}
		d.Patrol = ""
	}
	a.linkAlert(ctx, &d.AlertView)
	for i := range d.Crops {
		a.link(ctx, &d.Crops[i].Image)
	}
	a.linkSightings(ctx, d.Sightings)
	a.linkSightings(ctx, d.Path)
	d.EnrolmentPhotos = nil
	if d.PersonID != "" && v.p.User.Role != auth.Guardian {
		if pv, err := a.o.Watchlist.Get(ctx, d.PersonID); err == nil {
			d.EnrolmentPhotos = photoMedia(pv.ID, pv.Photos)
		}
	}
	if d.Crops == nil {
		d.Crops = []FaceCrop{}
	}
	if d.Sightings == nil {
		d.Sightings = []SightingView{}
	}
	if d.Path == nil {
		d.Path = []SightingView{}
	}
	if d.History == nil {
		d.History = []AlertHistory{}
	}
	if d.EnrolmentPhotos == nil {
		d.EnrolmentPhotos = []Media{}
	}
	WriteJSON(w, http.StatusOK, d)
}

func photoMedia(person string, n int) []Media {
	out := make([]Media, 0, n)
	for i := range n {
		out = append(out, Media{URL: photoURL(person, i)})
	}
	return out
}

type actRequest struct {
	Note   string `json:"note"`
	Patrol string `json:"patrol"`
}

// actOnAlert answers POST /api/v1/alerts/{id}/{action} with an optional {"note", "patrol"} body.
func (a *api) actOnAlert(action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r, "id")
		if !ok {
			return
		}
		var req actRequest
		if r.ContentLength != 0 {
			if err := DecodeJSON(r, &req); err != nil {
				Fail(w, r, err)
				return
			}
		}
		if len(req.Note) > 2000 {
			WriteError(w, http.StatusBadRequest, "note too long: at most 2000 characters")
			return
		}
		if req.Patrol != "" && (action != ActDispatch || !validID(req.Patrol)) {
			WriteError(w, http.StatusBadRequest, "patrol may only name a unit id when dispatching")
			return
		}
		ctx := r.Context()
		p := principal(r)
		v, err := a.viewer(ctx, p)
		if err != nil {
			Fail(w, r, err)
			return
		}
		cur, err := a.o.Alerts.Get(ctx, id)
		if err == nil && !v.canSee(cur.AlertView) {
			err = fmt.Errorf("no alert %s among those you may see: %w", id, ErrNotFound)
		}
		if err != nil {
			failService(w, r, err)
			return
		}
		got, err := a.o.Alerts.Act(ctx, AlertAction{ID: id, Action: action, Actor: p.User.Name, Role: string(p.User.Role), Note: req.Note, Patrol: req.Patrol})
		if err != nil {
			failService(w, r, err)
			return
		}
		d := map[string]string{"from": cur.Status, "to": got.Status}
		if got.Patrol != "" {
			d["patrol"] = got.Patrol
		}
		if req.Note != "" {
			d["note"] = req.Note
		}
		if cur.PersonID != "" {
			d["person"] = cur.PersonID
		}
		if err := a.record(r, "alert."+action, id, d); err != nil {
			Fail(w, r, err)
			return
		}
		a.linkAlert(ctx, &got)
		WriteJSON(w, http.StatusOK, got)
	})
}

// streamAlerts answers GET /api/v1/alerts/stream with Server-Sent Events: "alert" for a new alert,
// "update" for a change, each the AlertView as JSON, only for alerts the caller may see. A client
// that reconnects sends Last-Event-ID (browsers do by themselves) or ?last_event_id= and gets what it
// missed first.
func (a *api) streamAlerts(w http.ResponseWriter, r *http.Request) {
	after := int64(-1)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			WriteError(w, http.StatusBadRequest, "Last-Event-ID must be the id of an event (a whole number)")
			return
		}
		after = n
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	v, err := a.viewer(ctx, principal(r))
	if err != nil {
		Fail(w, r, err)
		return
	}
	events, err := a.o.Alerts.Subscribe(ctx, after)
	if err != nil {
		failService(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	beat := time.NewTicker(a.o.Heartbeat)
	defer beat.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if !send([]byte(": ping\n\n")) {
				return
			}
		case ev, ok := <-events:
			if !ok {
				// The subscription ended (the client fell behind, or the engine stopped): the
				// browser reconnects with its last id and catches up.
				return
			}
			if !v.canSee(ev.Alert) {
				continue
			}
			a.linkAlert(ctx, &ev.Alert)
			b, err := json.Marshal(ev.Alert)
			if err != nil {
				a.log.Error("encode alert event", "err", err)
				continue
			}
			typ := ev.Type
			if typ != "alert" && typ != "update" {
				typ = "update"
			}
			buf.Reset()
			fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, typ, b)
			if !send(buf.Bytes()) {
				return
			}
		}
	}
}
