package web

import (
	"context"
	"net/http"
	"slices"
	"time"

	"snowlight/auth"
	"snowlight/geo"
)

// The patrol's phone asks for one thing: what its unit is sent to now. The answer holds only that
// alert as a patrol sees it (the evidence of the alert's camera, where the person was last placed),
// the person's name, category and one enrolment photo; a patrol account has no route to anything else
// about the person. Each read is recorded.

func (a *api) assignmentRoutes() []Route {
	patrol := roles(auth.Patrol)
	return []Route{
		{Pattern: "GET /api/v1/patrol/assignment", Name: "patrol.assignment", Policy: Policy{Roles: patrol, Audit: AuditAccess},
			Handler: http.HandlerFunc(a.assignment)},
		{Pattern: "GET /api/v1/patrol/assignment/photo", Name: "patrol.assignment.photo", Policy: Policy{Roles: patrol, Audit: AuditAccess},
			Handler: http.HandlerFunc(a.assignmentPhoto)},
	}
}

// AssignmentView is what a patrol unit is sent to.
type AssignmentView struct {
	Unit PatrolView `json:"unit"`
	// Alert is nil when the unit has no assignment.
	Alert *AlertView `json:"alert"`
	// PhotoURL is the person's enrolment photo, for the officer to recognise them ("" when none).
	PhotoURL string `json:"photo_url,omitempty"`
	// Latest is the newest sighting of the alert the unit may see (its face and body pictures); Route
	// is where those sightings were, oldest first.
	Latest *SightingView `json:"latest,omitempty"`
	Route  []RoutePoint  `json:"route"`
}

// RoutePoint is one place a person was seen.
type RoutePoint struct {
	Camera     string      `json:"camera"`
	CameraName string      `json:"camera_name,omitempty"`
	Position   *geo.LatLon `json:"position,omitempty"`
	Enter      time.Time   `json:"enter"`
	Exit       time.Time   `json:"exit"`
}

// workingStatuses are the statuses of an alert a unit is working on.
var workingStatuses = []string{StatusDispatched, StatusAcked, StatusOnScene}

// current finds the caller's unit and the alert it is working on (the most recently changed one),
// as the caller may see it: the evidence of the alert's own camera, where the unit is going.
func (a *api) current(ctx context.Context, p auth.Principal) (PatrolView, *AlertDetail, error) {
	v, err := a.viewer(ctx, p)
	if err != nil {
		return PatrolView{}, nil, err
	}
	units, err := a.o.Patrols.List(ctx)
	if err != nil {
		return PatrolView{}, nil, err
	}
	i := slices.IndexFunc(units, func(u PatrolView) bool { return u.ID == v.unit })
	if v.unit == "" || i < 0 {
		return PatrolView{}, nil, Errorf(http.StatusNotFound, "no patrol unit reports through the account %s: ask an administrator to name it on a unit", p.User.Name)
	}
	list, err := a.o.Alerts.List(ctx, AlertFilter{Status: workingStatuses, Scope: v.scope(), Limit: 50})
	if err != nil {
		return units[i], nil, err
	}
	var best *AlertView
	for j := range list {
		al := &list[j]
		if v.canSee(*al) && (best == nil || al.Updated.After(best.Updated)) {
			best = al
		}
	}
	if best == nil {
		return units[i], nil, nil
	}
	d, err := a.o.Alerts.Get(ctx, best.ID)
	if err != nil {
		return units[i], nil, err
	}
	a.scopeDetail(ctx, v, &d)
	return units[i], &d, nil
}

// assignment answers GET /api/v1/patrol/assignment.
func (a *api) assignment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	unit, d, err := a.current(ctx, principal(r))
	if err != nil {
		failService(w, r, err)
		return
	}
	out := AssignmentView{Unit: unit, Route: []RoutePoint{}}
	if d == nil {
		WriteJSON(w, http.StatusOK, out)
		return
	}
	al := d.AlertView
	out.Alert = &al
	if al.PersonID != "" {
		if pv, err := a.o.Watchlist.Get(ctx, al.PersonID); err == nil && pv.Photos > 0 {
			out.PhotoURL = "/api/v1/patrol/assignment/photo?alert=" + al.ID
		}
	}
	ss := slices.Clone(d.Sightings)
	slices.SortFunc(ss, func(x, y SightingView) int { return x.Enter.Compare(y.Enter) })
	for _, s := range ss {
		out.Route = append(out.Route, RoutePoint{Camera: s.Camera, CameraName: s.CameraName, Position: s.Position, Enter: s.Enter, Exit: s.Exit})
	}
	if n := len(ss); n > 0 {
		latest := ss[n-1]
		latest.Clip = Clip{State: ClipNone}
		out.Latest = &latest
	}
	WriteJSON(w, http.StatusOK, out)
}

// assignmentPhoto answers GET /api/v1/patrol/assignment/photo with the first enrolment photo of the
// person the caller's unit is sent to, and 404 when it is sent to nobody (the alert parameter only
// keeps a cached photo from showing for the next assignment).
func (a *api) assignmentPhoto(w http.ResponseWriter, r *http.Request) {
	_, d, err := a.current(r.Context(), principal(r))
	if err != nil {
		failService(w, r, err)
		return
	}
	if d == nil || d.PersonID == "" {
		WriteError(w, http.StatusNotFound, "your unit is not sent to anyone with a photo")
		return
	}
	ph, err := a.o.Watchlist.Photo(r.Context(), d.PersonID, 0)
	if err != nil {
		failService(w, r, err)
		return
	}
	writePhoto(w, ph)
}
