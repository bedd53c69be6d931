package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
)

// TestStreamReplayBoundedByTheNewest checks the alert stream's resume against the real event log: a
// client that resumes from the very beginning gets only the newest events it missed.
func TestStreamReplayBoundedByTheNewest(t *testing.T) {
	ctx := t.Context()
	s, _ := apiServer(t, "")
	for i := range 30 {
		_, _, err := s.engine.Raise(ctx, alerts.Trigger{Kind: alerts.CameraOffline, At: time.Now(), Place: alerts.Place{Camera: fmt.Sprintf("cam-%d", i)}})
		require.NoError(t, err)
	}
	newest, err := s.engine.LastEvent(ctx)
	require.NoError(t, err)

	events, err := alertsAPI{s}.Subscribe(ctx, 0, 10)
	require.NoError(t, err)
	var ids []int64
	quiet := time.After(time.Second)
replay:
	for {
		select {
		case ev := <-events:
			ids = append(ids, ev.ID)
		case <-quiet:
			break replay
		}
	}
	require.Len(t, ids, 10)
	assert.Equal(t, newest-9, ids[0])
	assert.Equal(t, newest, ids[9])
}
