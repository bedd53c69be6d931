package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
		// Where else the person went is a trajectory query: the roles, case and reason of one.
		{Pattern: "GET /api/v1/alerts/{id}/path", Name: "trajectory.alert", Policy: Policy{Roles: roles(auth.Admin, auth.Investigator), Audit: AuditCase},
			Handler: http.HandlerFunc(a.alertPath)},
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
			a.scopeAlert(r.Context(), v, &al)
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

// getAlert answers GET /api/v1/alerts/{id} with the evidence from the cameras the caller may see. An
// alert the caller may not see is reported as missing, so guardians and patrols cannot probe for
// others' alerts.
func (a *api) getAlert(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, d, ok := a.visibleAlert(w, r)
	if !ok {
		return
	}
	if v.p.User.Role == auth.Guardian {
		WriteJSON(w, http.StatusOK, a.guardianDetail(ctx, d))
		return
	}
	a.scopeDetail(ctx, v, &d)
	d.EnrolmentPhotos = nil
	if d.PersonID != "" && v.p.User.Role != auth.Patrol { // the photo route is not the patrol's either
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
	if d.History == nil {
		d.History = []AlertHistory{}
	}
	if d.EnrolmentPhotos == nil {
		d.EnrolmentPhotos = []Media{}
	}
	WriteJSON(w, http.StatusOK, d)
}

// visibleAlert reads the alert named in the path and the caller's view of it, answering 404 itself
// when there is no such alert among those the caller may see.
func (a *api) visibleAlert(w http.ResponseWriter, r *http.Request) (alertViewer, AlertDetail, bool) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return alertViewer{}, AlertDetail{}, false
	}
	v, err := a.viewer(r.Context(), principal(r))
	if err != nil {
		Fail(w, r, err)
		return v, AlertDetail{}, false
	}
	d, err := a.o.Alerts.Get(r.Context(), id)
	if err == nil && !v.canSee(d.AlertView) {
		err = fmt.Errorf("no alert %s among those you may see: %w", id, ErrNotFound)
	}
	if err != nil {
		failService(w, r, err)
		return v, AlertDetail{}, false
	}
	return v, d, true
}

// alertPath answers GET /api/v1/alerts/{id}/path?case=&reason= with the person's path through the
// cameras around the alert: a trajectory query, asked and recorded like one.
func (a *api) alertPath(w http.ResponseWriter, r *http.Request) {
	v, d, ok := a.visibleAlert(w, r)
	if !ok {
		return
	}
	t, err := a.o.Alerts.Path(r.Context(), d.ID)
	if err != nil {
		failService(w, r, err)
		return
	}
	// The route admits only roles that see every camera; the filter keeps it so if that changes.
	t.Sightings = a.scopeSightings(r.Context(), v, d.AlertView, t.Sightings)
	if t.Sightings == nil {
		t.Sightings = []SightingView{}
	}
	WriteJSON(w, http.StatusOK, t)
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
		v, cur, ok := a.visibleAlert(w, r)
		if !ok {
			return
		}
		id, p := cur.ID, v.p
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
		a.scopeAlert(ctx, v, &got)
		WriteJSON(w, http.StatusOK, got)
	})
}

// streamAlerts answers GET /api/v1/alerts/stream with Server-Sent Events: "alert" for a new alert,
// "update" for a change, each the AlertView as JSON, only for alerts the caller may see. A client
// that reconnects sends Last-Event-ID (browsers do by themselves) or ?last_event_id= and gets what it
// missed first, at most MaxReplay events. The stream ends with the login that opened it, after a
// "session_ended" event, and when the user's access changes (the browser reconnects under the new one).
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
	p := principal(r)
	if !a.streams.take(p.User.ID, a.o.MaxStreamsPerUser) {
		tooMany(w, "alert streams", a.o.MaxStreamsPerUser)
		return
	}
	defer a.streams.give(p.User.ID)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	v, err := a.viewer(ctx, p)
	if err != nil {
		Fail(w, r, err)
		return
	}
	events, err := a.o.Alerts.Subscribe(ctx, after, a.o.MaxReplay)
	if err != nil {
		failService(w, r, err)
		return
	}
	loginc := make(chan error, 1)
	go func() {
		_, err := loginOf(r).watch(ctx)
		loginc <- err
	}()
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
		case err := <-loginc:
			if errors.Is(err, errLoginEnded) {
				// Said before closing, so the console asks for a login instead of reconnecting.
				send([]byte("event: session_ended\ndata: {}\n\n"))
			}
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
			a.scopeAlert(ctx, v, &ev.Alert)
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
