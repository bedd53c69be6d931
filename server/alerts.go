package server

import (
	"context"
	"fmt"
	"strings"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/alerts/notify"
	"snowlight/alerts/rules"
	"snowlight/audit"
	"snowlight/detect"
)

// buildAlerts assembles dispatch, notifications, the alert engine and its rules.
func (s *Server) buildAlerts(ctx context.Context) error {
	d := s.dep
	var err error
	if s.patrols, err = dispatch.NewRegistry(s.db, d.Areas, s.now); err != nil {
		return fmt.Errorf("patrols: %w", err)
	}
	for _, u := range d.Units {
		// A configured position counts as reported now; units keep it fresh through the API.
		u.PositionAt = s.now()
		if existing, err := s.patrols.Unit(ctx, u.ID); err == nil {
			// A restart keeps where the unit last reported and what it is doing.
			u.Position, u.PositionAt, u.Status = existing.Position, existing.PositionAt, existing.Status
		}
		if err := s.patrols.Register(ctx, u); err != nil {
			return fmt.Errorf("patrol %s: %w", u.ID, err)
		}
	}
	if s.hub, err = notify.NewHub[alerts.Event](notify.HubOptions{Logger: s.log, Registerer: s.reg}); err != nil {
		return fmt.Errorf("alert stream: %w", err)
	}
	if s.notifier, err = notify.NewWorker(s.db, d.Receivers, notify.WorkerOptions{Now: s.now, Logger: s.log, Registerer: s.reg}); err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	s.evidence = newEvidence(s)
	o := d.Alerts
	o.OnDismiss, o.OnConfirm, o.Publish, o.Kick, o.Now, o.Logger = s.dismissed, s.confirmed, s.publish, s.notifier.Kick, s.now, s.log
	if s.engine, err = alerts.NewEngine(s.db, s.patrols, o); err != nil {
		return fmt.Errorf("alert engine: %w", err)
	}
	s.rules, err = rules.New(rules.Options{Alerts: s.engine, Persons: s.db, Cameras: d.RuleCameras(), Rules: d.Rules,
		Location: d.Location, Now: s.now, Logger: s.log})
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	return nil
}

// publish takes every committed alert event: it goes to the console stream, and a newly raised alert
// gets its snapshot and clip cut from the camera's ring.
func (s *Server) publish(events ...alerts.Event) {
	out := make([]notify.Event[alerts.Event], len(events))
	for i, ev := range events {
		out[i] = alerts.StreamEvent(ev)
	}
	s.hub.Publish(out...)
	for _, ev := range events {
		if ev.Action == alerts.ActRaised && ev.Alert != nil {
			s.evidence.request(*ev.Alert)
		}
	}
}

// dismissed feeds a biometric alert dismissed as a false match back into matching: the faces of its
// sightings become negatives of the person, so the same look-alike is not matched again. The audit log
// records who judged the match false.
func (s *Server) dismissed(ctx context.Context, a alerts.Alert) error {
	if a.Person == nil || a.Closed == nil {
		return nil
	}
	faces := s.alertFaces(ctx, a, 0)
	if len(faces) > 0 {
		if err := s.db.Watchlist().AddNegatives(ctx, a.Person.ID, a.ID, faces); err != nil {
			return fmt.Errorf("record false match of %s: %w", a.Person.ID, err)
		}
		if err := s.watch.put(ctx, a.Person.ID); err != nil {
			return err
		}
	}
	_, err := s.audit.Append(ctx, audit.Record{Actor: a.Closed.By, Action: "watchlist.false_match", Target: "person/" + a.Person.ID,
		Reason: a.Closed.Reason, Details: map[string]string{"alert": a.ID, "camera": a.Place.Camera, "faces": fmt.Sprint(len(faces))}})
	return err
}

// confirmed feeds a biometric alert operators confirmed into matching where the person's category
// learns from confirmations: the faces of its sightings good enough to enrol from (detect's enrolment
// quality bar) join the person's template, bringing the cameras' view of them into it. They live and
// expire with the entry. The audit log records who confirmed them.
func (s *Server) confirmed(ctx context.Context, a alerts.Alert) error {
	if a.Person == nil || !s.watch.policy.LearnFromConfirmations[a.Person.Category] {
		return nil
	}
	faces := s.alertFaces(ctx, a, float64(detect.DefaultEnrolmentRules().MinQuality))
	if len(faces) > 0 {
		if err := s.db.Watchlist().AddConfirmed(ctx, a.Person.ID, a.ID, faces); err != nil {
			return fmt.Errorf("learn confirmed faces of %s: %w", a.Person.ID, err)
		}
		if err := s.watch.put(ctx, a.Person.ID); err != nil {
			return err
		}
	}
	var by []string
	for _, c := range a.Confirmations {
		by = append(by, c.User)
	}
	_, err := s.audit.Append(ctx, audit.Record{Actor: by[len(by)-1], Action: "watchlist.confirmed_faces", Target: "person/" + a.Person.ID,
		Details: map[string]string{"alert": a.ID, "camera": a.Place.Camera, "faces": fmt.Sprint(len(faces)),
			"confirmed_by": strings.Join(by, ",")}})
	return err
}

// alertFaces are the face embeddings of an alert's sightings whose best face reaches minQuality.
func (s *Server) alertFaces(ctx context.Context, a alerts.Alert, minQuality float64) [][]float32 {
	var faces [][]float32
	for _, id := range a.Evidence.Sightings {
		sg, err := s.db.Sighting(ctx, id)
		if err != nil {
			continue // deleted by retention meanwhile
		}
		if len(sg.FaceEmbedding) > 0 && (minQuality <= 0 || sg.Face != nil && sg.Face.Quality >= minQuality) {
			faces = append(faces, sg.FaceEmbedding)
		}
	}
	return faces
}
