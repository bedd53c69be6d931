package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// t0 is the arrival of the first access unit in the clock tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// step is one access unit fed to the clock.
type step struct {
	rtp     uint32
	arrival time.Duration // after t0
	ntp     time.Duration // after t0; -1: no sender report
	session bool          // starts a new session first
}

func TestClock(t *testing.T) {
	const frame = 3600 // 40 ms at 90 kHz
	ms := time.Millisecond
	regular := func(n int, rtp0 uint32, arr0 time.Duration) []step {
		var s []step
		for i := 0; i < n; i++ {
			s = append(s, step{rtp: rtp0 + uint32(i*frame), arrival: arr0 + time.Duration(i)*40*ms, ntp: -1})
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		steps     []step
		wantPTS   []time.Duration // for the last len(wantPTS) steps
		wantJumps int
		check     func(t *testing.T, st []stamp)
	}{
		{
			name:    "wraps around 2^32",
			steps:   regular(4, 0xFFFFFFFF-frame, 0),
			wantPTS: []time.Duration{0, 40 * ms, 80 * ms, 120 * ms},
		},
		{
			name: "forward jump is rebased on arrival",
			steps: append(regular(3, 1000, 0),
				step{rtp: 1000 + 3*frame + 90000*3600, arrival: 120 * ms, ntp: -1},
				step{rtp: 1000 + 4*frame + 90000*3600, arrival: 160 * ms, ntp: -1}),
			wantPTS:   []time.Duration{0, 40 * ms, 80 * ms, 120 * ms, 160 * ms},
			wantJumps: 1,
		},
		{
			name: "backward jump is rebased on arrival",
			steps: append(regular(3, 900000, 0),
				step{rtp: 100, arrival: 120 * ms, ntp: -1}),
			wantPTS:   []time.Duration{0, 40 * ms, 80 * ms, 120 * ms},
			wantJumps: 1,
		},
		{
			name: "reconnect continues media time after the outage",
			steps: append(regular(2, 5000, 0),
				step{rtp: 77, arrival: 3040 * ms, ntp: -1, session: true},
				step{rtp: 77 + frame, arrival: 3080 * ms, ntp: -1}),
			wantPTS: []time.Duration{0, 40 * ms, 3040 * ms, 3080 * ms},
		},
		{
			name: "arrival jitter does not reach wall time",
			steps: []step{
				{rtp: 0, arrival: 30 * ms, ntp: -1}, // delayed first packet
				{rtp: frame, arrival: 40 * ms, ntp: -1},
				{rtp: 2 * frame, arrival: 150 * ms, ntp: -1}, // 70 ms late
				{rtp: 3 * frame, arrival: 120 * ms, ntp: -1},
			},
			check: func(t *testing.T, st []stamp) {
				// The anchor follows the earliest arrival (frame 1): wall = t0 + PTS from then on, and a
				// late packet moves it by at most 1% of the media time that passed.
				for i, want := range []time.Duration{30 * ms, 40 * ms, 80*ms + 400*time.Microsecond, 120 * ms} {
					assert.Equal(t, want, st[i].Wall.Sub(t0), "AU %d wall", i)
				}
			},
		},
		{
			name: "sender reports win when plausible, not when skewed",
			steps: []step{
				{rtp: 0, arrival: 100 * ms, ntp: 20 * ms},
				{rtp: frame, arrival: 140 * ms, ntp: 60 * ms},
				{rtp: 2 * frame, arrival: 180 * ms, ntp: time.Hour},
			},
			check: func(t *testing.T, st []stamp) {
				// The sender report is used ...
				assert.Equal(t, ClockRTCP, st[0].Source)
				assert.Equal(t, 20*ms, st[0].Wall.Sub(t0))
				assert.Equal(t, 60*ms, st[1].Wall.Sub(t0))
				// ... but an hour of skew is not trusted.
				assert.Equal(t, ClockArrival, st[2].Source, "%+v", st[2])
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock(0, 0)
			c.newSession(90000)
			var got []stamp
			jumps := 0
			for _, s := range tc.steps {
				if s.session {
					c.newSession(90000)
				}
				ntp, ok := time.Time{}, s.ntp >= 0
				if ok {
					ntp = t0.Add(s.ntp)
				}
				st := c.stamp(s.rtp, t0.Add(s.arrival), ntp, ok)
				if st.Jump {
					jumps++
				}
				got = append(got, st)
			}
			for i := 1; i < len(got); i++ {
				assert.Greater(t, got[i].PTS, got[i-1].PTS, "AU %d goes back", i)
				assert.True(t, got[i].Wall.After(got[i-1].Wall), "AU %d goes back: %v after %v", i, got[i].Wall, got[i-1].Wall)
			}
			off := len(got) - len(tc.wantPTS)
			for i, want := range tc.wantPTS {
				assert.Equal(t, want, got[off+i].PTS, "AU %d PTS", off+i)
			}
			assert.Equal(t, tc.wantJumps, jumps, "jumps")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// A day of 90 kHz ticks must not overflow the conversion to nanoseconds.
func TestClockLongSession(t *testing.T) {
	c := newClock(0, 0)
	c.newSession(90000)
	c.stamp(0, t0, time.Time{}, false)
	var st stamp
	day := 24 * time.Hour
	for d := time.Minute; d <= 3*day; d += time.Minute {
		st = c.stamp(uint32(int64(d/time.Second)*90000), t0.Add(d), time.Time{}, false)
	}
	assert.Equal(t, 3*day, st.PTS, "PTS after 3 days")
	assert.False(t, st.Jump, "a jump after 3 days")
}

// NTP fractions are 1/2^32 s (RFC 3550), not nanoseconds.
func TestNTPToTime(t *testing.T) {
	want := time.Date(2025, 3, 1, 12, 0, 0, 750_000_000, time.UTC)
	v := uint64(want.Unix()+2208988800)<<32 | 3<<30 // .75 s
	assert.WithinDuration(t, want, ntpToTime(v), 0)
}
