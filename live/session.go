package live

import (
	"context"
	"errors"
	"fmt"
	"snowlight/media"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
)

// session is one viewer of one camera.
type session struct {
	id, camera string
	cancel     context.CancelFunc
	done       chan struct{} // closed by release
}

// How long a viewer may take to connect, and how much it may fall behind before it skips to the next GOP.
const (
	connectTimeout = 15 * time.Second
	viewerBuffer   = 50
	rtpMTU         = 1200
)

// start negotiates the session and publishes it; its goroutine releases it when it ends.
func (s *Server) start(ctx context.Context, id, camera string, ring *media.Ring, offer string) (string, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", fmt.Errorf("live: new peer connection: %w", err)
	}
	fail := func(err error) (string, error) {
		pc.Close()
		return "", err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: clockRate, SDPFmtpLine: h264Profiles[0],
	}, "video", "snowlight-"+camera)
	if err != nil {
		return fail(fmt.Errorf("live: new track: %w", err))
	}
	sender, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fail(fmt.Errorf("live: add track: %w", err))
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(fmt.Errorf("live: set local description: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}

	sctx, cancel := context.WithCancel(s.ctx)
	sess := &session{id: id, camera: camera, cancel: cancel, done: make(chan struct{})}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			once.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			cancel()
		}
	})
	s.publish(sess)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		drainRTCP(sender.Sender())
	}()
	go func() {
		defer s.wg.Done()
		defer s.release(id)
		defer pc.Close()
		defer cancel()
		select {
		case <-connected:
		case <-sctx.Done():
			return
		case <-time.After(connectTimeout):
			s.log.Info("live viewer never connected", "camera", camera, "session", id)
			return
		}
		err := s.send(sctx, camera, ring, track)
		s.log.Info("live viewer left", "camera", camera, "session", id, "reason", err)
	}()
	return pc.LocalDescription().SDP, nil
}

// drainRTCP reads the receiver's reports so the interceptors (NACK retransmission, reports) see them.
func drainRTCP(r *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}

// send forwards the camera's access units to the viewer, starting with the newest GOP.
func (s *Server) send(ctx context.Context, camera string, ring *media.Ring, track *webrtc.TrackLocalStaticRTP) error {
	// Everything up to the newest access unit now is backlog, sent as a burst (see burstStep).
	backlogEnd := ring.Stats().Newest
	aus := ring.Subscribe(ctx, viewerBuffer)
	pk := rtp.NewPacketizer(rtpMTU, 0, 0, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), clockRate)
	var (
		tl  timeline
		buf []byte
	)
	sent := s.sent.WithLabelValues(camera)
	for au := range aus {
		ts := tl.next(au.PTS, !au.Time.After(backlogEnd))
		buf = buf[:0]
		for _, n := range au.NALUs {
			buf = append(buf, 0, 0, 0, 1)
			buf = append(buf, n...)
		}
		for _, p := range pk.Packetize(buf, 0) {
			p.Timestamp = ts
			if err := track.WriteRTP(p); err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				return fmt.Errorf("write RTP: %w", err)
			}
		}
		sent.Inc()
	}
	return ctx.Err()
}
