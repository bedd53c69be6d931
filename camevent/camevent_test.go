package camevent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	at := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	for _, k := range Kinds() {
		ev := Event{Camera: "gate", Kind: k, Time: at, Detail: "why"}
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		got, err := Decode(b)
		require.NoError(t, err, "%s", b)
		assert.Equal(t, ev, got)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"no camera", `{"kind":"offline","time":"2025-05-01T09:00:00Z"}`, "camera"},
		{"unknown kind", `{"camera":"gate","kind":"exploded","time":"2025-05-01T09:00:00Z"}`, "unknown kind"},
		{"no time", `{"camera":"gate","kind":"offline"}`, "no time"},
		{"unknown field", `{"camera":"gate","kind":"offline","time":"2025-05-01T09:00:00Z","url":"rtsp://x"}`, "unknown field"},
		{"trailing data", `{"camera":"gate","kind":"offline","time":"2025-05-01T09:00:00Z"} {}`, "after the event"},
		{"long detail", `{"camera":"gate","kind":"offline","time":"2025-05-01T09:00:00Z","detail":"` + strings.Repeat("x", MaxDetail+1) + `"}`, "detail"},
		{"huge", strings.Repeat(" ", 3*MaxDetail), "bytes"},
	} {
		_, err := Decode([]byte(tc.data))
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}
