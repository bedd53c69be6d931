package tracks

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sightingEvent(kind EventKind) SightingEvent {
	s := Sighting{
		ID: SightingID("c1", t0, 7), Camera: "c1", TrackID: 7, Enter: t0, Exit: t0.Add(3 * time.Second),
		Boxes:         []TimedBox{{Time: t0, Box: Box{X: 1, Y: 2, W: 30, H: 90}, Score: 0.8}},
		Face:          &Snapshot{Time: t0, Box: Box{X: 5, Y: 3, W: 12, H: 12}, Quality: 2, JPEG: []byte{0xff, 0xd8, 0xff}},
		FaceEmbedding: []float32{0.6, 0.8},
		Evidence: Evidence{FaceFrames: 3, PersonID: "ann", Decided: t0.Add(time.Second),
			Candidates: []Candidate{{PersonID: "ann", Score: 4, Listed: 3, Above: 3, Best: 3}}},
		Final: kind == SightingEnded,
	}
	return SightingEvent{Kind: kind, Camera: "c1", Frame: t0.Add(3 * time.Second), Sighting: s}
}

func TestSightingEventValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(e *SightingEvent)
		error string
	}{
		{"started", func(e *SightingEvent) {}, ""},
		{"ended", func(e *SightingEvent) { e.Kind, e.Sighting.Final = SightingEnded, true }, ""},
		{"unknown kind", func(e *SightingEvent) { e.Kind = "gone" }, `unknown kind "gone"`},
		{"interim marked final", func(e *SightingEvent) { e.Sighting.Final = true }, "carries a final sighting"},
		{"final marked interim", func(e *SightingEvent) { e.Kind = SightingEnded }, "carries an interim sighting"},
		{"no id", func(e *SightingEvent) { e.Sighting.ID = "" }, "sighting id"},
		{"camera mismatch", func(e *SightingEvent) { e.Camera = "c2" }, `camera "c2", sighting's camera "c1"`},
		{"no frame time", func(e *SightingEvent) { e.Frame = time.Time{} }, "no frame time"},
		{"exit before enter", func(e *SightingEvent) { e.Sighting.Exit = t0.Add(-time.Second) }, "exit"},
		{"nan embedding", func(e *SightingEvent) { e.Sighting.FaceEmbedding[0] = float32(math.NaN()) }, "embedding holds NaN"},
		{"huge snapshot", func(e *SightingEvent) { e.Sighting.Face.JPEG = make([]byte, maxSnapshotBytes+1) }, "snapshot of"},
		{"too many boxes", func(e *SightingEvent) { e.Sighting.Boxes = make([]TimedBox, maxBoxes+1) }, "boxes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := sightingEvent(SightingStarted)
			tc.edit(&e)
			err := e.Validate()
			if tc.error == "" {
				require.NoError(t, err, "refused")
			} else {
				require.ErrorContains(t, err, tc.error)
			}
		})
	}
}

// An event survives the trip through JSON unchanged, as it would over a message bus.
func TestSightingEventRoundTrip(t *testing.T) {
	for _, kind := range []EventKind{SightingStarted, SightingUpdated, SightingEnded} {
		e := sightingEvent(kind)
		data, err := json.Marshal(e)
		require.NoError(t, err)
		got, err := DecodeSightingEvent(data)
		require.NoError(t, err)
		again, err := json.Marshal(got)
		require.NoError(t, err)
		assert.Equal(t, string(data), string(again), "%s: round trip changed the event", kind)
	}
	for _, bad := range []string{
		``, `{}`, `[]`, `{"kind":"sighting_started"} {}`, `{"kind":"sighting_started","extra":1}`,
		`{"kind":"sighting_started","camera":"c1","frame":"2024-05-01T08:00:00Z","sighting":{"id":"x","camera":"c1"}}`,
	} {
		_, err := DecodeSightingEvent([]byte(bad))
		assert.Error(t, err, "decoded %q", bad)
	}
	_, err := DecodeSightingEvent(make([]byte, MaxEventBytes+1))
	assert.Error(t, err, "decoded an oversized message")
}

// FuzzDecodeSightingEvent: whatever arrives, decoding returns a valid event or an error, never
// panics, and what it accepts encodes and decodes again to the same event.
func FuzzDecodeSightingEvent(f *testing.F) {
	for _, kind := range []EventKind{SightingStarted, SightingEnded} {
		data, _ := json.Marshal(sightingEvent(kind))
		f.Add(data)
	}
	f.Add([]byte(`{"kind":"sighting_updated","camera":"c","frame":"2024-05-01T08:00:00Z","sighting":{"id":"c-1-1","camera":"c","enter":"2024-05-01T08:00:00Z","exit":"2024-05-01T08:00:00Z","boxes":null,"evidence":{"face_frames":0}}}`))
	f.Add([]byte(`{"kind":"sighting_ended","sighting":{"face_embedding":[1e39]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeSightingEvent(data)
		if err != nil {
			return
		}
		require.NoError(t, e.Validate(), "accepted an invalid event")
		again, err := json.Marshal(e)
		require.NoError(t, err, "accepted event does not encode")
		_, err = DecodeSightingEvent(again)
		require.NoError(t, err, "re-encoded event refused:\n%s", again)
	})
}
