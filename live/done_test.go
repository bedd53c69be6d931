package live

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/media"
)

// TestDoneWhenTheSessionEnds checks that Done tells when a session ended, whatever ended it: Close
// (the viewer's DELETE or a revoked login), the viewer leaving, or Shutdown. The web server waits on
// it to record the end of a live view and to free the viewer's place.
func TestDoneWhenTheSessionEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, map[string]*media.Ring{"cam-1": camera(t, ctx)}, 0)
	start := func() (*viewer, string) {
		t.Helper()
		v, offer := newViewer(t)
		answer, id, err := s.Offer(ctx, "cam-1", offer)
		require.NoError(t, err)
		v.answer(t, answer)
		select {
		case <-v.first:
		case <-time.After(20 * time.Second):
			require.Fail(t, "the viewer decoded nothing")
		}
		return v, id
	}
	ended := func(id string, within time.Duration) bool {
		timer := time.NewTimer(within)
		defer timer.Stop()
		select {
		case <-s.Done(id):
			return true
		case <-timer.C:
			select {
			case <-s.Done(id):
				return true
			default:
				return false
			}
		}
	}

	_, closed := start()
	leaving, left := start()
	_, shut := start()
	assert.False(t, ended(closed, 100*time.Millisecond), "a running session is not done")

	require.NoError(t, s.Close("cam-1", closed))
	assert.True(t, ended(closed, 5*time.Second), "closed")
	require.NoError(t, leaving.pc.Close())
	assert.True(t, ended(left, 15*time.Second), "the viewer left")
	assert.Equal(t, 1, s.Viewers("cam-1"))

	s.Shutdown()
	assert.True(t, ended(shut, time.Second), "shut down")
	assert.True(t, ended("no-such-session", 0), "unknown sessions are done")
	assert.Zero(t, s.Viewers("cam-1"))
}
