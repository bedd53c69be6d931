package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"snowlight/camevent"
	"sync"
	"sync/atomic"
	"time"
)

// ProbeOptions configure Probe.
type ProbeOptions struct {
	URL       string
	Transport Transport
	// Frames stops the probe after this many decoded frames (100 when Duration is 0).
	Frames int
	// Duration runs the probe this long, reconnecting through outages.
	Duration time.Duration
	// Timeout bounds a Frames probe (30 s).
	Timeout time.Duration
	Log     *slog.Logger
}

// ProbeReport is what an installer needs to know about a camera. JSON keys are part of the interface.
type ProbeReport struct {
	URL                  string   `json:"url"` // redacted
	Codec                string   `json:"codec"`
	Width                int      `json:"width"`
	Height               int      `json:"height"`
	FPS                  float64  `json:"fps"`
	GOP                  int      `json:"gop"`
	Frames               uint64   `json:"frames"` // decoded
	DecodeMsPerFrame     float64  `json:"decode_ms_per_frame"`
	Reconnects           uint64   `json:"reconnects"`
	FramesAfterReconnect uint64   `json:"frames_after_reconnect"`
	Errors               []string `json:"errors"` // distinct, redacted, oldest first
	Clock                string   `json:"clock"`  // rtcp or arrival
	PacketsLost          uint64   `json:"packets_lost"`
	DecodeErrors         uint64   `json:"decode_errors"`
	Seconds              float64  `json:"seconds"`
}

// ErrNothingDecoded means the probe ended without a single decoded frame.
var ErrNothingDecoded = errors.New("nothing could be decoded")

// maxProbeErrors bounds the error list of a long probe through many outages.
const maxProbeErrors = 20

// Probe connects to a camera, decodes, and reports what it found. It returns an error wrapping
// ErrNothingDecoded (and the camera's last error) when no frame was decoded; a camera that rejects the
// credentials ends the probe at once.
func Probe(ctx context.Context, o ProbeOptions) (ProbeReport, error) {
	if o.Frames <= 0 && o.Duration <= 0 {
		o.Frames = 100
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	limit := o.Timeout
	if o.Duration > 0 {
		limit = o.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	var (
		mu       sync.Mutex
		errs     []string
		seen     = map[string]bool{}
		fatalErr error
		decoded  atomic.Int64
	)
	cfg := Config{
		Camera: "probe", URL: o.URL, Transport: o.Transport, Log: o.Log,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: 5 * time.Second,
		OnEvent: func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Err != nil && !seen[e.Err.Error()] && len(errs) < maxProbeErrors {
				seen[e.Err.Error()] = true
				errs = append(errs, e.Err.Error())
			}
			switch {
			case e.Kind == camevent.Unauthorized:
				fatalErr = e.Err
				cancel()
			case e.Kind == camevent.Disconnected && o.Duration <= 0 && decoded.Load() == 0:
				// A frame count probe is a quick check: a camera that cannot be reached fails it at once.
				fatalErr = e.Err
				cancel()
			}
		},
	}
	w, err := NewWorker(cfg)
	if err != nil {
		return ProbeReport{URL: Redact(o.URL)}, err
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range w.Frames() {
			f.Close()
			if n := decoded.Add(1); o.Frames > 0 && n >= int64(o.Frames) && o.Duration <= 0 {
				cancel()
			}
		}
	}()
	w.Run(ctx)
	<-done

	s := w.Status()
	r := ProbeReport{
		URL: s.URL, Codec: s.Codec, Width: s.Width, Height: s.Height, FPS: s.FPS, GOP: s.GOP,
		Frames: s.FramesDecoded, Reconnects: s.Reconnects, FramesAfterReconnect: s.FramesAfterReconnect,
		Clock: string(s.ClockSource), PacketsLost: s.PacketsLost, DecodeErrors: s.DecodeErrors,
		Seconds: time.Since(start).Seconds(),
	}
	if s.FramesDecoded > 0 {
		r.DecodeMsPerFrame = float64(s.DecodeTime) / float64(time.Millisecond) / float64(s.FramesDecoded)
	}
	mu.Lock()
	r.Errors = append([]string{}, errs...)
	last := fatalErr
	mu.Unlock()
	if r.Frames == 0 {
		if last == nil && s.LastError != "" {
			last = errors.New(s.LastError)
		}
		if last == nil {
			last = fmt.Errorf("no video within %v", limit)
		}
		return r, fmt.Errorf("%w from %s: %v", ErrNothingDecoded, r.URL, last)
	}
	return r, nil
}
