package stitch

import (
	"fmt"
	"math"
)

// Reason says why the stitcher did not make a link.
type Reason string

// Why a pair of sightings cannot be, or was not made, one person's consecutive steps.
const (
	// Unreachable: no configured or learned route within MaxHops (or an unknown edge without the
	// face or identity that could vouch for it).
	Unreachable Reason = "unreachable"
	// OutsideWindow: the transit time is outside the route's window and its slack.
	OutsideWindow Reason = "transit outside the window"
	// TooFast: over an unknown edge, faster than MaxSpeed.
	TooFast Reason = "faster than a person walks"
	// OtherIdentity: the two carry different watch-list identities.
	OtherIdentity Reason = "different watch-list identities"
	// SameCameraAtOnce: two tracks on one camera at the same time are two people.
	SameCameraAtOnce Reason = "on one camera at the same time"
	// TwoPlacesAtOnce: seen at the same time by cameras too far apart to see one person.
	TwoPlacesAtOnce Reason = "in two places at once"
	// WeakEvidence: appearance and timing alone, below WeakThreshold.
	WeakEvidence Reason = "appearance alone below the weak-link bar"
	// AmbiguousReturn: back to the camera it left with neither face evidence nor an appearance
	// margin of ReturnMargin over every alternative.
	AmbiguousReturn Reason = "return to the same camera without face evidence or appearance margin"
	// Bridged: the link skips cameras on which a chain of sightings explains the way better.
	Bridged Reason = "a chain through the cameras in between explains it"
	// Conflict: the trajectory would hold two sightings that cannot be one person (on one camera at
	// once, or in two places at once).
	Conflict Reason = "the trajectory would hold two people"
	// LostToBetter: the global assignment gave one of its ends a better link.
	LostToBetter Reason = "another link scored better"
)

// atOnce returns why one person cannot be seen by both cameras at the same moment, "" when one can
// (cameras whose views may overlap).
func (c *Config) atOnce(topo *Topology, a, b string) Reason {
	if a == b {
		return SameCameraAtOnce
	}
	if d := topo.Distance(a, b); math.IsNaN(d) || d > 2*c.ViewRadius {
		return TwoPlacesAtOnce
	}
	return ""
}

// overlap reports whether two sightings were in view at the same time (touching ends do not count:
// a track handed over at one instant is not two people).
func overlap(a, b *summary) bool {
	return a.enter.Before(b.exit) && b.enter.Before(a.exit)
}

// alt is a sighting (by its node's sequence number, 0 for none) that could be linked with another
// one, and how alike in appearance they are.
type alt struct {
	seq uint64
	sim float64
}

// alts keeps the two most alike alternatives on one side of a sighting, the better first, so that
// the best other than any one given sighting is at hand. Numbers rather than pointers: a forgotten
// sighting must not stay reachable through its neighbours.
type alts [2]alt

// add records (or updates) an alternative and reports whether the pair kept changed.
func (a *alts) add(seq uint64, sim float64) bool {
	old := *a
	switch {
	case a[0].seq == seq:
		a[0].sim = sim
	case a[1].seq == seq:
		a[1].sim = sim
	case a[1].seq == 0 || sim > a[1].sim:
		a[1] = alt{seq, sim}
	default:
		return false
	}
	if a[1].seq != 0 && (a[0].seq == 0 || a[1].sim > a[0].sim) {
		a[0], a[1] = a[1], a[0]
	}
	return *a != old
}

// best returns the highest similarity of an alternative other than except.
func (a *alts) best(except uint64) (float64, bool) {
	for _, x := range a {
		if x.seq != 0 && x.seq != except {
			return x.sim, true
		}
	}
	return 0, false
}

// gated reports whether a candidate link needs the return margin: it goes back to the camera it
// left and rests on appearance alone.
func (c *cand) gated() bool { return c.weak && c.from.camera == c.to.camera }

// eligible returns why a candidate may not take part in the assignment now, "" when it may, with a
// detail for the human reading the decision. The return margin is judged against the alternatives
// known now, so a lookalike arriving later can withdraw the link while it is open.
func (st *Stitcher) eligible(c *cand) (Reason, string) {
	if c.score < c.bar {
		return WeakEvidence, fmt.Sprintf("score %.2f below %.2f", c.score, c.bar)
	}
	if !c.gated() {
		return "", ""
	}
	if !c.parts.HasAppearance {
		return AmbiguousReturn, "no appearance to compare"
	}
	in, okIn := c.to.altIn.best(c.from.seq)
	out, okOut := c.from.altOut.best(c.to.seq)
	other := math.Inf(-1)
	if okIn {
		other = in
	}
	if okOut {
		other = max(other, out)
	}
	if m := c.parts.AppearanceSimilarity - other; m < st.cfg.ReturnMargin {
		return AmbiguousReturn, fmt.Sprintf("appearance %.3f, an alternative %.3f: margin %.3f below %.3f",
			c.parts.AppearanceSimilarity, other, m, st.cfg.ReturnMargin)
	}
	return "", ""
}
