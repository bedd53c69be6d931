package ingest

import (
	"context"
	"errors"
	"fmt"
	"snowlight/camevent"
	"snowlight/media"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// decodeQueue is how many access units may wait for the decoder: two seconds of a 25 fps camera.
const decodeQueue = 50

// session is one RTSP connection to the camera: from DESCRIBE to the error that ends it.
type session struct {
	w      *Worker
	client *gortsplib.Client
	medi   *description.Media
	dp     *depacketizer
	srs    senderReports
	queue  chan media.AccessUnit // to the decoder; nil in DecodeNone mode
	first  bool                  // the worker's first session
	// Touched only by the RTP callback.
	gotKey    bool
	skipToKey bool
	lastKey   uint64 // received count at the last keyframe
	fpsFirst  time.Duration
	fpsN      int
	onlineSet bool
}

// runSession connects, plays and ingests until the session fails or ctx ends. online reports whether
// any access unit arrived.
func (w *Worker) runSession(ctx context.Context) (online bool, err error) {
	u, err := base.ParseURL(w.cfg.URL)
	if err != nil {
		return false, fmt.Errorf("parse camera URL: %w", err)
	}
	tr := gortsplib.TransportTCP
	if w.cfg.Transport == UDP {
		tr = gortsplib.TransportUDP
	}
	s := &session{w: w}
	w.mu.Lock()
	s.first = w.sessions == 0
	w.mu.Unlock()
	s.client = &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		Transport:    &tr,
		ReadTimeout:  w.cfg.ReadTimeout,
		WriteTimeout: w.cfg.ReadTimeout,
		OnPacketsLost: func(n uint64) {
			w.c.lost.Add(n)
		},
		OnDecodeError: func(err error) {
			w.c.decodeErrs.Add(1)
			w.logger().Debug("RTP decode error", "err", redactError(err))
		},
	}
	if err := s.client.Start2(); err != nil {
		return false, fmt.Errorf("connect to %s: %w", u.Host, err)
	}
	defer s.client.Close()
	// RTSP requests block; closing the client is what interrupts them.
	stop := context.AfterFunc(ctx, s.client.Close)
	defer stop()

	forma, err := s.setup(u)
	if err != nil {
		return false, err
	}
	var wg sync.WaitGroup
	if w.cfg.Decode != DecodeNone {
		dec, err := newFrameDecoder(w, s.dp.codec)
		if err != nil {
			return false, err
		}
		s.queue = make(chan media.AccessUnit, decodeQueue)
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec.run(s.queue)
		}()
	}
	w.clockMu.Lock()
	w.clock.newSession(forma.ClockRate())
	w.clockMu.Unlock()
	s.srs.rate = int64(forma.ClockRate())
	s.client.OnPacketRTP(s.medi, forma, s.onPacket)
	s.client.OnPacketRTCP(s.medi, func(pkt rtcp.Packet) { s.srs.observe(pkt) })
	if _, err := s.client.Play(nil); err != nil {
		s.client.Close()
		s.closeQueue(&wg)
		return false, fmt.Errorf("play %s: %w", Redact(w.cfg.URL), s.classify(err))
	}
	err = s.watch(ctx)
	s.client.Close() // stops the RTP callback before the queue closes
	s.closeQueue(&wg)
	return s.onlineSet, err
}

func (s *session) closeQueue(wg *sync.WaitGroup) {
	if s.queue != nil {
		close(s.queue)
	}
	wg.Wait()
}

// setup runs DESCRIBE and SETUP for the first H.264 (else H.265) video track.
func (s *session) setup(u *base.URL) (format.Format, error) {
	w := s.w
	desc, _, err := s.client.Describe(u)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", Redact(w.cfg.URL), s.classify(err))
	}
	var forma format.Format
	var h264f *format.H264
	var h265f *format.H265
	if m := desc.FindFormat(&h264f); m != nil {
		s.medi, forma = m, h264f
	} else if m := desc.FindFormat(&h265f); m != nil {
		s.medi, forma = m, h265f
	} else {
		return nil, fmt.Errorf("describe %s: no H.264 or H.265 video track", Redact(w.cfg.URL))
	}
	if s.dp, err = newDepacketizer(forma); err != nil {
		return nil, err
	}
	if _, err := s.client.Setup(desc.BaseURL, s.medi, 0, 0); err != nil {
		return nil, fmt.Errorf("setup %s: %w", Redact(w.cfg.URL), s.classify(err))
	}
	w.mu.Lock()
	w.info.codec = s.dp.codec.String()
	w.mu.Unlock()
	return forma, nil
}

func (s *session) classify(err error) error {
	if isUnauthorized(err) {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	return err
}

// watch waits for the session to end: a client error, ctx, or the watchdog.
func (s *session) watch(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.client.Wait() }()
	tick := time.NewTicker(max(s.w.cfg.StallTimeout/5, 10*time.Millisecond))
	defer tick.Stop()
	started := time.Now()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("session with %s: %w", Redact(s.w.cfg.URL), err)
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			last := started
			if n := s.w.c.lastFrame.Load(); n != 0 && time.Unix(0, n).After(last) {
				last = time.Unix(0, n)
			}
			if now.Sub(last) > s.w.cfg.StallTimeout {
				return fmt.Errorf("session with %s: %w (%v)", Redact(s.w.cfg.URL), errStalled, s.w.cfg.StallTimeout)
			}
		}
	}
}

// onPacket runs on gortsplib's reader goroutine for every RTP packet.
func (s *session) onPacket(pkt *rtp.Packet) {
	w := s.w
	arrival := time.Now()
	w.c.bytes.Add(uint64(len(pkt.Payload)))
	nalus, key, err := s.dp.push(pkt)
	if errors.Is(err, errNeedMore) {
		return
	}
	if err != nil {
		w.c.decodeErrs.Add(1)
		w.logger().Debug("depacketize", "err", err)
		return
	}
	w.c.received.Add(1)
	// Any complete access unit keeps the watchdog quiet, also before the first keyframe of a camera with
	// a GOP longer than the stall timeout.
	w.c.lastFrame.Store(arrival.UnixNano())
	if !s.first {
		w.c.afterReconnect.Add(1)
	}
	if !s.gotKey && !key {
		w.c.dropNoKey.Add(1)
		return
	}
	s.gotKey = true
	ntp, ntpOK := s.srs.wall(pkt.SSRC, pkt.Timestamp)
	w.clockMu.Lock()
	st := w.clock.stamp(pkt.Timestamp, arrival, ntp, ntpOK)
	w.clockMu.Unlock()
	if st.Jump {
		w.c.jumps.Add(1)
		w.logger().Warn("RTP timestamp jump; media time rebased", "pts", st.PTS)
		w.emit(camevent.TimestampJump, nil)
	}
	au := media.AccessUnit{Camera: w.cfg.Camera, Time: st.Wall, PTS: st.PTS, NALUs: nalus, Keyframe: key}
	s.observe(au, st.Source)
	if w.ring.Push(s.dp.codec, s.dp.params(), au) {
		w.logger().Warn("GOP larger than the ring's byte bound: dropped, keeping nothing until the next keyframe")
		w.emit(camevent.OversizedGOP, nil)
	}
	if s.queue == nil {
		return
	}
	if s.skipToKey && !key {
		w.c.dropQueue.Add(1)
		return
	}
	select {
	case s.queue <- au:
		s.skipToKey = false
	default:
		// The decoder is behind: drop up to the next keyframe, so nothing is decoded against a missing
		// reference.
		s.skipToKey = true
		w.c.dropQueue.Add(1)
	}
}

// observe keeps the stream facts a probe or status line shows: GOP, frame rate, picture size, online.
func (s *session) observe(au media.AccessUnit, src ClockSource) {
	w := s.w
	n := w.c.received.Load()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.info.clockSource = src
	if au.Keyframe {
		if s.lastKey != 0 {
			w.info.gop = int(n - s.lastKey)
		}
		s.lastKey = n
		if wd, ht, ok := pictureSize(s.dp.codec, au.NALUs); ok {
			w.info.width, w.info.height = wd, ht
		}
	}
	if s.fpsN == 0 {
		s.fpsFirst = au.PTS
	}
	s.fpsN++
	if span := au.PTS - s.fpsFirst; span > 0 && s.fpsN > 1 {
		w.info.fps = float64(s.fpsN-1) / span.Seconds()
	}
	if !s.onlineSet {
		s.onlineSet = true
		w.sessions++
		w.state, w.since = StateOnline, time.Now()
		codec := w.info.codec
		w.mu.Unlock()
		w.logger().Info("camera online", "codec", codec, "clock", src)
		w.emit(camevent.Online, nil)
		w.mu.Lock()
	}
}
