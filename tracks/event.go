package tracks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// EventKind names what happened to a sighting or a trajectory.
type EventKind string

// Event kinds. The first three cross from the edge to the center; the center adds the fourth.
const (
	// SightingStarted: a track was confirmed. The sighting is interim (Final false) and may already
	// carry an identity.
	SightingStarted EventKind = "sighting_started"
	// SightingUpdated: the identity the track's face evidence supports changed while the person is
	// still in view (a name was reached, or lapsed as contrary evidence came in), or the edge's
	// UpdateEvery passed since the track was last reported. Interim.
	SightingUpdated EventKind = "sighting_updated"
	// SightingEnded: the track ended; the sighting is final.
	SightingEnded EventKind = "sighting_ended"
	// TrajectoryDecided: the stitcher put a sighting into a trajectory, or revised where it had put
	// it. Center only.
	TrajectoryDecided EventKind = "trajectory_decided"
)

// SightingEvent is what the edge tells the center about a track. It is a plain value: the in-process
// channel and a message bus carry the same thing (see DecodeSightingEvent).
type SightingEvent struct {
	Kind   EventKind `json:"kind"`
	Camera string    `json:"camera"`
	// Frame is the wall time of the frame whose processing produced the event. Latency is measured
	// from it, and a replay hands the cameras' events to the center in its order.
	Frame time.Time `json:"frame"`
	// Sighting is the track's sighting so far (interim) or complete (SightingEnded). At the edge its
	// snapshots carry JPEG bytes; the center stores them and keeps only their object-store keys.
	Sighting Sighting `json:"sighting"`
}

// Limits on what an event may carry, so a malformed or hostile message cannot exhaust the center.
const (
	MaxEventBytes    = 16 << 20
	maxBoxes         = 4096
	maxSnapshotBytes = 4 << 20
	maxEmbedding     = 4096
	maxCandidates    = 256
)

// Validate checks an event before the center acts on it; the error names what is wrong.
func (e *SightingEvent) Validate() error {
	s := &e.Sighting
	switch e.Kind {
	case SightingStarted, SightingUpdated:
		if s.Final {
			return fmt.Errorf("sighting event %s: %s carries a final sighting", s.ID, e.Kind)
		}
	case SightingEnded:
		if !s.Final {
			return fmt.Errorf("sighting event %s: %s carries an interim sighting", s.ID, e.Kind)
		}
	default:
		return fmt.Errorf("sighting event %s: unknown kind %q", s.ID, e.Kind)
	}
	switch {
	case s.ID == "" || len(s.ID) > 256:
		return fmt.Errorf("sighting event: sighting id %q is empty or too long", s.ID)
	case e.Camera == "" || s.Camera != e.Camera:
		return fmt.Errorf("sighting event %s: camera %q, sighting's camera %q", s.ID, e.Camera, s.Camera)
	case e.Frame.IsZero():
		return fmt.Errorf("sighting event %s: no frame time", s.ID)
	case s.Enter.IsZero() || s.Exit.Before(s.Enter):
		return fmt.Errorf("sighting event %s: exit %v before enter %v", s.ID, s.Exit, s.Enter)
	case len(s.Boxes) > maxBoxes:
		return fmt.Errorf("sighting event %s: %d boxes, at most %d", s.ID, len(s.Boxes), maxBoxes)
	case len(s.FaceEmbedding) > maxEmbedding || len(s.AppearanceEmbedding) > maxEmbedding || len(s.Evidence.Template) > maxEmbedding:
		return fmt.Errorf("sighting event %s: embedding longer than %d", s.ID, maxEmbedding)
	case len(s.Evidence.Candidates) > maxCandidates:
		return fmt.Errorf("sighting event %s: %d identity candidates, at most %d", s.ID, len(s.Evidence.Candidates), maxCandidates)
	case s.Evidence.Local != nil && (len(s.Evidence.Local.From) > maxCandidates || s.Evidence.PersonID == ""):
		return fmt.Errorf("sighting event %s: a local name needs a person and at most %d sightings behind it", s.ID, maxCandidates)
	}
	for _, v := range [][]float32{s.FaceEmbedding, s.AppearanceEmbedding, s.Evidence.Template} {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("sighting event %s: embedding holds %v", s.ID, x)
			}
		}
	}
	for _, snap := range []*Snapshot{s.Face, s.Body} {
		if snap != nil && len(snap.JPEG) > maxSnapshotBytes {
			return fmt.Errorf("sighting event %s: snapshot of %d bytes, at most %d", s.ID, len(snap.JPEG), maxSnapshotBytes)
		}
	}
	return nil
}

// DecodeSightingEvent reads one event as a message bus delivers it (JSON): unknown fields, trailing
// data and invalid events are refused.
func DecodeSightingEvent(data []byte) (SightingEvent, error) {
	var e SightingEvent
	if len(data) > MaxEventBytes {
		return e, fmt.Errorf("decode sighting event: %d bytes, at most %d", len(data), MaxEventBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return SightingEvent{}, fmt.Errorf("decode sighting event: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return SightingEvent{}, errors.New("decode sighting event: data after the event")
	}
	if err := e.Validate(); err != nil {
		return SightingEvent{}, err
	}
	return e, nil
}
