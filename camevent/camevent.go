// Package camevent is what a camera's edge reports about the camera itself, as opposed to what it
// sees: the connection coming and going (ingest) and the picture being covered, defocused or turned
// away (the tamper check). The alert rules act on these events; in a distributed deployment they cross
// from the edge to the center on the message bus, so an Event is plain values with a JSON form.
package camevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Kind names what happened to a camera.
type Kind string

// Kinds.
const (
	Online        Kind = "online"         // access units flow (again)
	Disconnected  Kind = "disconnected"   // a session ended in an error
	Stalled       Kind = "stalled"        // connected, but nothing arrived for the stall timeout
	Offline       Kind = "offline"        // unreachable for longer than allowed: an alert
	Unauthorized  Kind = "unauthorized"   // the camera rejected the credentials
	TimestampJump Kind = "timestamp_jump" // the camera's media timeline jumped and was rebased
	OversizedGOP  Kind = "oversized_gop"  // a GOP outgrew the ring's byte bound and was dropped
	Tampered      Kind = "tampered"       // the picture is covered, defocused or shows another view
	PictureNormal Kind = "picture_normal" // the picture is as it normally is again after Tampered
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{Online, Disconnected, Stalled, Offline, Unauthorized, TimestampJump, OversizedGOP, Tampered, PictureNormal}
}

// Event is one thing that happened to a camera.
type Event struct {
	Camera string    `json:"camera"`
	Kind   Kind      `json:"kind"`
	Time   time.Time `json:"time"`
	// Detail says why, for a person to read: the error that ended a session (credentials already
	// redacted), or what the tamper check measured ("picture covered: contrast 2.1 grey levels
	// (normally 41.0)").
	Detail string `json:"detail,omitempty"`
}

// MaxDetail bounds an event's detail.
const MaxDetail = 4096

// Validate checks an event before the rules act on it; the error names what is wrong.
func (e Event) Validate() error {
	switch {
	case e.Camera == "" || len(e.Camera) > 256:
		return fmt.Errorf("camera event: camera %q is empty or too long", e.Camera)
	case !slices.Contains(Kinds(), e.Kind):
		return fmt.Errorf("camera event of %s: unknown kind %q", e.Camera, e.Kind)
	case e.Time.IsZero():
		return fmt.Errorf("camera event %s of %s: no time", e.Kind, e.Camera)
	case len(e.Detail) > MaxDetail:
		return fmt.Errorf("camera event %s of %s: detail of %d bytes, at most %d", e.Kind, e.Camera, len(e.Detail), MaxDetail)
	}
	return nil
}

// Decode reads one event as a message bus delivers it (JSON): unknown fields, trailing data and
// invalid events are refused.
func Decode(data []byte) (Event, error) {
	var e Event
	if len(data) > 2*MaxDetail {
		return e, fmt.Errorf("decode camera event: %d bytes, at most %d", len(data), 2*MaxDetail)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("decode camera event: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Event{}, errors.New("decode camera event: data after the event")
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Health is a camera's stream as its edge sees it now: for the console's camera grid. In a
// distributed deployment the edge reports it with its session, every few seconds.
type Health struct {
	// State is the ingest state: connecting, online, stalled, offline, unauthorized.
	State     string    `json:"state"`
	FPS       float64   `json:"fps,omitempty"`
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
	Codec     string    `json:"codec,omitempty"`
	LastFrame time.Time `json:"last_frame,omitzero"`
}

// Online reports whether pictures are arriving.
func (h Health) Online() bool { return h.State == "online" }
