package stitch

import (
	"cmp"
	"slices"

	"snowlight/tracks"
)

// Considered is a link the stitcher weighed into a sighting and what became of it: the reasons a
// human confirming or questioning a trajectory needs.
type Considered struct {
	Link   tracks.Link
	Chosen bool
	// Refused says why the link is not the sighting's ("" when chosen); Detail gives the figures
	// or the sightings behind it.
	Refused Reason
	Detail  string
}

// Explain lists the links weighed into a remembered sighting whose score reached Threshold, best
// first. Pairs ruled out before scoring (by timing, identity, or two sightings at once) are not
// listed.
func (st *Stitcher) Explain(sightingID string) ([]Considered, bool) {
	n, ok := st.nodes[sightingID]
	if !ok {
		return nil, false
	}
	out := make([]Considered, 0, len(n.in))
	for _, c := range n.in {
		k := Considered{Link: *st.toLink(c), Chosen: n.pred == c, Refused: c.refused, Detail: c.detail}
		if k.Chosen {
			k.Refused, k.Detail = "", ""
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Considered) int {
		if c := cmp.Compare(b.Link.Score, a.Link.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Link.From, b.Link.From)
	})
	return out, true
}
