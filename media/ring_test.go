package media

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// gopStream makes n access units at 25 fps, a keyframe every gop, each size bytes.
func gopStream(n, gop, size int) []AccessUnit {
	aus := make([]AccessUnit, n)
	for i := range aus {
		pts := time.Duration(i) * 40 * time.Millisecond
		aus[i] = AccessUnit{Camera: "c", Time: t0.Add(pts), PTS: pts, Keyframe: i%gop == 0,
			NALUs: [][]byte{make([]byte, size)}}
	}
	return aus
}

func TestRingKeepsWholeGOPsWithinBounds(t *testing.T) {
	for _, tc := range []struct {
		name             string
		maxDur           time.Duration
		maxBytes         int
		n                int
		wantGOPs         int
		wantOldestOffset time.Duration
	}{
		// 10 s of video, 1 s GOPs; 3 s kept: the oldest GOP must still reach back 3 s from the newest AU
		// at 9.96 s, so GOPs start at 6, 7, 8, 9 s.
		{"duration", 3 * time.Second, 1 << 30, 250, 4, 6 * time.Second},
		// 100 bytes per AU = 2500 per GOP; 6000 bytes hold two GOPs, never a partial one.
		{"bytes", time.Hour, 6000, 250, 2, 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(tc.maxDur, tc.maxBytes)
			for _, au := range gopStream(tc.n, 25, 100) {
				assert.False(t, r.Push(H264, nil, au))
			}
			s := r.Stats()
			assert.Equal(t, tc.wantGOPs, s.GOPs)
			assert.Equal(t, tc.wantOldestOffset, s.Oldest.Sub(t0))
			assert.Equal(t, s.AccessUnits*100, s.Bytes)
		})
	}
}

// TestRingBoundHoldsInsideAGOP: a GOP that outgrows the byte bound is dropped with the access units
// after it until the next keyframe, so the ring never holds more than its bound, however long the
// camera goes without a keyframe.
func TestRingBoundHoldsInsideAGOP(t *testing.T) {
	const maxBytes = 6000 // two GOPs of 25 x 100 bytes
	r := NewRing(time.Hour, maxBytes)
	aus := gopStream(1050, 25, 100)
	for i := range aus[51:] { // from here on no keyframe: 999 more access units, 100 kB
		aus[51+i].Keyframe = false
	}
	var drops int
	for i, au := range aus {
		if r.Push(H264, nil, au) {
			drops++
		}
		require.LessOrEqual(t, r.Stats().Bytes, maxBytes, "after access unit %d", i)
	}
	s := r.Stats()
	assert.Equal(t, 1, drops, "one event per dropped GOP")
	assert.EqualValues(t, 1, s.DroppedGOPs)
	assert.EqualValues(t, 1000, s.DroppedAccessUnits, "the dropped GOP and everything after it")
	assert.Zero(t, s.GOPs, "the older GOPs were evicted as the big one grew")
	_, err := r.Window(t0.Add(10*time.Second), t0.Add(20*time.Second))
	require.ErrorIs(t, err, ErrNotBuffered)
	assert.Empty(t, r.Subscribe(t.Context(), 5), "a new viewer got a backlog")
}

// TestRingDropsAGOPThatOverflowsAtOnce: one access unit that takes the GOP past the bound drops it and
// leaves the older GOP, which clips still use but a new viewer does not start with: it would not lead
// into the stream that follows.
func TestRingDropsAGOPThatOverflowsAtOnce(t *testing.T) {
	const maxBytes = 6000
	r := NewRing(time.Hour, maxBytes)
	aus := gopStream(27, 25, 100) // a GOP, then the next one's keyframe and one more access unit
	aus[26].NALUs = [][]byte{make([]byte, maxBytes)}
	for i, au := range aus {
		assert.Equal(t, i == 26, r.Push(H264, nil, au), "access unit %d", i)
	}
	s := r.Stats()
	assert.Equal(t, 1, s.GOPs)
	assert.Equal(t, 2500, s.Bytes)
	c, err := r.Window(t0, t0.Add(500*time.Millisecond))
	require.NoError(t, err)
	assert.True(t, c.AUs[0].Keyframe)

	ch := r.Subscribe(t.Context(), 5)
	r.Push(H264, nil, AccessUnit{Time: t0.Add(2 * time.Second), PTS: 2 * time.Second, NALUs: [][]byte{{1}}})
	assert.Empty(t, ch, "a viewer got an access unit it cannot decode")
	r.Push(H264, nil, AccessUnit{Time: t0.Add(3 * time.Second), PTS: 3 * time.Second, Keyframe: true, NALUs: [][]byte{{5}}})
	require.Len(t, ch, 1)
	assert.True(t, (<-ch).Keyframe)
	assert.Equal(t, 2, r.Stats().GOPs, "the ring keeps video again from the keyframe")

	// A keyframe alone larger than the bound is dropped the same way.
	assert.True(t, r.Push(H264, nil, AccessUnit{Time: t0.Add(4 * time.Second), Keyframe: true, NALUs: [][]byte{make([]byte, maxBytes+1)}}))
	assert.LessOrEqual(t, r.Stats().Bytes, maxBytes)
}

// TestRingViewerKeepsWatchingThroughADroppedGOP: a viewer that had the keyframe keeps receiving the
// stream while the ring stops storing it.
func TestRingViewerKeepsWatchingThroughADroppedGOP(t *testing.T) {
	r := NewRing(time.Hour, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := r.Subscribe(ctx, 100)
	aus := gopStream(30, 1000, 100) // one keyframe, then 29 access units: the GOP outgrows 1000 bytes at the 11th
	dropped := 0
	for _, au := range aus {
		if r.Push(H264, nil, au) {
			dropped++
		}
		require.NotEmpty(t, ch, "access unit at %v not delivered", au.PTS)
		<-ch
	}
	assert.Equal(t, 1, dropped)
	assert.Zero(t, r.Stats().Bytes)
}

func TestRingDropsAccessUnitsBeforeFirstKeyframe(t *testing.T) {
	r := NewRing(time.Minute, 1<<20)
	aus := gopStream(30, 25, 10)
	for _, au := range aus[1:] {
		r.Push(H264, nil, au)
	}
	s := r.Stats()
	assert.Equal(t, 5, s.AccessUnits, "the 5 AUs from the keyframe at 1 s")
	assert.Equal(t, aus[25].Time, s.Oldest)
}

func TestRingWindow(t *testing.T) {
	r := NewRing(time.Minute, 1<<30)
	params := [][]byte{{0x67, 1}, {0x68, 2}}
	for _, au := range gopStream(250, 25, 10) {
		r.Push(H264, params, au)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name         string
		from, to     time.Time
		wantStart    time.Duration
		wantEnd      time.Duration
		wantErr      error
		wantAUsCount int
	}{
		{"starts at the keyframe before from", at(2500 * time.Millisecond), at(4 * time.Second), 2 * time.Second, 4 * time.Second, nil, 51},
		{"from on a keyframe", at(3 * time.Second), at(3040 * time.Millisecond), 3 * time.Second, 3040 * time.Millisecond, nil, 2},
		{"before the ring starts", at(-time.Hour), at(time.Second), 0, time.Second, nil, 26},
		{"after the newest", at(time.Hour), at(2 * time.Hour), 0, 0, ErrNotBuffered, 0},
		{"to before the ring", at(-2 * time.Hour), at(-time.Hour), 0, 0, ErrNotBuffered, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := r.Window(tc.from, tc.to)
			require.ErrorIs(t, err, tc.wantErr)
			if err != nil {
				return
			}
			assert.True(t, c.AUs[0].Keyframe, "clip does not start at a keyframe")
			assert.Equal(t, H264, c.Codec)
			assert.Len(t, c.ParamSets, 2)
			assert.Equal(t, tc.wantStart, c.Start().Sub(t0))
			assert.Equal(t, tc.wantEnd, c.End().Sub(t0))
			assert.Len(t, c.AUs, tc.wantAUsCount)
		})
	}
}

func TestRingSubscribeStartsAtLatestGOPAndSkipsToKeyframeWhenBehind(t *testing.T) {
	r := NewRing(time.Minute, 1<<30)
	aus := gopStream(100, 25, 10)
	for _, au := range aus[:60] {
		r.Push(H264, nil, au)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := r.Subscribe(ctx, 5)
	// Backlog: the GOP from 50 to 59, starting with its keyframe.
	for i := 50; i < 60; i++ {
		require.Equal(t, aus[i].PTS, (<-ch).PTS, "backlog AU %d", i)
	}
	// Live: the channel holds the backlog's size plus 5 (15 AUs: 60..74); the keyframe at 75 finds it
	// full, so everything up to the next keyframe is lost.
	for _, au := range aus[60:80] {
		r.Push(H264, nil, au)
	}
	var got []time.Duration
	for len(ch) > 0 {
		got = append(got, (<-ch).PTS)
	}
	require.Len(t, got, 15)
	assert.Equal(t, aus[60].PTS, got[0])
	assert.Equal(t, aus[74].PTS, got[14])
	r.Push(H264, nil, aus[80])
	assert.Empty(t, ch, "a non-keyframe was delivered after a loss before the next keyframe")
	r.Push(H264, nil, AccessUnit{Time: t0.Add(time.Hour), PTS: time.Hour, Keyframe: true})
	assert.Equal(t, time.Hour, (<-ch).PTS, "delivery did not resume at the keyframe")
	cancel()
	for range ch {
	}
}
