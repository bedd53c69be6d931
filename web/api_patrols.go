package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"snowlight/auth"
	"snowlight/geo"
)

func (a *api) patrolRoutes() []Route {
	return []Route{
		{Pattern: "GET /api/v1/patrols", Name: "patrols.list", Policy: Policy{Roles: roles(auth.Admin, auth.Operator, auth.Investigator, auth.Patrol)},
			Handler: http.HandlerFunc(a.listPatrols)},
		{Pattern: "POST /api/v1/patrols", Name: "patrols.create", Policy: Policy{Roles: roles(auth.Admin)}, Handler: http.HandlerFunc(a.createPatrol)},
		{Pattern: "POST /api/v1/patrols/{id}/position", Name: "patrols.position", Policy: Policy{Roles: roles(auth.Admin, auth.Operator, auth.Patrol)},
			Handler: http.HandlerFunc(a.patrolPosition)},
	}
}

func (a *api) listPatrols(w http.ResponseWriter, r *http.Request) {
	units, err := a.o.Patrols.List(r.Context())
	if err != nil {
		failService(w, r, err)
		return
	}
	if units == nil {
		units = []PatrolView{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"patrols": units})
}

func (a *api) createPatrol(w http.ResponseWriter, r *http.Request) {
	var in PatrolInput
	if err := DecodeJSON(r, &in); err != nil {
		Fail(w, r, err)
		return
	}
	switch {
	case !validID(in.ID):
		WriteError(w, http.StatusBadRequest, `give the unit an "id" of 1 to 128 characters without spaces or '/'`)
		return
	case in.Name == "" || len(in.Name) > 200:
		WriteError(w, http.StatusBadRequest, `give the unit a "name" of 1 to 200 characters`)
		return
	case in.Status != "" && !validPatrolStatus(in.Status):
		WriteError(w, http.StatusBadRequest, "status must be available, busy or offline")
		return
	case in.Position != nil && !validLatLon(*in.Position):
		WriteError(w, http.StatusBadRequest, `give "position": {"lat", "lon"} with lat in [-90, 90] and lon in [-180, 180] (0, 0 counts as missing)`)
		return
	}
	if in.Status == "" {
		in.Status = PatrolOffline
	}
	u, err := a.o.Patrols.Create(r.Context(), in)
	if err != nil {
		failService(w, r, err)
		return
	}
	if err := a.record(r, "patrol.create", u.ID, map[string]string{"name": u.Name, "account": u.Account}); err != nil {
		Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, u)
}

// patrolPosition answers POST /api/v1/patrols/{id}/position {"position": {"lat", "lon"}, "status"}.
// A patrol account reports for its own unit; an operator moves the units of their areas, an admin any
// unit. Where a unit is decides which unit the nearest-unit dispatch asks first, so a move made for a
// unit by someone else is recorded with where it was and where it went; a unit's own reports are
// its telemetry, and are not.
func (a *api) patrolPosition(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	var u PositionUpdate
	if err := DecodeJSON(r, &u); err != nil {
		Fail(w, r, err)
		return
	}
	if !validLatLon(u.Position) {
		WriteError(w, http.StatusBadRequest, `give "position": {"lat", "lon"} with lat in [-90, 90] and lon in [-180, 180] (0, 0 counts as missing)`)
		return
	}
	if u.Status != "" && !validPatrolStatus(u.Status) {
		WriteError(w, http.StatusBadRequest, "status must be available, busy or offline")
		return
	}
	units, err := a.o.Patrols.List(r.Context())
	if err != nil {
		failService(w, r, err)
		return
	}
	i := slices.IndexFunc(units, func(unit PatrolView) bool { return unit.ID == id })
	if i < 0 {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no patrol unit %s", id))
		return
	}
	before, p := units[i], principal(r)
	switch {
	case p.User.Role == auth.Patrol && before.Account != p.User.Name:
		WriteError(w, http.StatusForbidden, fmt.Sprintf("you report for your own unit only, not for %s", id))
		return
	case p.User.Role == auth.Operator && !inAreas(p, before.Area):
		WriteError(w, http.StatusForbidden, fmt.Sprintf("unit %s belongs to an area outside yours: its own crew or an admin moves it", id))
		return
	}
	if u.At.IsZero() {
		u.At = a.o.Now()
	}
	got, err := a.o.Patrols.UpdatePosition(r.Context(), id, u)
	if err != nil {
		failService(w, r, err)
		return
	}
	if p.User.Role != auth.Patrol {
		d := map[string]string{"to": latLonText(got.Position), "from": latLonText(before.Position), "area": before.Area}
		if got.Status != before.Status {
			d["status"] = before.Status + " -> " + got.Status
		}
		if err := a.record(r, "patrol.move", id, d); err != nil {
			Fail(w, r, err)
			return
		}
	}
	WriteJSON(w, http.StatusOK, got)
}

// inAreas reports whether an operator's scope covers an area: it lists the area, or every camera.
func inAreas(p auth.Principal, area string) bool {
	s := p.User.Scope
	return slices.Contains(s.Cameras, auth.AllCameras) || area != "" && slices.Contains(s.Areas, area)
}

func latLonText(p *geo.LatLon) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatFloat(p.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(p.Lon, 'f', 6, 64)
}

func validPatrolStatus(s string) bool {
	return s == PatrolAvailable || s == PatrolBusy || s == PatrolOffline
}

func validLatLon(p geo.LatLon) bool {
	return p.Validate() == nil && !p.IsZero()
}
