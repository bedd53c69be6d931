package web

import (
	"context"
	"net/http"
	"time"

	"snowlight/auth"
)

// Longest windows a query may cover: a trajectory over a week, sightings at one camera over a day.
const (
	maxTrajectoryWindow = 7 * 24 * time.Hour
	maxSightingsWindow  = 24 * time.Hour
)

// Every route here reveals where identified people went: AuditCase makes the caller give a case number
// and a reason, and records both before the handler runs.
func (a *api) trajectoryRoutes() []Route {
	investigators := roles(auth.Admin, auth.Investigator)
	return []Route{
		{Pattern: "GET /api/v1/persons/{id}/trajectory", Name: "trajectory.person", Policy: Policy{Roles: investigators, Audit: AuditCase},
			Handler: http.HandlerFunc(a.personTrajectory)},
		{Pattern: "GET /api/v1/sightings/{id}/trajectory", Name: "trajectory.sighting", Policy: Policy{Roles: investigators, Audit: AuditCase},
			Handler: http.HandlerFunc(a.sightingTrajectory)},
		{Pattern: "GET /api/v1/cameras/{id}/sightings", Name: "sightings.camera", Policy: Policy{Roles: investigators, Audit: AuditCase},
			Handler: http.HandlerFunc(a.cameraSightings)},
	}
}

func (a *api) trajectory(w http.ResponseWriter, r *http.Request, query func(ctx context.Context, id string, from, to time.Time) (TrajectoryView, error)) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	from, to, err := a.timeWindow(r, 24*time.Hour, maxTrajectoryWindow)
	if err != nil {
		Fail(w, r, err)
		return
	}
	t, err := query(r.Context(), id, from, to)
	if err != nil {
		failService(w, r, err)
		return
	}
	if t.Sightings == nil {
		t.Sightings = []SightingView{}
	}
	a.linkSightings(r.Context(), t.Sightings)
	WriteJSON(w, http.StatusOK, t)
}

// personTrajectory answers GET /api/v1/persons/{id}/trajectory?from=&to=&case=&reason=.
func (a *api) personTrajectory(w http.ResponseWriter, r *http.Request) {
	a.trajectory(w, r, a.o.Trajectories.PersonTrajectory)
}

// sightingTrajectory answers GET /api/v1/sightings/{id}/trajectory?from=&to=&case=&reason=: where the
// person of one sighting came from and went.
func (a *api) sightingTrajectory(w http.ResponseWriter, r *http.Request) {
	a.trajectory(w, r, a.o.Trajectories.FromSighting)
}

// cameraSightings answers GET /api/v1/cameras/{id}/sightings?from=&to=&case=&reason=, to pick a
// sighting to follow.
func (a *api) cameraSightings(w http.ResponseWriter, r *http.Request) {
	cam, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	from, to, err := a.timeWindow(r, time.Hour, maxSightingsWindow)
	if err != nil {
		Fail(w, r, err)
		return
	}
	ss, err := a.o.Trajectories.CameraSightings(r.Context(), cam, from, to)
	if err != nil {
		failService(w, r, err)
		return
	}
	if ss == nil {
		ss = []SightingView{}
	}
	a.linkSightings(r.Context(), ss)
	WriteJSON(w, http.StatusOK, map[string]any{"camera": cam, "from": from, "to": to, "sightings": ss})
}
