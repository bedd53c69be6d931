package ingest

import (
	"context"
	"errors"
	"testing"
	"time"
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
		// The GOP being written stays even when it alone exceeds the budget.
		{"oversized gop", time.Hour, 10, 30, 1, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(tc.maxDur, tc.maxBytes)
			for _, au := range gopStream(tc.n, 25, 100) {
				r.Push(H264, nil, au)
			}
			s := r.Stats()
			if s.GOPs != tc.wantGOPs {
				t.Errorf("GOPs = %d, want %d", s.GOPs, tc.wantGOPs)
			}
			if got := s.Oldest.Sub(t0); got != tc.wantOldestOffset {
				t.Errorf("oldest at %v, want %v", got, tc.wantOldestOffset)
			}
			if s.Bytes != s.AccessUnits*100 {
				t.Errorf("bytes %d for %d AUs", s.Bytes, s.AccessUnits)
			}
		})
	}
}

func TestRingDropsAccessUnitsBeforeFirstKeyframe(t *testing.T) {
	r := NewRing(time.Minute, 1<<20)
	aus := gopStream(30, 25, 10)
	for _, au := range aus[1:] {
		r.Push(H264, nil, au)
	}
	s := r.Stats()
	if s.AccessUnits != 5 || !s.Oldest.Equal(aus[25].Time) {
		t.Fatalf("want the 5 AUs from the keyframe at 1 s, got %+v", s)
	}
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
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !c.AUs[0].Keyframe {
				t.Error("clip does not start at a keyframe")
			}
			if c.Codec != H264 || len(c.ParamSets) != 2 {
				t.Errorf("codec %v params %d", c.Codec, len(c.ParamSets))
			}
			if got := c.Start().Sub(t0); got != tc.wantStart {
				t.Errorf("start %v, want %v", got, tc.wantStart)
			}
			if got := c.End().Sub(t0); got != tc.wantEnd {
				t.Errorf("end %v, want %v", got, tc.wantEnd)
			}
			if len(c.AUs) != tc.wantAUsCount {
				t.Errorf("%d AUs, want %d", len(c.AUs), tc.wantAUsCount)
			}
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
		au := <-ch
		if au.PTS != aus[i].PTS {
			t.Fatalf("backlog AU %d has PTS %v, want %v", i, au.PTS, aus[i].PTS)
		}
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
	if len(got) != 15 || got[0] != aus[60].PTS || got[14] != aus[74].PTS {
		t.Fatalf("got %v, want AUs 60..74", got)
	}
	for _, au := range aus[80:81] {
		r.Push(H264, nil, au)
	}
	if len(ch) != 0 {
		t.Fatal("a non-keyframe was delivered after a loss before the next keyframe")
	}
	r.Push(H264, nil, AccessUnit{Time: t0.Add(time.Hour), PTS: time.Hour, Keyframe: true})
	if au := <-ch; au.PTS != time.Hour {
		t.Fatalf("delivery did not resume at the keyframe: %v", au.PTS)
	}
	cancel()
	for range ch {
	}
}
