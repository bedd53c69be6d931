package web

import (
	"fmt"
	"math"
	"net/http"

	"snowlight/auth"
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
// A patrol account reports only for its own unit.
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
	p := principal(r)
	if p.User.Role == auth.Patrol {
		units, err := a.o.Patrols.List(r.Context())
		if err != nil {
			failService(w, r, err)
			return
		}
		mine := false
		for _, unit := range units {
			mine = mine || unit.ID == id && unit.Account == p.User.Name
		}
		if !mine {
			WriteError(w, http.StatusForbidden, fmt.Sprintf("you report for your own unit only, not for %s", id))
			return
		}
	}
	if u.At.IsZero() {
		u.At = a.o.Now()
	}
	got, err := a.o.Patrols.UpdatePosition(r.Context(), id, u)
	if err != nil {
		failService(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, got)
}

func validPatrolStatus(s string) bool {
	return s == PatrolAvailable || s == PatrolBusy || s == PatrolOffline
}

func validLatLon(p LatLon) bool {
	return !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon) && p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180 &&
		!(p.Lat == 0 && p.Lon == 0)
}
