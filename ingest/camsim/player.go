package camsim

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"snowlight/ingest/av"
	"snowlight/media"
)

// clockRate is the RTP clock of H.264 and H.265 video.
const clockRate = 90000

// senderReportInterval is how often a simulated camera sends RTCP sender reports (gortsplib's own,
// every 10 s, come on top).
const senderReportInterval = 2 * time.Second

// ntpTime encodes t as a 64-bit NTP timestamp (seconds since 1900 in the high word).
func ntpTime(t time.Time) uint64 {
	ns := uint64(t.UnixNano()) + 2208988800*uint64(time.Second)
	secs := ns / uint64(time.Second)
	frac := (ns % uint64(time.Second)) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// path is one simulated camera.
type path struct {
	s    *Server
	name string
	src  *source
	desc *description.Session
	rng  *rand.Rand // used by the player goroutine only

	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	sessions  map[*gortsplib.ServerSession]struct{}
	faults    Faults
	faultsAt  time.Time // when the schedule was set: periods count from here
	stallTill time.Time
	restart   *time.Duration // pending restart with this timestamp jump
	jump      time.Duration  // pending timestamp jump without a restart
	st        Stats
}

func newPath(s *Server, name string, src *source) *path {
	seed := s.opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	p := &path{s: s, name: name, src: src, sessions: make(map[*gortsplib.ServerSession]struct{}),
		rng: rand.New(rand.NewPCG(seed, uint64(len(name))))}
	var f format.Format
	switch src.info.Codec {
	case media.H265:
		h := &format.H265{PayloadTyp: 96}
		for _, ps := range src.params {
			switch (ps[0] >> 1) & 0x3f {
			case 32:
				h.VPS = ps
			case 33:
				h.SPS = ps
			case 34:
				h.PPS = ps
			}
		}
		f = h
	default:
		h := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		for _, ps := range src.params {
			switch ps[0] & 0x1f {
			case 7:
				h.SPS = ps
			case 8:
				h.PPS = ps
			}
		}
		f = h
	}
	p.desc = &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{f},
	}}}
	return p
}

// start creates the path's stream; the server must be started.
func (p *path) start() error {
	st := &gortsplib.ServerStream{Server: p.s.srv, Desc: p.desc}
	if err := st.Initialize(); err != nil {
		return err
	}
	p.mu.Lock()
	p.stream = st
	p.st.SSRC = streamSSRC(st)
	p.mu.Unlock()
	return nil
}

func streamSSRC(st *gortsplib.ServerStream) uint32 {
	for _, m := range st.Stats().Medias {
		for _, f := range m.Formats {
			return f.LocalSSRC
		}
	}
	return 0
}

func (p *path) close() {
	p.mu.Lock()
	st := p.stream
	p.stream = nil
	p.mu.Unlock()
	if st != nil {
		st.Close()
	}
}

func (p *path) currentStream() *gortsplib.ServerStream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stream
}

func (p *path) addSession(ss *gortsplib.ServerSession) {
	p.mu.Lock()
	p.sessions[ss] = struct{}{}
	p.st.Sessions = len(p.sessions)
	p.mu.Unlock()
}

func (p *path) removeSession(ss *gortsplib.ServerSession) {
	p.mu.Lock()
	delete(p.sessions, ss)
	p.st.Sessions = len(p.sessions)
	p.mu.Unlock()
}

func (p *path) dropSessions() {
	p.mu.Lock()
	ss := make([]*gortsplib.ServerSession, 0, len(p.sessions))
	for s := range p.sessions {
		ss = append(ss, s)
	}
	p.mu.Unlock()
	for _, s := range ss {
		s.Close()
	}
	p.s.log.Info("camsim: dropped sessions", "path", p.name, "sessions", len(ss))
}

func (p *path) setFaults(f Faults) {
	p.mu.Lock()
	p.faults, p.faultsAt = f, time.Now()
	p.mu.Unlock()
}

func (p *path) stall(d time.Duration) {
	p.mu.Lock()
	p.stallTill = time.Now().Add(d)
	p.mu.Unlock()
	p.s.log.Info("camsim: stalling", "path", p.name, "for", d)
}

func (p *path) requestRestart(jump time.Duration) {
	p.mu.Lock()
	p.restart = &jump
	p.mu.Unlock()
}

func (p *path) requestJump(d time.Duration) {
	p.mu.Lock()
	p.jump += d
	p.mu.Unlock()
}

func (p *path) stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// schedule applies the periodic faults due at now, once per period.
type schedule struct {
	at                   time.Time // the schedule the indexes refer to
	drop, stall, restart int64     // last period index acted on
}

func (p *path) periodic(now time.Time, sc *schedule) {
	p.mu.Lock()
	f, at := p.faults, p.faultsAt
	p.mu.Unlock()
	if !at.Equal(sc.at) {
		*sc = schedule{at: at}
	}
	due := func(every time.Duration, last *int64) bool {
		if every <= 0 {
			return false
		}
		n := int64(now.Sub(at) / every)
		if n > *last {
			*last = n
			return n > 0
		}
		return false
	}
	if due(f.DropSessionsEvery, &sc.drop) {
		p.dropSessions()
	}
	if due(f.StallEvery, &sc.stall) {
		p.stall(f.StallFor)
	}
	if due(f.RestartEvery, &sc.restart) {
		p.requestRestart(f.TimestampJump)
	}
}

// run plays the file in a loop until ctx ends.
func (p *path) run(ctx context.Context) {
	medi := p.desc.Medias[0]
	newEncoder := func() (func([][]byte) ([]*rtp.Packet, error), error) {
		switch f := medi.Formats[0].(type) {
		case *format.H265:
			e, err := f.CreateEncoder()
			if err != nil {
				return nil, err
			}
			return e.Encode, nil
		case *format.H264:
			e, err := f.CreateEncoder()
			if err != nil {
				return nil, err
			}
			return e.Encode, nil
		}
		return nil, nil
	}
	encode, err := newEncoder()
	if err != nil {
		p.s.log.Error("camsim: RTP encoder", "path", p.name, "err", err)
		return
	}
	start := time.Now() // carries the monotonic clock: pacing ignores wall-clock steps
	tsBase := p.rng.Uint32()
	var (
		loopOffset time.Duration // media time at the start of the current play-through
		tsJump     time.Duration // sum of timestamp jumps from restarts
		index      uint64
		sc         schedule
		lastSR     time.Time
		srStream   *gortsplib.ServerStream
		timer      = time.NewTimer(0)
	)
	defer timer.Stop()
	<-timer.C
	for loop := 0; ctx.Err() == nil; loop++ {
		err := p.src.packets(func(pkt av.Packet) bool {
			media := loopOffset + pkt.DTS - p.src.first
			due := start.Add(media)
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return false
				case <-timer.C:
				}
			}
			now := time.Now()
			p.periodic(now, &sc)

			p.mu.Lock()
			stalled := now.Before(p.stallTill)
			restart := p.restart
			p.restart = nil
			if p.jump != 0 {
				tsJump += p.jump
				p.jump = 0
				srStream = nil // announce the new timeline at once
			}
			loss, noKeys, pad := p.faults.LossPercent, p.faults.NoKeyframes, p.faults.PadBytes
			st := p.stream
			p.mu.Unlock()

			if restart != nil {
				tsJump += *restart
				if encode, err = newEncoder(); err != nil { // new sequence numbers
					p.s.log.Error("camsim: RTP encoder", "path", p.name, "err", err)
					return false
				}
				st = p.doRestart(*restart)
			}
			if stalled || st == nil || noKeys && pkt.Keyframe {
				return true
			}
			pts := loopOffset + pkt.PTS - p.src.first
			rtpTime := tsBase + uint32(int64(pts+tsJump)*clockRate/int64(time.Second))
			au := pkt.AU
			if pad > 0 {
				au = append(au[:len(au):len(au)], fillerNALU(p.src.info.Codec, pad))
			}
			pkts, err := encode(au)
			if err != nil {
				p.s.log.Warn("camsim: packetize", "path", p.name, "err", err)
				return true
			}
			wall := start.Add(pts).Round(0) // capture time: what the sender reports announce
			var sent, dropped uint64
			for _, rp := range pkts {
				if loss > 0 && p.rng.Float64()*100 < loss {
					dropped++
					continue
				}
				rp.Timestamp = rtpTime
				if err := st.WritePacketRTPWithNTP(medi, rp, wall); err == nil {
					sent++
				}
			}
			// Sender reports every few seconds and at once on a new stream, as cameras send them, so
			// receivers can anchor wall time soon after they connect.
			if st != srStream || now.Sub(lastSR) >= senderReportInterval {
				sr := &rtcp.SenderReport{SSRC: streamSSRC(st), NTPTime: ntpTime(wall), RTPTime: rtpTime}
				if err := st.WritePacketRTCP(medi, sr); err == nil {
					lastSR, srStream = now, st
				}
			}
			index++
			p.mu.Lock()
			p.st.FramesSent++
			p.st.PacketsSent += sent
			p.st.PacketsDropped += dropped
			p.mu.Unlock()
			if cb := p.s.opts.OnFrame; cb != nil {
				cb(FrameSent{Path: p.name, Index: index, Loop: loop, PTS: pts, RTPTime: rtpTime,
					Wall: wall, Keyframe: pkt.Keyframe})
			}
			return true
		})
		if err != nil {
			p.s.log.Error("camsim: read video", "path", p.name, "err", err)
			return
		}
		loopOffset += p.src.period
	}
}

// fillerNALU is filler data of n bytes in all (H.264 type 12, H.265 FD_NUT): 0xFF bytes ending in the
// RBSP stop bit, which decoders skip.
func fillerNALU(c media.Codec, n int) []byte {
	hdr := []byte{12}
	if c == media.H265 {
		hdr = []byte{38 << 1, 1}
	}
	n = max(n, len(hdr)+1)
	b := make([]byte, n)
	copy(b, hdr)
	for i := len(hdr); i < n-1; i++ {
		b[i] = 0xff
	}
	b[n-1] = 0x80
	return b
}

// doRestart replaces the stream (closing every session) like a rebooting camera.
func (p *path) doRestart(jump time.Duration) *gortsplib.ServerStream {
	p.mu.Lock()
	old := p.stream
	p.stream = nil
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	st := &gortsplib.ServerStream{Server: p.s.srv, Desc: p.desc}
	if err := st.Initialize(); err != nil {
		p.s.log.Error("camsim: restart", "path", p.name, "err", err)
		return nil
	}
	p.mu.Lock()
	p.stream = st
	p.st.Restarts++
	p.st.SSRC = streamSSRC(st)
	p.sessions = make(map[*gortsplib.ServerSession]struct{})
	p.st.Sessions = 0
	ssrc := p.st.SSRC
	p.mu.Unlock()
	p.s.log.Info("camsim: restarted", "path", p.name, "ssrc", ssrc, "ts_jump", jump)
	return st
}
