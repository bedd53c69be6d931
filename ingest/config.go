package ingest

import (
	"fmt"
	"log/slog"
	"net/url"
	"snowlight/media"
	"time"
)

// Transport is the RTP transport a worker asks the camera for.
type Transport string

// Transports.
const (
	TCP Transport = "tcp" // interleaved in the RTSP connection: the default, it crosses NAT and firewalls
	UDP Transport = "udp"
)

// DecodeMode says which pictures a worker decodes into Frames.
type DecodeMode string

// Decode modes.
const (
	DecodeAll       DecodeMode = "all"       // every picture
	DecodeSampled   DecodeMode = "sampled"   // about SampleFPS pictures a second, decoding only what references need
	DecodeKeyframes DecodeMode = "keyframes" // keyframes only: nothing else is decoded
	DecodeNone      DecodeMode = "none"      // ring buffer only
)

// Config configures a Worker. Zero values take the documented defaults.
type Config struct {
	Camera    string    // camera id: the label on metrics, logs and frames
	URL       string    // rtsp://[user:password@]host[:port]/path; never logged unredacted
	Transport Transport // TCP by default

	Decode        DecodeMode // DecodeAll by default
	SampleFPS     float64    // for DecodeSampled
	DecodeThreads int        // libavcodec threads per camera; 1 by default (cheapest with many cameras)
	// MaxWidth and MaxHeight bound the picture size accepted from the camera (4096x4096 by default).
	MaxWidth, MaxHeight int
	// FrameBuffer is how many decoded frames wait for the consumer before new ones are dropped (4).
	FrameBuffer int

	// Ring receives the compressed stream; a ring of RingDuration (30 s) and RingBytes (64 MiB) is made
	// when nil.
	Ring         *media.Ring
	RingDuration time.Duration
	RingBytes    int

	ReadTimeout  time.Duration // RTSP request timeout (10 s)
	StallTimeout time.Duration // watchdog: connected but no access unit for this long is a failure (5 s)
	OfflineAfter time.Duration // unreachable this long is reported as offline (30 s)
	MinBackoff   time.Duration // first reconnect delay (500 ms)
	MaxBackoff   time.Duration // reconnect delay cap (30 s)
	// AuthRetry is the delay after the camera rejected the credentials: retrying sooner cannot help and
	// can lock the account (5 min).
	AuthRetry time.Duration
	// JumpThreshold is how far RTP time may disagree with arrival time before it counts as a jump (5 s).
	JumpThreshold time.Duration
	// MaxClockSkew is how far the camera's sender-report clock may be from ours before it is ignored
	// in favour of arrival time (10 s).
	MaxClockSkew time.Duration

	Metrics *Metrics     // optional
	Log     *slog.Logger // optional
	// OnEvent, when set, is called for state changes (online, stalled, offline, ...). It must not block.
	OnEvent func(Event)
}

func (c *Config) setDefaults() error {
	if c.Camera == "" {
		return fmt.Errorf("camera id is empty")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("camera %s: parse URL: %w", c.Camera, redactError(err))
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("camera %s: URL %s: scheme must be rtsp or rtsps", c.Camera, Redact(c.URL))
	}
	if u.Host == "" {
		return fmt.Errorf("camera %s: URL %s has no host", c.Camera, Redact(c.URL))
	}
	switch c.Transport {
	case "":
		c.Transport = TCP
	case TCP, UDP:
	default:
		return fmt.Errorf("camera %s: transport %q: want tcp or udp", c.Camera, c.Transport)
	}
	switch c.Decode {
	case "":
		c.Decode = DecodeAll
	case DecodeAll, DecodeKeyframes, DecodeNone:
	case DecodeSampled:
		if c.SampleFPS <= 0 {
			return fmt.Errorf("camera %s: sampled decoding needs a positive sample fps, got %g", c.Camera, c.SampleFPS)
		}
	default:
		return fmt.Errorf("camera %s: decode mode %q: want all, sampled, keyframes or none", c.Camera, c.Decode)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RingDuration, 30*time.Second)
	def(&c.ReadTimeout, 10*time.Second)
	def(&c.StallTimeout, 5*time.Second)
	def(&c.OfflineAfter, 30*time.Second)
	def(&c.MinBackoff, 500*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	def(&c.AuthRetry, 5*time.Minute)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.RingBytes <= 0 {
		c.RingBytes = 64 << 20
	}
	if c.DecodeThreads <= 0 {
		c.DecodeThreads = 1
	}
	if c.FrameBuffer <= 0 {
		c.FrameBuffer = 4
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}
