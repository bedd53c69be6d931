package ingest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/camevent"
	"snowlight/ingest/camsim"
	"snowlight/media"
	"snowlight/testvideos"
)

// TestWorkerBoundsTheRingWhenKeyframesStop plays a camera over RTSP that, once the worker has a
// keyframe, sends none again and pads every picture to 100 kB (2.5 MB/s). The ring stays within its
// byte bound and the worker raises the camera event and keeps receiving; a viewer who was watching
// keeps getting the stream, a new one waits for a keyframe, the keyframe-less time has no clip; when
// keyframes return, the ring keeps video again.
func TestWorkerBoundsTheRingWhenKeyframesStop(t *testing.T) {
	const ringBytes = 1 << 20
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), Decode: DecodeNone, RingBytes: ringBytes, RingDuration: time.Minute})
	ring := r.w.Ring()
	waitFor(t, 20*time.Second, "a keyframe in the ring", func() bool { return ring.Stats().GOPs > 0 })

	var padded atomic.Int64 // access units the early viewer got with the padding
	watching := ring.Subscribe(t.Context(), 1<<12)
	go func() {
		for au := range watching {
			if au.Size() > 100_000 {
				padded.Add(1)
			}
		}
	}()
	require.NoError(t, srv.SetFaults("cam", camsim.Faults{NoKeyframes: true, PadBytes: 100_000}))
	since := time.Now()
	peak := 0
	overflowed := func() bool {
		peak = max(peak, ring.Stats().Bytes)
		return peak > ringBytes || r.count(camevent.OversizedGOP) > 0
	}
	waitFor(t, 30*time.Second, "the ring to overflow", overflowed)
	// Keep receiving (about 3 s more), and keep checking the bound meanwhile.
	received := r.w.Status().FramesReceived
	fresh := ring.Subscribe(t.Context(), 64)
	waitFor(t, 30*time.Second, "more pictures", func() bool {
		overflowed()
		return r.w.Status().FramesReceived >= received+75
	})
	assert.LessOrEqual(t, peak, ringBytes, "the ring outgrew its bound")
	assert.Equal(t, 1, r.count(camevent.OversizedGOP))
	s := r.w.Status().Ring
	assert.EqualValues(t, 1, s.DroppedGOPs)
	assert.Greater(t, s.DroppedAccessUnits, uint64(75))
	assert.Empty(t, fresh, "a new viewer got pictures it cannot decode")
	assert.Greater(t, padded.Load(), int64(75), "the viewer who was watching lost the stream")
	_, err := ring.Window(since.Add(time.Second), time.Now())
	assert.ErrorIs(t, err, media.ErrNotBuffered)

	require.NoError(t, srv.SetFaults("cam", camsim.Faults{}))
	first := <-fresh
	assert.True(t, first.Keyframe, "a new viewer starts at a keyframe")
	waitFor(t, 10*time.Second, "video in the ring again", func() bool { return ring.Stats().GOPs > 0 })
	_, err = ring.Window(first.Time, first.Time)
	assert.NoError(t, err)
}
