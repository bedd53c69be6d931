package live

import "time"

// clockRate is the RTP clock of H.264 and H.265 video.
const clockRate = 90000

// burstStep is the RTP time between the pictures a new viewer receives from the ring's backlog. They
// are already in the past, so a receiver that honoured their real spacing would show video up to a GOP
// late; packed 1 ms apart they are decoded at once and the picture appears immediately.
const burstStep = clockRate / 1000

// timeline maps a camera's media time to one viewer's RTP timestamps.
type timeline struct {
	started bool
	lastPTS time.Duration
	lastTS  uint32
}

// next returns the RTP timestamp for an access unit with media time pts; burst marks backlog pictures.
func (t *timeline) next(pts time.Duration, burst bool) uint32 {
	switch {
	case !t.started:
		t.started = true
		// Random-looking start is not needed: SRTP protects the stream and each viewer has its own SSRC.
		t.lastTS = 0
	case burst:
		t.lastTS += burstStep
	default:
		d := pts - t.lastPTS
		if d <= 0 || d > 5*time.Second {
			// Media time jumped (camera restarted): continue one nominal frame later.
			d = 40 * time.Millisecond
		}
		t.lastTS += uint32(d * clockRate / time.Second)
	}
	t.lastPTS = pts
	return t.lastTS
}
