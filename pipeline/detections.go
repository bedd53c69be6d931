package pipeline

import (
	"math"
	"slices"

	"snowlight/detect"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// toDetections maps one frame's perception result onto the tracker's input. Every person box becomes
// a detection; each face joins the person whose head it sits at, carrying its watch-list candidates
// with the threshold a match to each must reach (below-threshold ones too: a face that keeps coming close is
// evidence, and one that resembles someone else is evidence against). A face with no person around
// it is dropped: the tracker follows people, and a face alone has no box to follow.
func toDetections(res detect.Result, rank ranker) []tracks.Detection {
	dets := make([]tracks.Detection, len(res.Persons))
	for i, p := range res.Persons {
		dets[i] = tracks.Detection{Box: box(p.Box), Score: float64(p.Score), Appearance: p.Appearance}
	}
	for fi, pi := range pairFaces(res.Persons, res.Faces) {
		if pi < 0 {
			continue
		}
		dets[pi].Face = rank.face(&res.Faces[fi])
	}
	return dets
}

// TrackFace is what a tracker learns from one detected face: its box, score and quality and, when the
// face was embedded and its quality is above zero, its embedding and its watch-list candidates (the
// keep most similar people). The edge (faces on person tracks) and analyze (face tracks) both feed
// trackers through it, so one rule names people in both.
func TrackFace(f *detect.Face, matcher *watchlist.Matcher, keep int) *tracks.Face {
	return ranker{matcher: matcher, keep: keep}.face(f)
}

func (r ranker) face(f *detect.Face) *tracks.Face {
	q := float64(f.Quality.Value())
	tf := &tracks.Face{Box: box(f.Box), Score: float64(f.Score), Quality: max(q, unratedQuality)}
	if q > 0 { // a face rated useless (or too small to embed) tells nothing about who it is
		tf.Embedding, tf.Matches = f.Embedding, r.candidates(f)
	}
	return tf
}

// unratedQuality stands for zero quality towards the tracker, which reads zero as "not rated": such a
// face ranks below every rated view of the person.
const unratedQuality = 1e-3

func box(b detect.Box) tracks.Box {
	return tracks.Box{X: float64(b.X), Y: float64(b.Y), W: float64(b.W), H: float64(b.H)}
}

// pairFaces returns, for each face, the index of the person it belongs to (-1 for none). A face
// belongs to a person when its centre lies inside the person's box, horizontally within the middle
// and vertically in the top part, where a head is; of several such people the one whose head
// position is nearest wins, each person taking at most one face, closest pairs first.
func pairFaces(persons []detect.Person, faces []detect.Face) []int {
	type pair struct {
		face, person int
		cost         float64
	}
	var pairs []pair
	for fi, f := range faces {
		fx, fy := float64(f.Box.X+f.Box.W/2), float64(f.Box.Y+f.Box.H/2)
		for pi, p := range persons {
			b := box(p.Box)
			if b.W <= 0 || b.H <= 0 {
				continue
			}
			// Normalised offsets from where the head's centre is expected: horizontally centred,
			// about a tenth of the height down from the top of the box.
			dx := (fx - (b.X + b.W/2)) / b.W
			dy := (fy - (b.Y + 0.1*b.H)) / b.H
			if math.Abs(dx) > 0.5 || fy < b.Y || dy > 0.35 {
				continue
			}
			// A face much wider than the body cannot be this person's.
			if float64(f.Box.W) > b.W {
				continue
			}
			pairs = append(pairs, pair{fi, pi, math.Hypot(dx, dy)})
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		switch {
		case a.cost < b.cost:
			return -1
		case a.cost > b.cost:
			return 1
		}
		return 0
	})
	out := make([]int, len(faces))
	for i := range out {
		out[i] = -1
	}
	taken := make([]bool, len(persons))
	for _, p := range pairs {
		if out[p.face] >= 0 || taken[p.person] {
			continue
		}
		out[p.face], taken[p.person] = p.person, true
	}
	return out
}

// ranker turns a face into watch-list candidates.
type ranker struct {
	// matcher is the current watch list (nil: none); with it each face is ranked against every
	// person, so the track sees the runner-up too. Without it the detector's nearest person is the
	// only candidate.
	matcher *watchlist.Matcher
	// keep is how many of the most similar identities each face passes on.
	keep int
}

func (r ranker) candidates(f *detect.Face) []tracks.FaceMatch {
	if r.matcher != nil && len(f.Embedding) > 0 {
		ranked := r.matcher.Rank(f.Embedding)
		out := make([]tracks.FaceMatch, 0, min(len(ranked), r.keep))
		for _, c := range ranked[:min(len(ranked), r.keep)] {
			out = append(out, tracks.FaceMatch{PersonID: c.Person.ID, Similarity: float64(c.Similarity),
				Threshold: float64(c.Threshold), Margin: float64(c.Margin)})
		}
		return out
	}
	if n := f.Nearest; n != nil {
		return []tracks.FaceMatch{{PersonID: n.PersonID, Similarity: float64(n.Similarity),
			Threshold: float64(n.Threshold)}}
	}
	return nil
}
