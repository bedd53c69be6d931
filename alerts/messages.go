package alerts

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/notify"
	"snowlight/geo"
)

// Notice is the JSON body of every webhook the engine sends. Receivers get only what their role needs:
// a guardian's notice names only their own person and carries no matching scores or other evidence.
type Notice struct {
	Topic    string    `json:"topic"`
	AlertID  string    `json:"alert_id"`
	AlertURL string    `json:"alert_url"`
	Kind     Kind      `json:"kind"`
	Status   Status    `json:"status"`
	Priority Priority  `json:"priority,omitempty"`
	Person   *Person   `json:"person,omitempty"`
	Where    Where     `json:"where"`
	When     time.Time `json:"when"` // the latest sighting
	// SnapshotURL needs the receiver to sign in (or a guardian link); never a bare object URL.
	SnapshotURL string `json:"snapshot_url,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// For dispatch requests: who is asked and by when they must acknowledge.
	Target      *dispatch.Target `json:"target,omitempty"`
	AckDeadline time.Time        `json:"ack_deadline,omitzero"`
}

// Where is a place as a person reads it.
type Where struct {
	Camera   string     `json:"camera"`
	Name     string     `json:"name,omitempty"`
	Position geo.LatLon `json:"position"`
	Area     string     `json:"area,omitempty"`
}

func (e *Engine) message(a Alert, receiver, topic, key string, target *dispatch.Target) notify.Message {
	n := Notice{
		Topic: topic, AlertID: a.ID, AlertURL: e.o.Links.Alert(a), Kind: a.Kind, Status: a.Status,
		Where: Where{Camera: a.Place.Camera, Name: a.Place.CameraName, Position: a.Place.Position, Area: a.Place.Area},
		When:  a.LastSeen, SnapshotURL: e.o.Links.Snapshot(a),
	}
	if a.Person != nil {
		n.Person = &Person{ID: a.Person.ID, Name: a.Person.Name}
	}
	if !strings.HasPrefix(topic, "guardian.") {
		n.Priority, n.Detail = a.Priority, a.Detail
		if a.Person != nil {
			n.Person.Category = a.Person.Category
		}
		if target != nil && a.Dispatch != nil {
			n.Target, n.AckDeadline = target, a.Dispatch.Deadline
		}
	}
	body, err := json.Marshal(n)
	if err != nil { // only plain data: cannot happen
		panic(fmt.Sprintf("encode notice: %v", err))
	}
	return notify.Message{Receiver: receiver, Key: key, Topic: topic, Payload: body}
}

// StreamType is the SSE event name of alert events.
const StreamType = "alert"

// StreamEvent is an alert event as the console stream carries it: the event (with the alert as it
// left it), with its Seq as the stream id.
func StreamEvent(ev Event) notify.Event[Event] {
	return notify.Event[Event]{ID: ev.Seq, Type: StreamType, Data: ev}
}
