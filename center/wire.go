package center

import (
	"encoding/json"
	"fmt"
	"strings"

	"snowlight/bus"
	"snowlight/bus/ledger"
	"snowlight/camevent"
	"snowlight/tracks"
)

// Kinds of the events an edge publishes (the last token of the subject), and the natural keys the
// center applies them under: of several versions of one key only the newest (lease epoch, sequence)
// is applied, so an interim sighting arriving after its final one, or a camera's state arriving after
// a newer one, changes nothing.
const (
	KindSighting = "sighting"
	KindCamera   = "camera"
)

// SightingEnvelope is the bus event of a sighting event (its snapshots already object keys); the
// caller stamps it with the camera's lease.
func SightingEnvelope(ev tracks.SightingEvent) (bus.Event, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return bus.Event{}, fmt.Errorf("encode sighting event %s: %w", ev.Sighting.ID, err)
	}
	return bus.Event{Kind: KindSighting, Key: "sighting/" + ev.Sighting.ID, Payload: b}, nil
}

// CameraEnvelope is the bus event of a camera event. Connection states and picture states are two
// keys: a late "online" must not hide a "tampered" that came after it.
func CameraEnvelope(ev camevent.Event) (bus.Event, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return bus.Event{}, fmt.Errorf("encode camera event %s of %s: %w", ev.Kind, ev.Camera, err)
	}
	aspect := "link"
	if ev.Kind == camevent.Tampered || ev.Kind == camevent.PictureNormal {
		aspect = "picture"
	}
	return bus.Event{Kind: KindCamera, Key: "camera/" + ev.Camera + "/" + aspect, Payload: b}, nil
}

// FromBus decodes a delivered event into an item for Apply, keyed for the ledger. Its errors are
// final: the event can never be applied (bus.Refuse).
func FromBus(d bus.Delivery) (Item, error) {
	it := Item{Key: d.ApplyKey(), Version: ledger.Version{Epoch: d.Epoch, Seq: d.Seq}}
	switch d.Kind {
	case KindSighting:
		ev, err := tracks.DecodeSightingEvent(d.Payload)
		if err != nil {
			return Item{}, err
		}
		if ev.Camera != d.Camera || ev.Sighting.Camera != d.Camera {
			return Item{}, fmt.Errorf("sighting event of camera %s published for camera %s", ev.Camera, d.Camera)
		}
		if it.Key != "sighting/"+ev.Sighting.ID {
			return Item{}, fmt.Errorf("sighting %s published under key %s", ev.Sighting.ID, it.Key)
		}
		for _, s := range []*tracks.Snapshot{ev.Sighting.Face, ev.Sighting.Body} {
			if s != nil && len(s.JPEG) > 0 {
				return Item{}, fmt.Errorf("sighting %s carries snapshot bytes: edges upload them and send object keys", ev.Sighting.ID)
			}
		}
		it.Event = ev
	case KindCamera:
		ev, err := camevent.Decode(d.Payload)
		if err != nil {
			return Item{}, err
		}
		if ev.Camera != d.Camera || !strings.HasPrefix(it.Key, "camera/"+d.Camera+"/") {
			return Item{}, fmt.Errorf("camera event of %s published for camera %s under key %s", ev.Camera, d.Camera, it.Key)
		}
		it.Camera = &ev
	default:
		return Item{}, fmt.Errorf("unknown event kind %q", d.Kind)
	}
	return it, nil
}
