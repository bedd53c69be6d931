package rules

import (
	"time"

	"snowlight/geo"
	"snowlight/tracks"
)

// Foot is where a person stands in the image: the bottom centre of their box. Zones are drawn on
// the ground, and a box's centre moves with the person's height and pose.
func Foot(b tracks.Box) (x, y float64) { return b.X + b.W/2, b.Y + b.H }

// Stay is a stretch of time a track spent inside a zone.
type Stay struct {
	From, To time.Time
}

// Duration is how long the stay lasted.
func (s Stay) Duration() time.Duration { return s.To.Sub(s.From) }

// Stays returns the stretches during which the foot point of the track's boxes (in time order) was
// inside the zone polygon. Stepping out for no longer than grace (a box or two drifting over the
// line, a person stepping back from the kerb) does not end a stay; a stay ends at the last box inside
// before a longer absence. Boxes are thinned evenly over a long sighting, so the gap between two
// boxes inside is not an absence.
func Stays(boxes []tracks.TimedBox, zone [][2]float64, grace time.Duration) []Stay {
	var out []Stay
	var cur *Stay
	var outSince time.Time // first box outside since the current stay's last box inside
	for _, b := range boxes {
		if x, y := Foot(b.Box); geo.InPolygon(zone, x, y) {
			switch {
			case cur == nil:
				out = append(out, Stay{From: b.Time, To: b.Time})
				cur = &out[len(out)-1]
			case !outSince.IsZero() && b.Time.Sub(outSince) > grace:
				out = append(out, Stay{From: b.Time, To: b.Time})
				cur = &out[len(out)-1]
			default:
				cur.To = b.Time
			}
			outSince = time.Time{}
			continue
		}
		if cur != nil && outSince.IsZero() {
			outSince = b.Time
		}
	}
	return out
}

// longestStay is the longest of the stays, the latest on a tie; ok is false when there are none.
func longestStay(stays []Stay) (Stay, bool) {
	if len(stays) == 0 {
		return Stay{}, false
	}
	best := stays[0]
	for _, s := range stays[1:] {
		if s.Duration() >= best.Duration() {
			best = s
		}
	}
	return best, true
}
