package web

import (
	"errors"
	"net/http"

	"snowlight/auth"
	"snowlight/geo"
	"snowlight/watchlist"
)

func (a *api) guardianRoutes() []Route {
	return []Route{
		// Every look is recorded: it tells where a person is.
		{Pattern: "GET /api/v1/guardian", Name: "guardian.view", Policy: Policy{Roles: roles(auth.Guardian), Audit: AuditAccess},
			Handler: http.HandlerFunc(a.guardianView)},
	}
}

// GuardedPerson is what a guardian sees of one person they guard: who, the safe zone, where they were
// last seen, and their alerts.
type GuardedPerson struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	Category watchlist.Category `json:"category"`
	SafeZone []geo.LatLon       `json:"safe_zone,omitempty"`
	Latest   *SightingView      `json:"latest,omitempty"`
	Alerts   []AlertView        `json:"alerts"`
}

// guardianView answers GET /api/v1/guardian for the persons in the caller's scope and nobody else.
func (a *api) guardianView(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principal(r)
	v, err := a.viewer(ctx, p)
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := []GuardedPerson{}
	for _, id := range p.User.Scope.Persons {
		if !p.CanSeePerson(id) {
			continue
		}
		pv, err := a.o.Watchlist.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // removed from the list, or expired and purged
		}
		if err != nil {
			failService(w, r, err)
			return
		}
		g := GuardedPerson{ID: pv.ID, Name: pv.Name, Category: pv.Category, SafeZone: pv.SafeZone, Alerts: []AlertView{}}
		s, ok, err := a.o.Trajectories.Latest(ctx, id)
		if err != nil {
			failService(w, r, err)
			return
		}
		if ok && s.PersonID == id {
			// Where (the camera's name and place) and when, with their face: not the full frame or
			// the clip (others are in them), nor the link evidence.
			latest := SightingView{ID: s.ID, CameraName: s.CameraName, Position: s.Position,
				Enter: s.Enter, Exit: s.Exit, PersonID: id, Face: Media{Key: s.Face.Key}}
			if latest.CameraName == "" {
				latest.CameraName = s.Camera
			}
			a.link(ctx, &latest.Face)
			g.Latest = &latest
		}
		alerts, err := a.o.Alerts.List(ctx, AlertFilter{Limit: 50, Scope: AlertScope{Persons: []string{id}}})
		if err != nil {
			failService(w, r, err)
			return
		}
		for _, al := range alerts {
			if al.PersonID == id && v.canSee(al) {
				g.Alerts = append(g.Alerts, a.guardianAlert(ctx, al))
			}
		}
		out = append(out, g)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"persons": out})
}
