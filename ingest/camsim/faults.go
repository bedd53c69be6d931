package camsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Faults are the misbehaviours a simulated camera shows on a schedule. The zero value is a healthy camera.
type Faults struct {
	// DropSessionsEvery closes every session of the path this often (a camera or network that kicks
	// viewers).
	DropSessionsEvery time.Duration
	// StallEvery and StallFor stop sending for StallFor, this often: the connection stays up, no video
	// flows, and media time keeps running (frames due meanwhile are lost, as with a frozen encoder).
	StallEvery, StallFor time.Duration
	// LossPercent drops this share of RTP packets at random (0..100).
	LossPercent float64
	// RestartEvery restarts the camera this often: sessions close, the stream comes back with a new SSRC,
	// new sequence numbers and its RTP timestamps moved by TimestampJump (as after a reboot).
	RestartEvery  time.Duration
	TimestampJump time.Duration
	// NoKeyframes stops sending keyframes: a session that had one gets only the pictures that refer to
	// it, for ever (a broken encoder, a hostile camera, or a man in the middle of plain RTSP).
	NoKeyframes bool
	// PadBytes adds a filler NAL unit of this many bytes to every access unit: a high bitrate at any
	// frame rate, as constant-bitrate cameras pad (0..MaxPadBytes).
	PadBytes int
}

// MaxPadBytes bounds PadBytes well below the 8 MiB access unit RTSP receivers accept.
const MaxPadBytes = 4 << 20

// ParseFaults reads the flag form: comma-separated key=value pairs, e.g.
// "drop-every=30s,stall-every=60s,stall-for=5s,loss=2,restart-every=2m,ts-jump=1h,no-keyframes=true,pad=100000".
func ParseFaults(s string) (Faults, error) {
	var f Faults
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Faults{}, fmt.Errorf("fault %q: want key=value", kv)
		}
		var err error
		switch k {
		case "drop-every":
			f.DropSessionsEvery, err = positiveDuration(v)
		case "stall-every":
			f.StallEvery, err = positiveDuration(v)
		case "stall-for":
			f.StallFor, err = positiveDuration(v)
		case "loss":
			f.LossPercent, err = strconv.ParseFloat(v, 64)
			if err == nil && (f.LossPercent < 0 || f.LossPercent > 100 || f.LossPercent != f.LossPercent) {
				err = fmt.Errorf("must be between 0 and 100")
			}
		case "restart-every":
			f.RestartEvery, err = positiveDuration(v)
		case "ts-jump":
			f.TimestampJump, err = time.ParseDuration(v)
		case "no-keyframes":
			f.NoKeyframes, err = strconv.ParseBool(v)
		case "pad":
			f.PadBytes, err = strconv.Atoi(v)
			if err == nil && (f.PadBytes < 0 || f.PadBytes > MaxPadBytes) {
				err = fmt.Errorf("must be between 0 and %d bytes", MaxPadBytes)
			}
		default:
			return Faults{}, fmt.Errorf("fault %q: unknown key %q (want drop-every, stall-every, stall-for, loss, restart-every, ts-jump, no-keyframes, pad)", kv, k)
		}
		if err != nil {
			return Faults{}, fmt.Errorf("fault %s: %w", k, err)
		}
	}
	if (f.StallEvery > 0) != (f.StallFor > 0) {
		return Faults{}, fmt.Errorf("faults: stall-every and stall-for go together")
	}
	if f.StallEvery > 0 && f.StallFor >= f.StallEvery {
		return Faults{}, fmt.Errorf("faults: stall-for %v must be shorter than stall-every %v", f.StallFor, f.StallEvery)
	}
	return f, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%v must be positive", d)
	}
	return d, nil
}
