package ingest

import (
	"context"
	"errors"
	"log/slog"
	"snowlight/camevent"
	"snowlight/media"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// State is where a worker is in its connect/reconnect cycle.
type State string

// Worker states.
const (
	StateConnecting   State = "connecting"   // first attempt, or retrying before the camera was ever online
	StateOnline       State = "online"       // access units are arriving
	StateReconnecting State = "reconnecting" // lost the camera, retrying with backoff
	StateOffline      State = "offline"      // unreachable for longer than OfflineAfter, still retrying
	StateUnauthorized State = "unauthorized" // the camera rejected the credentials; retrying slowly
	StateStopped      State = "stopped"      // Run returned
)

func allStatesList() []State {
	return []State{StateConnecting, StateOnline, StateReconnecting, StateOffline, StateUnauthorized, StateStopped}
}

// Event is something a later stage may act on (an offline camera becomes an alert). OversizedGOP
// means the GOP outgrew the ring's byte bound and was dropped (a camera that stopped sending keyframes,
// or one whose stream was tampered with); clips and new live viewers wait for the next keyframe.
type Event struct {
	Camera string
	Time   time.Time
	Kind   camevent.Kind
	Err    error // already redacted
}

// Report is the event as the alert rules take it and a message bus carries it: plain values.
func (e Event) Report() camevent.Event {
	ev := camevent.Event{Camera: e.Camera, Kind: e.Kind, Time: e.Time}
	if e.Err != nil {
		ev.Detail = e.Err.Error()
	}
	return ev
}

// ErrUnauthorized is wrapped by session errors when the camera rejects the credentials.
var ErrUnauthorized = errors.New("camera rejected the credentials (RTSP 401)")

// errStalled is the watchdog's verdict.
var errStalled = errors.New("no video for the stall timeout")

// Worker ingests one camera until its context ends.
type Worker struct {
	cfg    Config
	ring   *media.Ring
	frames chan Frame
	clock  *clock // guarded by clockMu: sessions hand it over one after another
	seq    atomic.Uint64

	clockMu sync.Mutex

	c counters

	mu       sync.Mutex
	state    State
	since    time.Time
	lastErr  string
	info     streamInfo
	sessions int
	running  bool
}

// counters are updated on the hot path without locks.
type counters struct {
	received, decoded, bytes, reconnects, decodeErrs, lost, jumps atomic.Uint64
	dropQueue, dropConsumer, dropNoKey                            atomic.Uint64
	afterReconnect                                                atomic.Uint64
	decodeNanos                                                   atomic.Int64
	lastFrame                                                     atomic.Int64 // unix nanos of the last access unit
}

// streamInfo is what the worker learned about the stream, guarded by Worker.mu.
type streamInfo struct {
	codec         string
	width, height int
	fps           float64
	gop           int
	clockSource   ClockSource
}

// NewWorker checks cfg and prepares a worker; Run starts it.
func NewWorker(cfg Config) (*Worker, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:   cfg,
		ring:  cfg.Ring,
		clock: newClock(cfg.JumpThreshold, cfg.MaxClockSkew),
		state: StateConnecting,
		since: time.Now(),
	}
	if w.ring == nil {
		w.ring = media.NewRing(cfg.RingDuration, cfg.RingBytes)
	}
	if cfg.Decode != DecodeNone {
		w.frames = make(chan Frame, cfg.FrameBuffer)
	}
	w.cfg.Log = cfg.Log.With("camera", cfg.Camera)
	return w, nil
}

// Camera is the camera id.
func (w *Worker) Camera() string { return w.cfg.Camera }

// Ring is the camera's compressed ring buffer.
func (w *Worker) Ring() *media.Ring { return w.ring }

// Frames delivers decoded frames; the receiver closes each. It is closed when Run returns, and nil in
// DecodeNone mode.
func (w *Worker) Frames() <-chan Frame { return w.frames }

// Run ingests the camera until ctx ends, reconnecting on every failure. It returns ctx's error.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("worker already ran")
	}
	w.running = true
	w.mu.Unlock()
	if w.cfg.Metrics != nil {
		w.cfg.Metrics.add(w)
		defer w.cfg.Metrics.remove(w)
	}
	defer func() {
		if w.frames != nil {
			close(w.frames)
		}
		w.setState(StateStopped, "")
	}()

	bo := backoff{min: w.cfg.MinBackoff, max: w.cfg.MaxBackoff}
	lastGood := time.Now() // the camera counts as reachable when the worker starts
	offlineReported := false
	log := w.cfg.Log
	log.Info("camera ingest starting", "url", Redact(w.cfg.URL), "transport", w.cfg.Transport, "decode", w.cfg.Decode)
	for {
		online, err := w.runSession(ctx)
		if ctx.Err() != nil {
			log.Info("camera ingest stopped")
			return ctx.Err()
		}
		if online {
			lastGood = time.Now()
			offlineReported = false
			bo.reset()
		}
		w.c.reconnects.Add(1)
		err = redactError(err)
		wait := bo.next()
		kind, state := camevent.Disconnected, StateReconnecting
		switch {
		case errors.Is(err, ErrUnauthorized):
			kind, state, wait = camevent.Unauthorized, StateUnauthorized, w.cfg.AuthRetry
		case errors.Is(err, errStalled):
			kind = camevent.Stalled
		case !w.everOnline():
			state = StateConnecting
		}
		if offlineReported {
			state = StateOffline
		}
		w.emit(kind, err)
		w.setState(state, err.Error())
		log.Warn("camera session ended", "err", err, "retry_in", wait.Round(time.Millisecond))

		// Wait for the retry, reporting the camera offline if the outage outlasts OfflineAfter meanwhile.
		retry := time.NewTimer(wait)
		for waiting := true; waiting; {
			var offline <-chan time.Time
			if !offlineReported {
				offline = time.After(time.Until(lastGood.Add(w.cfg.OfflineAfter)))
			}
			select {
			case <-ctx.Done():
				retry.Stop()
				log.Info("camera ingest stopped")
				return ctx.Err()
			case <-offline:
				offlineReported = true
				w.emit(camevent.Offline, err)
				if w.State() != StateUnauthorized {
					w.setState(StateOffline, err.Error())
				}
				log.Error("camera offline", "unreachable_for", time.Since(lastGood).Round(time.Second), "err", err)
			case <-retry.C:
				waiting = false
			}
		}
	}
}

func (w *Worker) everOnline() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions > 0
}

func (w *Worker) emit(kind camevent.Kind, err error) {
	if w.cfg.OnEvent != nil {
		w.cfg.OnEvent(Event{Camera: w.cfg.Camera, Time: time.Now(), Kind: kind, Err: err})
	}
}

func (w *Worker) setState(s State, lastErr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != s {
		w.state, w.since = s, time.Now()
	}
	if lastErr != "" {
		w.lastErr = lastErr
	}
}

// State is the worker's current state.
func (w *Worker) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// Status is a snapshot of a worker for status lines, probes and health checks.
type Status struct {
	Camera    string
	URL       string // redacted
	Transport Transport
	State     State
	Since     time.Time // when the state began
	LastError string    // redacted

	Codec         string
	Width, Height int
	FPS           float64 // measured from media time
	GOP           int     // access units from one keyframe to the next, last seen
	ClockSource   ClockSource

	FramesReceived    uint64 // access units received
	FramesDecoded     uint64
	DroppedQueue      uint64 // access units the decoder could not keep up with (skipped to the next keyframe)
	DroppedConsumer   uint64 // decoded frames the consumer did not take in time
	DroppedNoKeyframe uint64 // access units before a session's first keyframe
	Bytes             uint64
	Reconnects        uint64
	// FramesAfterReconnect counts access units received in sessions after the first.
	FramesAfterReconnect uint64
	DecodeErrors         uint64
	PacketsLost          uint64
	TimestampJumps       uint64
	DecodeTime           time.Duration
	LastFrame            time.Time
	Ring                 media.RingStats
}

// Status returns a snapshot of the worker.
func (w *Worker) Status() Status {
	w.mu.Lock()
	s := Status{
		Camera: w.cfg.Camera, URL: Redact(w.cfg.URL), Transport: w.cfg.Transport,
		State: w.state, Since: w.since, LastError: w.lastErr,
		Codec: w.info.codec, Width: w.info.width, Height: w.info.height, FPS: w.info.fps, GOP: w.info.gop,
		ClockSource: w.info.clockSource,
	}
	w.mu.Unlock()
	s.FramesReceived = w.c.received.Load()
	s.FramesDecoded = w.c.decoded.Load()
	s.DroppedQueue = w.c.dropQueue.Load()
	s.DroppedConsumer = w.c.dropConsumer.Load()
	s.DroppedNoKeyframe = w.c.dropNoKey.Load()
	s.Bytes = w.c.bytes.Load()
	s.Reconnects = w.c.reconnects.Load()
	s.FramesAfterReconnect = w.c.afterReconnect.Load()
	s.DecodeErrors = w.c.decodeErrs.Load()
	s.PacketsLost = w.c.lost.Load()
	s.TimestampJumps = w.c.jumps.Load()
	s.DecodeTime = time.Duration(w.c.decodeNanos.Load())
	if n := w.c.lastFrame.Load(); n != 0 {
		s.LastFrame = time.Unix(0, n)
	}
	s.Ring = w.ring.Stats()
	return s
}

// isUnauthorized recognises the camera's answer to wrong credentials.
func isUnauthorized(err error) bool {
	var bad liberrors.ErrClientBadStatusCode
	return errors.As(err, &bad) && bad.Code == base.StatusUnauthorized
}

func (w *Worker) logger() *slog.Logger { return w.cfg.Log }
