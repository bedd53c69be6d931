package ingest

import "time"

// ClockSource says where a wall time came from.
type ClockSource string

// Clock sources.
const (
	ClockRTCP    ClockSource = "rtcp"    // the camera's RTCP sender reports (its own NTP clock)
	ClockArrival ClockSource = "arrival" // our clock at arrival, smoothed
)

// clockDefaults.
const (
	defaultJumpThreshold = 5 * time.Second
	defaultMaxClockSkew  = 10 * time.Second
	// arrivalSlew bounds how fast the arrival anchor may move later (per second of media): network delay
	// only adds, so the anchor follows the earliest arrivals at once and later ones slowly.
	arrivalSlew = 0.01
	// reorderWindow is how far back in RTP time an access unit may be without being a jump (B-frames
	// arrive in decode order, before pictures with earlier presentation times).
	reorderWindow = time.Second
)

// clock stamps one camera's access units with media and wall time. It lives as long as the worker, so
// both times stay monotonic across sessions. It is not safe for concurrent use.
type clock struct {
	jumpThreshold time.Duration
	maxSkew       time.Duration

	// Per session.
	rate        int64
	sessionSeen bool
	lastRTP     uint32
	ticks       int64         // unwrapped RTP time of the last access unit, relative to the session base
	base        time.Duration // media time at ticks == 0
	lastArrival time.Time

	// Per camera.
	havePTS   bool
	maxPTS    time.Duration // greatest media time handed out
	lastWall  time.Time     // wall time of the access unit with maxPTS
	anchor    time.Time     // arrival anchor: wall = anchor + PTS
	hasAnchor bool
}

func newClock(jumpThreshold, maxSkew time.Duration) *clock {
	if jumpThreshold <= 0 {
		jumpThreshold = defaultJumpThreshold
	}
	if maxSkew <= 0 {
		maxSkew = defaultMaxClockSkew
	}
	return &clock{jumpThreshold: jumpThreshold, maxSkew: maxSkew}
}

// newSession starts a new RTP timeline (a reconnect, or a new SSRC).
func (c *clock) newSession(clockRate int) {
	c.rate = int64(clockRate)
	c.sessionSeen = false
}

// stamp is what the clock assigns to one access unit.
type stamp struct {
	PTS    time.Duration
	Wall   time.Time
	Source ClockSource
	Jump   bool // the RTP timeline jumped and was rebased
}

// stamp assigns media and wall time to an access unit with RTP timestamp ts that arrived at arrival;
// ntp is its time from the camera's sender reports, if any.
func (c *clock) stamp(ts uint32, arrival time.Time, ntp time.Time, ntpOK bool) stamp {
	var st stamp
	switch {
	case !c.sessionSeen:
		c.rebase(ts, arrival)
		c.sessionSeen = true
	default:
		delta := int64(int32(ts - c.lastRTP))
		media := c.toDuration(delta)
		elapsed := arrival.Sub(c.lastArrival)
		if media < -reorderWindow || absDur(media-elapsed) > c.jumpThreshold {
			c.rebase(ts, arrival)
			st.Jump = true
		} else {
			c.ticks += delta
			c.lastRTP = ts
		}
	}
	c.lastArrival = arrival
	st.PTS = c.base + c.toDuration(c.ticks)
	inOrder := !c.havePTS || st.PTS > c.maxPTS

	// Arrival anchor: the earliest arrival relative to media time is the least delayed one.
	if inOrder {
		cand := arrival.Add(-st.PTS)
		switch {
		case !c.hasAnchor || cand.Before(c.anchor):
			c.anchor, c.hasAnchor = cand, true
		default:
			step := time.Duration(float64(st.PTS-c.maxPTS) * arrivalSlew)
			c.anchor = c.anchor.Add(min(step, cand.Sub(c.anchor)))
		}
	}

	st.Wall, st.Source = c.anchor.Add(st.PTS), ClockArrival
	if ntpOK && absDur(ntp.Sub(arrival)) <= c.maxSkew {
		st.Wall, st.Source = ntp, ClockRTCP
	}
	if inOrder {
		if c.havePTS && !st.Wall.After(c.lastWall) {
			st.Wall = c.lastWall.Add(time.Microsecond)
		}
		c.maxPTS, c.lastWall, c.havePTS = st.PTS, st.Wall, true
	}
	return st
}

// rebase starts a new stretch of RTP time that continues media time from where it was, advanced by the
// wall time that passed (so a camera away for a minute comes back a minute later in media time too).
func (c *clock) rebase(ts uint32, arrival time.Time) {
	c.lastRTP, c.ticks = ts, 0
	if !c.havePTS {
		c.base = 0
		return
	}
	gap := arrival.Sub(c.lastArrival)
	if gap < time.Millisecond {
		gap = time.Millisecond
	}
	c.base = c.maxPTS + gap
}

func (c *clock) toDuration(ticks int64) time.Duration {
	if c.rate <= 0 {
		return 0
	}
	// Split to stay exact without overflowing after a day of 90 kHz ticks.
	return time.Duration(ticks/c.rate)*time.Second + time.Duration(ticks%c.rate*int64(time.Second)/c.rate)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
