package stitch

import (
	"fmt"
	"math"
	"time"

	"snowlight/tracks"
)

// Config tunes the stitcher's evidence model. Every term is a log-likelihood ratio of "same person"
// against "someone else"; a link's score is their sum and its confidence the logistic of the score.
type Config struct {
	// Prior is the log-odds before any evidence; Threshold the least score of a link.
	Prior, Threshold float64
	// A link whose face and identity evidence together add less than StrongEvidence rests on
	// appearance and timing alone; it needs WeakThreshold (at least Threshold). Clothes are shared
	// by strangers and change with viewpoint and light, so they must clear a higher bar than a face.
	StrongEvidence, WeakThreshold float64
	// ReturnMargin is how much more alike in appearance (cosine) a weak link back to the camera
	// it left must be than any other sighting either end could be linked with. One camera sees
	// strangers from one viewpoint in one light, which makes them look more alike to each other
	// than to anyone elsewhere.
	ReturnMargin float64
	// ViewRadius is how far from its position (metres) a camera sees a person: two sightings that
	// overlap in time on cameras more than twice that apart are two people.
	ViewRadius float64

	// TransitInside is the evidence of a transit inside the window. Outside it, evidence falls
	// linearly to TransitInside-4 at the edge of the slack (Slack times the window's width, at
	// least SlackMin) and beyond that the pair is impossible.
	TransitInside float64
	Slack         float64
	SlackMin      time.Duration

	// Face: clamp(FaceSlope*(cosine-FaceCenter), ±FaceMax). Strong: a clear same-face adds several
	// units, a clear other face vetoes in practice.
	FaceSlope, FaceCenter, FaceMax float64
	// Appearance: the same for whole-body embeddings, which change with viewpoint and light and so
	// weigh less.
	AppearanceSlope, AppearanceCenter, AppearanceMax float64
	// MaxHops is how many edges a link may span: 2 follows a person whom one camera on the way
	// missed. Each camera passed unseen costs HopPenalty and widens the window by HopDwell.
	MaxHops    int
	HopPenalty float64
	HopDwell   time.Duration
	// IdentityMatch is added when both sightings carry the same watch-list identity; two different
	// identities make the pair impossible.
	IdentityMatch float64

	// Unknown edges (cameras that are not neighbours) are considered only with learning enabled,
	// within UnknownMaxTransit, at a speed no higher than MaxSpeed m/s, and only when both sightings
	// have faces or identities: timing cannot vouch for them.
	UnknownMaxTransit time.Duration
	MaxSpeed          float64

	// Revise is how long after a sighting entered its incoming link may still be given to a better
	// candidate; Retain is how long after a sighting left it may still gain a successor.
	Revise, Retain time.Duration
	// LearnConfidence is the least confidence of a link whose transit teaches the topology.
	LearnConfidence float64
}

// DefaultConfig returns settings for the MobileFaceNet face and OSNet appearance embeddings of the
// detect package: a transit in the window plus a clearly matching face links, a window alone never
// does, and appearance alone links only a close match over a direct transit. The weak bar (0.75)
// sits above the most appearance alone can score through a camera that missed the person (prior -1,
// transit 1 - hop penalty 1, appearance 1.5 = 0.5): clothes alone never bridge an unseen camera. A
// face counts as evidence from a cosine of about 0.47 (StrongEvidence 1), several standard
// deviations above two strangers' faces.
func DefaultConfig() Config {
	return Config{
		Prior: -1, Threshold: 0.5,
		StrongEvidence: 1, WeakThreshold: 0.75, ReturnMargin: 0.1, ViewRadius: 25,
		TransitInside: 1, Slack: 0.25, SlackMin: 5 * time.Second,
		FaceSlope: 15, FaceCenter: 0.40, FaceMax: 6,
		AppearanceSlope: 6, AppearanceCenter: 0.65, AppearanceMax: 1.5,
		MaxHops: 2, HopPenalty: 1, HopDwell: 30 * time.Second,
		IdentityMatch:     3,
		UnknownMaxTransit: 10 * time.Minute, MaxSpeed: 3,
		Revise: 2 * time.Minute, Retain: 15 * time.Minute,
		LearnConfidence: 0.95,
	}
}

func (c Config) validate() error {
	switch {
	case c.Slack < 0 || c.SlackMin < 0:
		return fmt.Errorf("stitch: negative transit slack")
	case c.FaceSlope < 0 || c.FaceMax < 0 || c.AppearanceSlope < 0 || c.AppearanceMax < 0 || c.IdentityMatch < 0:
		return fmt.Errorf("stitch: evidence weights must not be negative")
	case c.Revise < 0 || c.Retain < 0 || c.UnknownMaxTransit < 0:
		return fmt.Errorf("stitch: negative durations")
	case c.MaxHops < 1 || c.HopPenalty < 0 || c.HopDwell < 0:
		return fmt.Errorf("stitch: MaxHops must be at least 1, HopPenalty and HopDwell not negative")
	case c.MaxSpeed <= 0:
		return fmt.Errorf("stitch: MaxSpeed %v must be positive", c.MaxSpeed)
	case c.LearnConfidence <= 0 || c.LearnConfidence > 1:
		return fmt.Errorf("stitch: LearnConfidence %v outside (0,1]", c.LearnConfidence)
	case !(c.WeakThreshold >= c.Threshold):
		return fmt.Errorf("stitch: WeakThreshold %v below Threshold %v", c.WeakThreshold, c.Threshold)
	case !(c.StrongEvidence >= 0) || !(c.ReturnMargin >= 0) || !(c.ViewRadius >= 0):
		return fmt.Errorf("stitch: StrongEvidence, ReturnMargin and ViewRadius must not be negative")
	}
	return nil
}

// summary is what the stitcher keeps of a sighting.
type summary struct {
	id, camera  string
	enter, exit time.Time
	face, app   []float32
	person      string
}

func summarise(s tracks.Sighting) summary {
	return summary{id: s.ID, camera: s.Camera, enter: s.Enter, exit: s.Exit,
		face: unit(s.FaceEmbedding), app: unit(s.AppearanceEmbedding), person: s.PersonID()}
}

// unit returns v scaled to length 1 (nil for an empty or zero vector), so that comparisons are
// plain dot products.
func unit(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return nil
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// score returns the evidence that q continues p, or why the pair is impossible.
func (c *Config) score(topo *Topology, p, q *summary) (tracks.LinkParts, float64, Reason) {
	var parts tracks.LinkParts
	if p.id == q.id {
		return parts, 0, Unreachable
	}
	transit := q.enter.Sub(p.exit)
	parts.TransitSeconds = transit.Seconds()
	parts.Prior = c.Prior
	if transit < 0 {
		if r := c.atOnce(topo, p.camera, q.camera); r != "" {
			return parts, 0, r
		}
	}
	if p.person != "" && q.person != "" {
		if p.person != q.person {
			return parts, 0, OtherIdentity
		}
		parts.Identity = c.IdentityMatch
	}
	// Timing first: it rules out most pairs before any embedding is compared.
	lo, hi, hops, known := topo.Route(p.camera, q.camera, c.MaxHops, c.HopDwell)
	parts.Hops = hops
	switch {
	case known:
		slack := max(time.Duration(c.Slack*float64(hi-lo)), c.SlackMin)
		switch {
		case transit >= lo && transit <= hi:
			parts.Transit = c.TransitInside
		case transit < lo-slack || transit > hi+slack:
			return parts, 0, OutsideWindow
		default:
			out := lo - transit
			if transit > hi {
				out = transit - hi
			}
			parts.Transit = c.TransitInside - 4*float64(out)/float64(slack)
		}
		parts.Transit -= c.HopPenalty * float64(hops-1)
	case topo.learn.Enabled:
		strong := len(p.face) > 0 && len(p.face) == len(q.face) || parts.Identity > 0
		if !strong || transit < 0 || transit > c.UnknownMaxTransit {
			return parts, 0, Unreachable
		}
		if d := topo.Distance(p.camera, q.camera); math.IsNaN(d) || d > c.MaxSpeed*transit.Seconds() {
			return parts, 0, TooFast
		}
	default:
		return parts, 0, Unreachable
	}
	if len(p.face) > 0 && len(p.face) == len(q.face) {
		parts.HasFace = true
		parts.FaceSimilarity = dot(p.face, q.face)
		parts.Face = clamp(c.FaceSlope*(parts.FaceSimilarity-c.FaceCenter), c.FaceMax)
	}
	// Skip the costlier appearance comparison when even a perfect one could not lift the pair to
	// a link: timing or face has already ruled it out, so it is no one's alternative either.
	sum := parts.Prior + parts.Transit + parts.Face + parts.Identity
	if sum+c.AppearanceMax < c.Threshold {
		return parts, sum - c.AppearanceMax, ""
	}
	if len(p.app) > 0 && len(p.app) == len(q.app) {
		parts.HasAppearance = true
		parts.AppearanceSimilarity = dot(p.app, q.app)
		parts.Appearance = clamp(c.AppearanceSlope*(parts.AppearanceSimilarity-c.AppearanceCenter), c.AppearanceMax)
	}

	total := parts.Prior + parts.Transit + parts.Face + parts.Appearance + parts.Identity
	return parts, total, ""
}

// weak reports whether a link rests on appearance and timing alone.
func (c *Config) weak(parts *tracks.LinkParts) bool {
	return parts.Face+parts.Identity < c.StrongEvidence
}

// bar is the least score of a link with this evidence.
func (c *Config) bar(parts *tracks.LinkParts) float64 {
	if c.weak(parts) {
		return c.WeakThreshold
	}
	return c.Threshold
}

func clamp(v, limit float64) float64 { return math.Max(-limit, math.Min(limit, v)) }

// dot is the dot product of two vectors of equal length, in four independent sums so the loop
// pipelines.
func dot(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return float64(s0 + s1 + s2 + s3)
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
