package detect

import (
	"fmt"
	"image"
	"time"

	"gocv.io/x/gocv"
)

// GateConfig tunes the motion gate.
type GateConfig struct {
	// Width is the width of the low-resolution copy motion is measured on.
	Width int
	// DiffThreshold is the grey-level change (0..255) a pixel needs to count as moving; below it lie sensor
	// noise and compression flicker.
	DiffThreshold float32
	// MinArea is the smallest moving blob, as a fraction of the frame area, that opens the gate.
	MinArea float64
	// FullPassEvery forces a full detection pass this often, so a person standing still is not lost.
	FullPassEvery time.Duration
	// Hold keeps the detectors running on the boxes of recent detections for this long after motion there
	// stopped, so a person who pauses stays covered between full passes.
	Hold time.Duration
	// FullAbove makes the pass a full-frame one when the moving regions cover more than this fraction of the
	// frame: cropping then saves nothing.
	FullAbove float64
}

// DefaultGateConfig is the configuration measured in docs/BENCHMARKS.md.
func DefaultGateConfig() GateConfig {
	return GateConfig{Width: 160, DiffThreshold: 18, MinArea: 0.0015, FullPassEvery: 2 * time.Second,
		Hold: time.Second, FullAbove: 0.5}
}

// Gate decides, per camera, whether a frame needs the detectors and where. It compares each frame it is
// shown with the previous one at low resolution (frame differencing), so its cost is a resize, a blur and
// a few comparisons of a 160-pixel-wide image. Not safe for concurrent use: one Gate per camera.
type Gate struct {
	cfg      GateConfig
	prev     gocv.Mat // blurred grey low-resolution previous frame
	lastFull time.Time
	size     image.Point // full-resolution frame size prev belongs to

	small, grey, diff, mask, kernel gocv.Mat
}

// NewGate creates a gate; Close frees it.
func NewGate(cfg GateConfig) *Gate {
	return &Gate{cfg: cfg, prev: gocv.NewMat(), small: gocv.NewMat(), grey: gocv.NewMat(), diff: gocv.NewMat(),
		mask: gocv.NewMat(), kernel: gocv.GetStructuringElement(gocv.MorphRect, image.Pt(5, 5))}
}

// Close frees the gate's buffers.
func (g *Gate) Close() error {
	for _, m := range []*gocv.Mat{&g.prev, &g.small, &g.grey, &g.diff, &g.mask, &g.kernel} {
		m.Close()
	}
	return nil
}

// Decision is the gate's verdict on one frame.
type Decision struct {
	Run     bool  // run the detectors at all
	Full    bool  // on the whole frame (else on Regions)
	Regions []Box // moving regions in frame pixels
}

// Check looks at a BGR frame taken at wall time t.
func (g *Gate) Check(frame gocv.Mat, t time.Time) (Decision, error) {
	if frame.Empty() {
		return Decision{}, fmt.Errorf("motion gate: empty frame")
	}
	fw, fh := frame.Cols(), frame.Rows()
	w := min(g.cfg.Width, fw)
	h := max(1, fh*w/fw)
	gocv.Resize(frame, &g.small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	if g.small.Channels() == 3 {
		gocv.CvtColor(g.small, &g.grey, gocv.ColorBGRToGray)
	} else {
		g.small.CopyTo(&g.grey)
	}
	gocv.GaussianBlur(g.grey, &g.grey, image.Pt(5, 5), 0, 0, gocv.BorderDefault)

	first := g.prev.Empty() || g.size != image.Pt(fw, fh)
	due := g.lastFull.IsZero() || t.Sub(g.lastFull) >= g.cfg.FullPassEvery || t.Before(g.lastFull)
	var d Decision
	if !first {
		gocv.AbsDiff(g.grey, g.prev, &g.diff)
		gocv.Threshold(g.diff, &g.mask, g.cfg.DiffThreshold, 255, gocv.ThresholdBinary)
		gocv.Dilate(g.mask, &g.mask, g.kernel)
		contours := gocv.FindContours(g.mask, gocv.RetrievalExternal, gocv.ChainApproxSimple)
		minArea := g.cfg.MinArea * float64(w*h)
		sx, sy := float32(fw)/float32(w), float32(fh)/float32(h)
		var covered float64
		for i := 0; i < contours.Size(); i++ {
			c := contours.At(i)
			r := gocv.BoundingRect(c)
			if float64(r.Dx()*r.Dy()) < minArea {
				continue
			}
			covered += float64(r.Dx() * r.Dy())
			d.Regions = append(d.Regions, Box{float32(r.Min.X) * sx, float32(r.Min.Y) * sy,
				float32(r.Dx()) * sx, float32(r.Dy()) * sy})
		}
		contours.Close()
		d.Run = len(d.Regions) > 0
		d.Full = covered > g.cfg.FullAbove*float64(w*h)
	}
	g.grey.CopyTo(&g.prev)
	g.size = image.Pt(fw, fh)
	if first || due {
		d.Run, d.Full = true, true
	}
	if d.Full {
		g.lastFull = t
	}
	return d, nil
}
