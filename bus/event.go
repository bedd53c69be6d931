package bus

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers the envelope adds to an event's message (besides Nats-Msg-Id).
const (
	HeaderEpoch    = "Snowlight-Epoch"
	HeaderSeq      = "Snowlight-Seq"
	HeaderKey      = "Snowlight-Key"
	HeaderProduced = "Snowlight-Produced"
)

// MaxPayload bounds one event's payload. The server's max_payload (bus/natsconf) is 8 MiB, 64 KiB more for
// the subject and headers. Sightings should carry object-store keys, not JPEG bytes, to stay far below.
const MaxPayload = 8<<20 - 64<<10

// Event is one edge → center message.
type Event struct {
	// Edge, Camera and Kind make the subject (EventSubject); each passes CheckID.
	Edge, Camera, Kind string
	// Epoch is the camera's lease epoch the edge held when it made the event (bus/lease): the center
	// refuses events whose epoch is stale. Seq numbers the edge's events for the camera within the
	// epoch from 1, so (Epoch, Seq) only grows for a camera.
	Epoch, Seq uint64
	// Key is the natural key the center applies the event under (bus/ledger), e.g. "sighting/<id>":
	// of several events with one key only the newest (Epoch, Seq) is applied. Empty means the event
	// is its own key (ID).
	Key string
	// Produced is the edge's wall clock when it made the event. Fencing compares it with the server's
	// times of lease changes, so it is not the frame time the payload may carry.
	Produced time.Time
	Payload  []byte

	// ID is the message id JetStream de-duplicates on; MessageID() when empty.
	ID string
}

// MessageID is the event's stable message id: <edge>.<camera>.<epoch>.<seq>, unique for as long as
// lease epochs are (they are revisions of the lease bucket, never reused).
func (e *Event) MessageID() string {
	if e.ID != "" {
		return e.ID
	}
	return e.Edge + "." + e.Camera + "." + strconv.FormatUint(e.Epoch, 10) + "." + strconv.FormatUint(e.Seq, 10)
}

// ApplyKey is the key the center records the event under: Key, or the message id.
func (e *Event) ApplyKey() string {
	if e.Key != "" {
		return e.Key
	}
	return "msg/" + e.MessageID()
}

// Validate checks what the envelope needs; the payload is the caller's to validate.
func (e *Event) Validate() error {
	for _, f := range [...]struct{ what, v string }{{"edge", e.Edge}, {"camera", e.Camera}, {"kind", e.Kind}} {
		if err := CheckID(f.what, f.v); err != nil {
			return fmt.Errorf("event: %w", err)
		}
	}
	switch {
	case e.Epoch == 0:
		return fmt.Errorf("event %s/%s: no lease epoch", e.Camera, e.Kind)
	case e.Seq == 0:
		return fmt.Errorf("event %s/%s: sequence numbers start at 1", e.Camera, e.Kind)
	case e.Produced.IsZero():
		return fmt.Errorf("event %s/%s: no production time", e.Camera, e.Kind)
	case len(e.Payload) > MaxPayload:
		return fmt.Errorf("event %s/%s: payload of %d bytes exceeds %d", e.Camera, e.Kind, len(e.Payload), MaxPayload)
	case len(e.Key) > 256:
		return fmt.Errorf("event %s/%s: key of %d bytes exceeds 256", e.Camera, e.Kind, len(e.Key))
	}
	return nil
}

// Msg encodes the event as the message the edge publishes.
func (e *Event) Msg() (*nats.Msg, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	m := nats.NewMsg(EventSubject(e.Edge, e.Camera, e.Kind))
	m.Header.Set(jetstream.MsgIDHeader, e.MessageID())
	m.Header.Set(HeaderEpoch, strconv.FormatUint(e.Epoch, 10))
	m.Header.Set(HeaderSeq, strconv.FormatUint(e.Seq, 10))
	m.Header.Set(HeaderProduced, e.Produced.UTC().Format(time.RFC3339Nano))
	if e.Key != "" {
		m.Header.Set(HeaderKey, e.Key)
	}
	m.Data = e.Payload
	return m, nil
}

// errNoHeader is wrapped when a message lacks one of the envelope's headers.
var errNoHeader = errors.New("missing header")

// DecodeEvent reads an event from a delivered message. Edge, camera and kind come from the subject,
// which the server's permissions tie to the publisher's credentials.
func DecodeEvent(subject string, h nats.Header, data []byte) (Event, error) {
	edge, camera, kind, err := parseEventSubject(subject)
	if err != nil {
		return Event{}, err
	}
	e := Event{Edge: edge, Camera: camera, Kind: kind, Key: h.Get(HeaderKey), ID: h.Get(jetstream.MsgIDHeader), Payload: data}
	num := func(name string) (uint64, error) {
		v := h.Get(name)
		if v == "" {
			return 0, fmt.Errorf("event on %s: %w %s", subject, errNoHeader, name)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("event on %s: header %s: %w", subject, name, err)
		}
		return n, nil
	}
	if e.Epoch, err = num(HeaderEpoch); err != nil {
		return Event{}, err
	}
	if e.Seq, err = num(HeaderSeq); err != nil {
		return Event{}, err
	}
	p := h.Get(HeaderProduced)
	if p == "" {
		return Event{}, fmt.Errorf("event on %s: %w %s", subject, errNoHeader, HeaderProduced)
	}
	if e.Produced, err = time.Parse(time.RFC3339Nano, p); err != nil {
		return Event{}, fmt.Errorf("event on %s: header %s: %w", subject, HeaderProduced, err)
	}
	if e.ID == "" {
		return Event{}, fmt.Errorf("event on %s: %w %s", subject, errNoHeader, jetstream.MsgIDHeader)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}
