package ingest

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// senderReports maps RTP time to the camera's wall clock from its RTCP sender reports.
//
// gortsplib v4.16.2 decodes the NTP fraction as nanoseconds instead of 1/2^32 s (gortsplib#869, fixed
// upstream after the pinned version), which puts real cameras' times up to 4 s off; this reads the
// reports itself, as RFC 3550 defines them.
type senderReports struct {
	rate int64

	mu   sync.Mutex
	ok   bool
	ssrc uint32
	ntp  time.Time
	rtp  uint32
}

func (s *senderReports) observe(pkt rtcp.Packet) {
	sr, ok := pkt.(*rtcp.SenderReport)
	if !ok {
		return
	}
	s.mu.Lock()
	s.ok, s.ssrc, s.ntp, s.rtp = true, sr.SSRC, ntpToTime(sr.NTPTime), sr.RTPTime
	s.mu.Unlock()
}

// wall returns the capture time of the RTP timestamp ts of stream ssrc, if a report for it arrived.
func (s *senderReports) wall(ssrc, ts uint32) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok || s.ssrc != ssrc || s.rate <= 0 {
		return time.Time{}, false
	}
	diff := int64(int32(ts - s.rtp))
	return s.ntp.Add(time.Duration(diff * int64(time.Second) / s.rate)), true
}

// ntpToTime decodes a 64-bit NTP timestamp: seconds since 1900, and a fraction in units of 1/2^32 s.
func ntpToTime(v uint64) time.Time {
	secs := int64(v>>32) - 2208988800
	frac := (v & 0xFFFFFFFF) * uint64(time.Second) >> 32
	return time.Unix(secs, int64(frac))
}
