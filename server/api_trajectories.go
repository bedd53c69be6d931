package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"snowlight/geo"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/web"
)

// trajectoriesAPI answers where people went, from the store.
type trajectoriesAPI struct{ s *Server }

func (x trajectoriesAPI) stepView(st tracks.Step) web.SightingView {
	v := web.SightingView{ID: st.Sighting, Trajectory: st.Trajectory, Camera: st.Camera, Enter: st.Enter, Exit: st.Exit,
		PersonID: st.PersonID, Snapshot: web.Media{Key: st.BodyRef}, Face: web.Media{Key: st.FaceRef},
		Clip: web.Clip{State: web.ClipNone}}
	if c, ok := x.s.dep.Camera(st.Camera); ok {
		v.CameraName = c.Name
	}
	if st.HasPos {
		v.Position = &geo.LatLon{Lat: st.Lat, Lon: st.Lon}
	}
	if st.Link != nil {
		v.Confidence = st.Link.Confidence
	}
	return v
}

// sighting is one stored sighting with the score of the identity it carries.
func (x trajectoriesAPI) sighting(ctx context.Context, id string) (web.SightingView, error) {
	s, err := x.s.db.Sighting(ctx, id)
	if err != nil {
		return web.SightingView{}, storeErr(err)
	}
	return x.sightingView(s), nil
}

// sightingView is a stored sighting as the API shows it.
func (x trajectoriesAPI) sightingView(s tracks.Sighting) web.SightingView {
	st := tracks.Step{Sighting: s.ID, Camera: s.Camera, Enter: s.Enter, Exit: s.Exit, PersonID: s.PersonID()}
	if s.Face != nil {
		st.FaceRef = s.Face.Ref
	}
	if s.Body != nil {
		st.BodyRef = s.Body.Ref
	}
	if c, ok := x.s.dep.Camera(s.Camera); ok {
		st.Lat, st.Lon, st.HasPos = c.Position.Lat, c.Position.Lon, true
	}
	v := x.stepView(st)
	v.Score = identityScore(s)
	return v
}

// identityScore is the best face similarity behind a sighting's identity (0 when it names nobody).
func identityScore(s tracks.Sighting) float64 {
	for _, c := range s.Evidence.Candidates {
		if c.PersonID == s.PersonID() && len(c.Frames) > 0 {
			return c.Frames[0].Similarity
		}
	}
	return 0
}

func storeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%v: %w", err, web.ErrNotFound)
	}
	return err
}

// view flattens trajectories into one time-ordered path; identified sightings show the evidence score
// behind the name.
func (x trajectoriesAPI) view(ctx context.Context, ts []tracks.Trajectory) []web.SightingView {
	var out []web.SightingView
	for _, t := range ts {
		for _, st := range t.Steps {
			v := x.stepView(st)
			if st.PersonID != "" {
				if s, err := x.s.db.Sighting(ctx, st.Sighting); err == nil {
					v.Score = identityScore(s)
				}
			}
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b web.SightingView) int { return a.Enter.Compare(b.Enter) })
	return out
}

func (x trajectoriesAPI) PersonTrajectory(ctx context.Context, personID string, from, to time.Time) (web.TrajectoryView, error) {
	ts, err := x.s.db.PersonTrajectory(ctx, personID, from, to)
	if err != nil {
		return web.TrajectoryView{}, storeErr(err)
	}
	return web.TrajectoryView{PersonID: personID, From: from, To: to, Sightings: x.view(ctx, ts)}, nil
}

func (x trajectoriesAPI) FromSighting(ctx context.Context, sightingID string, from, to time.Time) (web.TrajectoryView, error) {
	t, err := x.s.db.Follow(ctx, sightingID, from, to)
	if err != nil {
		return web.TrajectoryView{}, storeErr(err)
	}
	return web.TrajectoryView{PersonID: t.PersonID, Sighting: sightingID, From: from, To: to,
		Sightings: x.view(ctx, []tracks.Trajectory{t})}, nil
}

func (x trajectoriesAPI) CameraSightings(ctx context.Context, camera string, from, to time.Time) ([]web.SightingView, error) {
	steps, err := x.s.db.AtCamera(ctx, camera, from, to, 1000)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]web.SightingView, 0, len(steps))
	for _, st := range steps {
		out = append(out, x.stepView(st))
	}
	return out, nil
}

// latestWindow is how far back a guardian's "last known location" looks.
const latestWindow = 7 * 24 * time.Hour

func (x trajectoriesAPI) Latest(ctx context.Context, personID string) (web.SightingView, bool, error) {
	now := x.s.now()
	t, err := x.PersonTrajectory(ctx, personID, now.Add(-latestWindow), now)
	if err != nil || len(t.Sightings) == 0 {
		return web.SightingView{}, false, err
	}
	return t.Sightings[len(t.Sightings)-1], true, nil
}
