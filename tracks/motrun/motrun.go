// Package motrun runs trackers over MOTChallenge detection files, so that the tracker can be scored
// on public benchmarks with the metrics of package mot.
package motrun

import (
	"context"
	"fmt"
	"math"
	"time"

	"snowlight/tracks"
	"snowlight/tracks/mot"
)

// Updater is what a per-camera tracker offers: one call per processed frame.
type Updater interface {
	Update(t time.Time, dets []tracks.Detection) []tracks.Track
}

// FrameTime is the wall time of a frame number at fps frames per second; frame 1 is at a fixed
// instant (any does).
func FrameTime(frame int, fps float64) time.Time {
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return epoch.Add(time.Duration(math.Round(float64(frame-1) / fps * float64(time.Second))))
}

// PublicDetectionsConfig is the tracker configured for the MOTChallenge public Faster R-CNN
// detections that SORT's repository ships: their scores are already cut at about 0.5, so ByteTrack's
// high band starts at 0.8 and only clear views start tracks or recover lost ones (buffered-IoU
// recovery on). Measured on TUD-Stadtmitte in docs/ACCURACY.md.
func PublicDetectionsConfig() tracks.Config {
	cfg := tracks.DefaultConfig()
	cfg.HighScore, cfg.NewTrackScore = 0.8, 0.9
	cfg.RecoverBuffer, cfg.RecoverIoU = 0.2, 0.2
	return cfg
}

// Options tune Run.
type Options struct {
	// FPS is the sequence's frame rate; frame f is at (f-1)/FPS seconds.
	FPS float64
	// MinScore drops detection rows scoring below it before the tracker sees them.
	MinScore float64
	// DetectionBoxes reports each track with the box of the detection it matched instead of the
	// filtered box.
	DetectionBoxes bool
}

// Run feeds u every frame from 1 to the last frame of dets (frames without detections included,
// as the detector still ran on them) and returns the tracks it reports as MOTChallenge result rows.
func Run(ctx context.Context, u Updater, dets []mot.Row, opt Options) ([]mot.Row, error) {
	if !(opt.FPS > 0) || math.IsInf(opt.FPS, 0) {
		return nil, fmt.Errorf("frame rate %v must be positive", opt.FPS)
	}
	frames := mot.ByFrame(dets)
	if len(frames) == 0 {
		return nil, nil
	}
	last := frames[len(frames)-1].Number
	var out []mot.Row
	k := 0
	for f := 1; f <= last; f++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("frame %d: %w", f, err)
		}
		var in []tracks.Detection
		for k < len(frames) && frames[k].Number < f {
			k++ // frame numbers below 1 are not processed
		}
		if k < len(frames) && frames[k].Number == f {
			for _, r := range frames[k].Rows {
				if r.Conf < opt.MinScore {
					continue
				}
				in = append(in, tracks.Detection{Box: tracks.Box{X: r.X, Y: r.Y, W: r.W, H: r.H}, Score: r.Conf})
			}
		}
		for _, t := range u.Update(FrameTime(f, opt.FPS), in) {
			b := t.Box
			if opt.DetectionBoxes && t.Detection >= 0 && t.Detection < len(in) {
				b = in[t.Detection].Box
			}
			out = append(out, mot.Row{Frame: f, ID: int(t.ID), X: b.X, Y: b.Y, W: b.W, H: b.H, Conf: 1})
		}
	}
	return out, nil
}
