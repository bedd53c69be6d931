// Package camsim is an RTSP server that plays video files as IP cameras: each file loops forever at
// rtsp://ADDR/<name>, paced in real time, with RTP timestamps that keep increasing across loops, RTCP
// sender reports, parameter sets in the SDP and before every IDR, optional digest/basic authentication,
// TCP and UDP transport, and faults on demand (dropped sessions, stalls, packet loss, restarts with a new
// SSRC and a timestamp jump) for testing ingest.
package camsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// FrameSent tells a test when an access unit left the simulator: latency measurements start here.
type FrameSent struct {
	Path     string
	Index    uint64        // access units sent on this path since Start, across loops and restarts
	Loop     int           // play-through of the file, from 0
	PTS      time.Duration // media time of the camera
	RTPTime  uint32
	Wall     time.Time // capture time announced in the sender reports
	Keyframe bool
}

// Options configure a Server.
type Options struct {
	// Addr is the RTSP (TCP) address; "127.0.0.1:0" picks a free port.
	Addr string
	// UDPAddr is the RTP port for UDP transport (RTCP uses the next port); it must be even. Empty picks
	// a free pair on Addr's host; "off" disables UDP.
	UDPAddr string
	// User and Pass, when User is set, are required from every client (basic or digest).
	User, Pass string
	Log        *slog.Logger
	// OnFrame, when set, is called after each access unit goes out. It must not block.
	OnFrame func(FrameSent)
	// MaxCacheBytes: files whose access units total less are held in memory; larger ones are re-read
	// every loop (64 MiB).
	MaxCacheBytes int
	// Seed makes packet loss reproducible; 0 picks one at random.
	Seed uint64
}

// Server plays files as cameras.
type Server struct {
	opts Options
	log  *slog.Logger
	srv  *gortsplib.Server
	addr string

	mu      sync.Mutex
	paths   map[string]*path
	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sources map[string]*source // by absolute file path, shared by paths playing the same file
}

// New returns a server; add files, then Start it.
func New(o Options) *Server {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8554"
	}
	if o.MaxCacheBytes <= 0 {
		o.MaxCacheBytes = 64 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: o, log: o.Log, paths: make(map[string]*path), sources: make(map[string]*source)}
}

// AddFile serves file at rtsp://ADDR/<name>; an empty name uses the file's base name without extension.
// A file that cannot be played is an error here, before any client sees it.
func (s *Server) AddFile(name, file string) error {
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if name == "" || strings.ContainsAny(name, "/?# ") {
		return fmt.Errorf("camsim: path name %q: want a non-empty name without / ? # or spaces", name)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("camsim: %s: %w", file, err)
	}
	s.mu.Lock()
	src := s.sources[abs]
	s.mu.Unlock()
	if src == nil {
		if src, err = loadSource(abs, s.opts.MaxCacheBytes); err != nil {
			return err
		}
		if src.truncated != nil {
			s.log.Warn("video file breaks off; playing what precedes the break", "file", file,
				"frames", src.frames, "err", src.truncated)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.paths[name]; dup {
		return fmt.Errorf("camsim: path %q already serves a file", name)
	}
	s.sources[abs] = src
	p := newPath(s, name, src)
	s.paths[name] = p
	if s.started {
		if err := p.start(); err != nil {
			delete(s.paths, name)
			return err
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); p.run(s.ctx) }()
	}
	return nil
}

// Start listens and starts every camera. They play until ctx ends or Close.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("camsim: already started")
	}
	var ln net.Listener
	s.srv = &gortsplib.Server{
		Handler:     &handler{s: s},
		RTSPAddress: s.opts.Addr,
		// gortsplib v4.16.2 writes the NTP fraction in nanoseconds (gortsplib#869); the players send
		// RFC 3550 reports themselves.
		DisableRTCPSenderReports: true,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			ln = l
			return l, err
		},
	}
	if s.opts.UDPAddr != "off" {
		rtp, rtcp, err := udpPorts(s.opts.Addr, s.opts.UDPAddr)
		if err != nil {
			return err
		}
		s.srv.UDPRTPAddress, s.srv.UDPRTCPAddress = rtp, rtcp
	}
	if err := s.srv.Start(); err != nil {
		return fmt.Errorf("camsim: listen on %s: %w", s.opts.Addr, err)
	}
	s.addr = ln.Addr().String()
	s.ctx, s.cancel = context.WithCancel(ctx)
	for name, p := range s.paths {
		if err := p.start(); err != nil {
			s.cancel()
			s.srv.Close()
			return fmt.Errorf("camsim: path %s: %w", name, err)
		}
	}
	for _, p := range s.paths {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); p.run(s.ctx) }()
	}
	s.started = true
	s.log.Info("camera simulator listening", "addr", s.addr, "udp", s.srv.UDPRTPAddress, "paths", len(s.paths))
	return nil
}

// udpPorts returns the RTP and RTCP addresses: the given even port, or a free even pair.
func udpPorts(rtspAddr, udpAddr string) (string, string, error) {
	host, _, err := net.SplitHostPort(rtspAddr)
	if err != nil {
		return "", "", fmt.Errorf("camsim: address %q: %w", rtspAddr, err)
	}
	if udpAddr != "" {
		h, p, err := net.SplitHostPort(udpAddr)
		if err != nil {
			return "", "", fmt.Errorf("camsim: UDP address %q: %w", udpAddr, err)
		}
		var port int
		if _, err := fmt.Sscan(p, &port); err != nil || port%2 != 0 || port <= 0 || port > 65534 {
			return "", "", fmt.Errorf("camsim: UDP address %q: the RTP port must be even", udpAddr)
		}
		return net.JoinHostPort(h, p), net.JoinHostPort(h, fmt.Sprint(port+1)), nil
	}
	// Probe for a free even/odd pair; the ports are released just before the server binds them.
	for range 50 {
		a, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", "", fmt.Errorf("camsim: find UDP ports: %w", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if port%2 != 0 || port > 65534 {
			continue
		}
		b, err := net.ListenPacket("udp", net.JoinHostPort(host, fmt.Sprint(port+1)))
		if err != nil {
			continue
		}
		b.Close()
		return net.JoinHostPort(host, fmt.Sprint(port)), net.JoinHostPort(host, fmt.Sprint(port+1)), nil
	}
	return "", "", errors.New("camsim: no free UDP port pair")
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL is the address of a path, without credentials.
func (s *Server) URL(name string) string { return "rtsp://" + s.addr + "/" + name }

// Paths lists the served path names.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.paths))
	for n := range s.paths {
		out = append(out, n)
	}
	return out
}

// Close stops every camera and the server.
func (s *Server) Close() {
	s.mu.Lock()
	started := s.started
	s.started = false
	s.mu.Unlock()
	if !started {
		return
	}
	s.cancel()
	s.wg.Wait()
	s.srv.Close()
	s.mu.Lock()
	for _, p := range s.paths {
		p.close()
	}
	s.mu.Unlock()
}

func (s *Server) path(name string) (*path, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.paths[name]
	if !ok {
		return nil, fmt.Errorf("camsim: no path %q", name)
	}
	return p, nil
}

// SetFaults replaces the fault schedule of a path; periods count from now.
func (s *Server) SetFaults(name string, f Faults) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	p.setFaults(f)
	return nil
}

// DropSessions closes every session of a path now; clients must reconnect.
func (s *Server) DropSessions(name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	p.dropSessions()
	return nil
}

// Stall stops sending on a path for d from now, keeping connections open.
func (s *Server) Stall(name string, d time.Duration) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	p.stall(d)
	return nil
}

// Restart restarts a path's camera now: sessions close, and it comes back with a new SSRC and its RTP
// timestamps moved by jump.
func (s *Server) Restart(name string, jump time.Duration) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	p.requestRestart(jump)
	return nil
}

// JumpTimestamps moves a path's RTP timestamps by d from the next frame on, without a restart: the
// same SSRC and sequence numbers, a discontinuous media clock (as from a camera whose clock was reset).
func (s *Server) JumpTimestamps(name string, d time.Duration) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	p.requestJump(d)
	return nil
}

// Stats are counters of one path.
type Stats struct {
	Sessions       int
	FramesSent     uint64
	PacketsSent    uint64
	PacketsDropped uint64
	Restarts       int
	SSRC           uint32
}

// Stats reports a path's counters.
func (s *Server) Stats(name string) (Stats, error) {
	p, err := s.path(name)
	if err != nil {
		return Stats{}, err
	}
	return p.stats(), nil
}

// handler answers RTSP requests.
type handler struct{ s *Server }

func (h *handler) authorized(c *gortsplib.ServerConn, req *base.Request) bool {
	o := h.s.opts
	return o.User == "" || c.VerifyCredentials(req, o.User, o.Pass)
}

func (h *handler) stream(p string) (*gortsplib.ServerStream, *base.Response) {
	pa, err := h.s.path(strings.Trim(p, "/"))
	if err != nil {
		return nil, &base.Response{StatusCode: base.StatusNotFound}
	}
	st := pa.currentStream()
	if st == nil {
		// Restarting: like a rebooting camera, not there yet.
		return nil, &base.Response{StatusCode: base.StatusServiceUnavailable}
	}
	return st, &base.Response{StatusCode: base.StatusOK}
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.authorized(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	st, res := h.stream(ctx.Path)
	return res, st, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.authorized(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	st, res := h.stream(ctx.Path)
	return res, st, nil
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if p, err := h.s.path(strings.Trim(ctx.Session.SetuppedPath(), "/")); err == nil {
		p.addSession(ctx.Session)
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.s.mu.Lock()
	paths := make([]*path, 0, len(h.s.paths))
	for _, p := range h.s.paths {
		paths = append(paths, p)
	}
	h.s.mu.Unlock()
	for _, p := range paths {
		p.removeSession(ctx.Session)
	}
}
