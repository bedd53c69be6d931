// Package alerts turns what the cameras saw into alerts people act on: the Alert and its lifecycle
// (open, confirmed, dispatched, on scene, resolved or dismissed, each step recorded with who and when),
// folding of repeated triggers, dispatch to the nearest patrol with escalation (alerts/dispatch), and
// the notifications each step causes (alerts/notify), written in the same transaction as the step.
package alerts

import (
	"fmt"
	"time"

	"snowlight/alerts/dispatch"
	"snowlight/geo"
	"snowlight/watchlist"
)

// Kind is the rule that raised an alert.
type Kind string

// Alert kinds.
const (
	WatchlistHit   Kind = "watchlist_hit"   // a face matched a watch-list person
	SafeZoneExit   Kind = "safe_zone_exit"  // an at-risk person seen outside their safe zone
	Loitering      Kind = "loitering"       // a track dwelt in an image zone too long
	CameraOffline  Kind = "camera_offline"  // no frames from a camera
	CameraTampered Kind = "camera_tampered" // picture suddenly uniform or defocused
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{WatchlistHit, SafeZoneExit, Loitering, CameraOffline, CameraTampered}
}

// ParseKind validates a kind.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown alert kind %q (want one of %v)", s, Kinds())
}

// Status is where an alert is in its lifecycle.
type Status string

// Alert statuses. Resolved and Dismissed are final.
const (
	Open       Status = "open"
	Confirmed  Status = "confirmed"
	Dispatched Status = "dispatched"
	OnScene    Status = "on_scene"
	Resolved   Status = "resolved"
	Dismissed  Status = "dismissed"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status { return []Status{Open, Confirmed, Dispatched, OnScene, Resolved, Dismissed} }

// ParseStatus validates a status.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown alert status %q (want one of %v)", s, Statuses())
}

// Final reports whether nothing more can happen to an alert in this status.
func (s Status) Final() bool { return s == Resolved || s == Dismissed }

// Priority orders the alert wall: higher first.
type Priority int

// Priorities.
const (
	Low      Priority = 1 // camera health
	Normal   Priority = 2 // loitering
	High     Priority = 3 // missing and at-risk persons
	Critical Priority = 4 // suspects
)

// Person is the watch-list identity an alert is about.
type Person struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	Category watchlist.Category `json:"category"`
}

// Place is where the alert was triggered: a camera, its position and grid area.
type Place struct {
	Camera     string     `json:"camera"`
	CameraName string     `json:"camera_name,omitempty"`
	Position   geo.LatLon `json:"position"`
	Area       string     `json:"area,omitempty"`
	Zone       string     `json:"zone,omitempty"` // the image zone, for loitering
}

// Evidence is what an alert shows the human who confirms it.
type Evidence struct {
	// Sightings are the tracks.Sighting ids that triggered it, oldest first.
	Sightings []string `json:"sightings,omitempty"`
	// FaceCrops are object-store keys of the captured faces, with Scores their similarity to the
	// person's enrolment (same order).
	FaceCrops []string  `json:"face_crops,omitempty"`
	Scores    []float32 `json:"scores,omitempty"`
	// Snapshot and Clip are object-store keys; the clip usually arrives after the alert.
	Snapshot string `json:"snapshot,omitempty"`
	Clip     string `json:"clip,omitempty"`
	// ClipStart and ClipEnd are the wall times the clip covers, so a viewer can tell where in it the
	// alert's moment falls.
	ClipStart time.Time `json:"clip_start,omitzero"`
	ClipEnd   time.Time `json:"clip_end,omitzero"`
	// ClipParts are further clips of the window, cut by other edges where the camera moved between
	// edges within it (distributed mode).
	ClipParts []ClipPart `json:"clip_parts,omitempty"`
	// ClipLost are the parts of the window no clip covers, and why (nobody held the camera, an edge
	// was gone, its ring no longer had them): the evidence says where it is incomplete.
	ClipLost []Gap `json:"clip_lost,omitempty"`
}

// ClipPart is one clip of an alert's window.
type ClipPart struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Gap is a part of a window without video, and why.
type Gap struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason"`
}

// maxEvidence caps the sightings and faces an alert keeps as triggers fold in: the first ones (what
// the confirmer saw) and the most recent ones.
const maxEvidence = 32

// BestScore is the highest similarity in the evidence.
func (e Evidence) BestScore() float32 {
	var best float32
	for _, s := range e.Scores {
		best = max(best, s)
	}
	return best
}

// merge folds later evidence into e.
func (e *Evidence) merge(more Evidence) {
	e.Sightings = capKeep(appendNew(e.Sightings, more.Sightings...))
	n := len(e.FaceCrops)
	for i, f := range more.FaceCrops {
		if !contains(e.FaceCrops[:n], f) {
			e.FaceCrops = append(e.FaceCrops, f)
			var s float32
			if i < len(more.Scores) {
				s = more.Scores[i]
			}
			e.Scores = append(e.Scores, s)
		}
	}
	if len(e.FaceCrops) > maxEvidence {
		e.FaceCrops = capKeep(e.FaceCrops)
		e.Scores = capKeep(e.Scores)
	}
	if e.Snapshot == "" {
		e.Snapshot = more.Snapshot
	}
	if e.Clip == "" {
		e.Clip, e.ClipStart, e.ClipEnd = more.Clip, more.ClipStart, more.ClipEnd
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func appendNew(xs []string, more ...string) []string {
	for _, m := range more {
		if !contains(xs, m) {
			xs = append(xs, m)
		}
	}
	return xs
}

// capKeep keeps the first half and the last half of maxEvidence.
func capKeep[T any](xs []T) []T {
	if len(xs) <= maxEvidence {
		return xs
	}
	h := maxEvidence / 2
	return append(xs[:h:h], xs[len(xs)-h:]...)
}

// Confirmation is one person's check of the evidence.
type Confirmation struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// Alert is one incident. Its state changes only through the Engine, which records every change as an
// Event.
type Alert struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Subject identifies what repeated triggers are folded by: the person, or the camera (and zone).
	Subject  string   `json:"subject"`
	Priority Priority `json:"priority"`
	Person   *Person  `json:"person,omitempty"`
	// Place is where it was last triggered; FirstPlace where it began.
	Place      Place     `json:"place"`
	FirstPlace Place     `json:"first_place"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Triggers   int       `json:"triggers"` // how many triggers were folded into it
	Detail     string    `json:"detail,omitempty"`
	Evidence   Evidence  `json:"evidence"`

	Status        Status               `json:"status"`
	Confirmations []Confirmation       `json:"confirmations,omitempty"`
	Dispatch      *dispatch.Assignment `json:"dispatch,omitempty"`
	Patrol        string               `json:"patrol,omitempty"` // the unit that took it
	Closed        *Closure             `json:"closed,omitempty"`
	Created       time.Time            `json:"created"`
	Updated       time.Time            `json:"updated"`
	Version       int                  `json:"version"` // increases with every change
	// History is every event of the alert, oldest first, when read with Engine.Alert.
	History []Event `json:"history,omitempty"`
}

// Closure is how an alert ended.
type Closure struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Biometric reports whether the alert names a person from face matching: such alerts need human
// confirmation before anyone is dispatched.
func (a *Alert) Biometric() bool { return a.Person != nil }

// Action is what an event did.
type Action string

// Event actions.
const (
	ActRaised       Action = "raised"
	ActSighted      Action = "sighted" // a repeated trigger folded in
	ActConfirmed    Action = "confirmed"
	ActDispatched   Action = "dispatched"
	ActEscalated    Action = "escalated"
	ActExhausted    Action = "escalation_exhausted"
	ActAcknowledged Action = "acknowledged"
	ActOnScene      Action = "on_scene"
	ActResolved     Action = "resolved"
	ActDismissed    Action = "dismissed"
	ActEvidence     Action = "evidence" // snapshot or clip attached
)

// Event is one recorded step of an alert's life.
type Event struct {
	Seq     int64     `json:"seq"` // global, increasing: the stream's event id
	AlertID string    `json:"alert_id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"` // a user, a patrol unit, or "system"
	Action  Action    `json:"action"`
	From    Status    `json:"from,omitempty"`
	To      Status    `json:"to,omitempty"`
	Target  string    `json:"target,omitempty"` // who a dispatch step went to
	Note    string    `json:"note,omitempty"`
	// Camera is where the step happened when it is a sighting (raised, sighted): its note names the
	// place, so a viewer who may not see the camera is shown the step without it.
	Camera string `json:"camera,omitempty"`
	// Alert is the alert as this event left it (without history), so a stream client needs nothing
	// else to update its view.
	Alert *Alert `json:"alert,omitempty"`
}

// System is the actor of steps nobody took by hand (raising, escalation).
const System = "system"
