// Package live serves cameras' live video to browsers over WebRTC, signalled with WHEP. The H.264 from
// the ingest ring goes out as it came from the camera: nothing is decoded or re-encoded, so a viewer costs
// packetisation and encryption only. Every viewer subscribes to the camera's ring, which the camera's one
// ingest worker fills: many viewers, one RTSP session.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"snowlight/media"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors a signalling handler maps to HTTP statuses.
var (
	ErrNoCamera    = errors.New("no such camera")
	ErrNoVideo     = errors.New("camera has no video yet")
	ErrTooMany     = errors.New("too many viewers")
	ErrNoSession   = errors.New("no such session")
	ErrBadOffer    = errors.New("invalid SDP offer")
	errUnsupported = errors.New("camera codec is not supported for live view")
)

// Rings finds a camera's ring buffer.
type Rings func(camera string) (*media.Ring, bool)

// Options configures a Server.
type Options struct {
	Rings Rings
	// MaxViewersPerCamera and MaxViewers bound sessions; 0 means 16 and 64.
	MaxViewersPerCamera, MaxViewers int
	// UDPPort, if set, carries every session's media on this one UDP port (easy to open in a firewall);
	// otherwise each session takes an ephemeral port.
	UDPPort int
	// PublicIPs are announced as host candidates in place of the machine's own (behind 1:1 NAT).
	PublicIPs []string
	// IncludeLoopback offers 127.0.0.1 candidates, for a browser on the same machine.
	IncludeLoopback bool
	Log             *slog.Logger
	Registerer      prometheus.Registerer
}

// Server holds the WebRTC sessions.
type Server struct {
	opts  Options
	api   *webrtc.API
	log   *slog.Logger
	udp   net.PacketConn
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	views *prometheus.GaugeVec
	sent  *prometheus.CounterVec

	mu       sync.Mutex
	sessions map[string]*session
}

// NewServer prepares a server; Close ends every session.
func NewServer(opts Options) (*Server, error) {
	if opts.Rings == nil {
		return nil, errors.New("live: no ring lookup")
	}
	if opts.MaxViewersPerCamera <= 0 {
		opts.MaxViewersPerCamera = 16
	}
	if opts.MaxViewers <= 0 {
		opts.MaxViewers = 64
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Log, sessions: map[string]*session{}}
	s.ctx, s.stop = context.WithCancel(context.Background())

	me := &webrtc.MediaEngine{}
	for i, fmtp := range h264Profiles {
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: clockRate,
				SDPFmtpLine: fmtp, RTCPFeedback: videoFeedback},
			PayloadType: webrtc.PayloadType(102 + 2*i),
		}, webrtc.RTPCodecTypeVideo)
		if err != nil {
			return nil, fmt.Errorf("live: register H264: %w", err)
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		return nil, fmt.Errorf("live: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(opts.IncludeLoopback)
	if len(opts.PublicIPs) > 0 {
		se.SetNAT1To1IPs(opts.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if opts.UDPPort > 0 {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: opts.UDPPort})
		if err != nil {
			return nil, fmt.Errorf("live: listen on UDP port %d: %w", opts.UDPPort, err)
		}
		s.udp = conn
		se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, conn))
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))

	s.views = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "snowlight_live_viewers", Help: "WebRTC viewers per camera.",
	}, []string{"camera"})
	s.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "snowlight_live_access_units_sent_total", Help: "Access units sent to live viewers.",
	}, []string{"camera"})
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.views, s.sent} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("live: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// h264Profiles are offered so that browsers find an exact match (Constrained Baseline, Main, High); the
// stream itself is whatever the camera sends, which browsers decode whichever profile was negotiated.
var h264Profiles = []string{
	"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
	"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032",
}

var videoFeedback = []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}

// Offer starts a session for camera from a browser's SDP offer and returns the SDP answer (with every ICE
// candidate gathered: WHEP clients need no trickle) and the session id for Close.
func (s *Server) Offer(ctx context.Context, camera, offer string) (answer, id string, err error) {
	if len(offer) == 0 || len(offer) > 64<<10 {
		return "", "", fmt.Errorf("%w: %d bytes", ErrBadOffer, len(offer))
	}
	ring, ok := s.opts.Rings(camera)
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrNoCamera, camera)
	}
	codec, _, ok := ring.Params()
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrNoVideo, camera)
	}
	if codec != media.H264 {
		return "", "", fmt.Errorf("%w: %v", errUnsupported, codec)
	}
	id, err = s.reserve(camera)
	if err != nil {
		return "", "", err
	}
	answer, err = s.start(ctx, id, camera, ring, offer)
	if err != nil {
		s.release(id)
		return "", "", err
	}
	s.log.Info("live viewer joined", "camera", camera, "session", id)
	return answer, id, nil
}

// reserve checks the limits and holds a place for a new session.
func (s *Server) reserve(camera string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= s.opts.MaxViewers {
		return "", fmt.Errorf("%w: %d sessions in all", ErrTooMany, len(s.sessions))
	}
	n := 0
	for _, v := range s.sessions {
		if v != nil && v.camera == camera {
			n++
		}
	}
	if n >= s.opts.MaxViewersPerCamera {
		return "", fmt.Errorf("%w: %d on camera %s", ErrTooMany, n, camera)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	s.sessions[id] = nil
	return id, nil
}

// publish makes a started session visible (Close, Done, Viewers). It happens before the session's
// goroutines run, so a session that ends at once is released after it was published, not before.
func (s *Server) publish(sess *session) {
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	s.views.WithLabelValues(sess.camera).Inc()
}

func (s *Server) release(id string) {
	s.mu.Lock()
	sess := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if sess != nil {
		s.views.WithLabelValues(sess.camera).Dec()
		close(sess.done)
	}
}

// Close ends one session. The camera argument must match, so one camera's URL cannot end another's viewer.
func (s *Server) Close(camera, id string) error {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok || sess == nil || sess.camera != camera {
		return ErrNoSession
	}
	sess.cancel()
	return nil
}

// Done returns a channel that is closed when session id ends, whatever ends it (Close, the viewer
// leaving, Shutdown); for a session that does not exist (any more) it is closed already.
func (s *Server) Done(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.sessions[id]; sess != nil {
		return sess.done
	}
	ended := make(chan struct{})
	close(ended)
	return ended
}

// Viewers returns the number of sessions watching camera.
func (s *Server) Viewers(camera string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.sessions {
		if v != nil && v.camera == camera {
			n++
		}
	}
	return n
}

// Shutdown ends every session and waits for them.
func (s *Server) Shutdown() {
	s.stop()
	s.wg.Wait()
	if s.udp != nil {
		s.udp.Close()
	}
}
