package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() Event {
	return Event{Edge: "edge-a", Camera: "cam-1", Kind: "sighting", Epoch: 7, Seq: 3, Key: "sighting/x",
		Produced: time.Unix(1700000000, 123).UTC(), Payload: []byte(`{"a":1}`)}
}

func TestRecordRoundTrip(t *testing.T) {
	e := sample()
	got, err := decodeRecord(encodeRecord(&e))
	require.NoError(t, err)
	assert.Equal(t, e, got)
}

func TestMsgRoundTrip(t *testing.T) {
	e := sample()
	m, err := e.Msg()
	require.NoError(t, err)
	assert.Equal(t, "snowlight.ev.edge-a.cam-1.sighting", m.Subject)
	got, err := DecodeEvent(m.Subject, m.Header, m.Data)
	require.NoError(t, err)
	e.ID = "edge-a.cam-1.7.3"
	assert.Equal(t, e, got)
}

func TestEventValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Event)
	}{
		{"camera with a dot", func(e *Event) { e.Camera = "cam.1" }},
		{"wildcard edge", func(e *Event) { e.Edge = "*" }},
		{"no epoch", func(e *Event) { e.Epoch = 0 }},
		{"sequence 0", func(e *Event) { e.Seq = 0 }},
		{"no time", func(e *Event) { e.Produced = time.Time{} }},
		{"payload too big", func(e *Event) { e.Payload = make([]byte, MaxPayload+1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sample()
			tc.edit(&e)
			_, err := e.Msg()
			assert.Error(t, err)
		})
	}
}

// What the outbox hands back and what the center receives are parsed; neither may panic or accept
// what it could not have produced.
func FuzzDecodeRecord(f *testing.F) {
	e := sample()
	f.Add(encodeRecord(&e))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRecord(b)
		if err != nil {
			return
		}
		require.NoError(t, got.Validate())
		again, err := decodeRecord(encodeRecord(&got))
		require.NoError(t, err)
		assert.Equal(t, got, again)
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add("snowlight.ev.edge-a.cam-1.sighting", "7", "3", "2023-11-14T22:13:20.000000123Z", "id")
	f.Add("snowlight.ev.a.b", "", "", "", "")
	f.Add("snowlight.ev.a.b.c.d", "18446744073709551616", "-1", "yesterday", "x")
	f.Fuzz(func(t *testing.T, subject, epoch, seq, produced, id string) {
		h := nats.Header{}
		h.Set(HeaderEpoch, epoch)
		h.Set(HeaderSeq, seq)
		h.Set(HeaderProduced, produced)
		h.Set("Nats-Msg-Id", id)
		e, err := DecodeEvent(subject, h, nil)
		if err != nil {
			return
		}
		require.NoError(t, e.Validate())
		assert.Equal(t, subject, EventSubject(e.Edge, e.Camera, e.Kind))
	})
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"cam-1", true}, {"a", true}, {"0_x", true}, {strings.Repeat("a", 64), true},
		{"", false}, {"-a", false}, {"_a", false}, {"A", false}, {"cam.1", false}, {"cam 1", false},
		{"*", false}, {">", false}, {strings.Repeat("a", 65), false}, {"é", false},
	} {
		assert.Equal(t, tc.ok, CheckID("id", tc.id) == nil, "%q", tc.id)
	}
}
