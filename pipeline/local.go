package pipeline

import (
	"slices"
	"time"

	"snowlight/tracks"
	"snowlight/watchlist"
)

// LocalConfig tunes LocalNamer.
type LocalConfig struct {
	// MinQuality is the least quality of a named track's best face for the track's face template to
	// join the person's local template: the enrolment bar (detect.DefaultEnrolmentRules), so only
	// tracks that hold a face fit to be an enrolment photo teach.
	MinQuality float64
	// Window is how long before and after a track was seen its face template serves the person's
	// local template and its name keeps the person off other tracks (0: without limit).
	Window time.Duration
}

// DefaultLocalConfig is what the edge and analyze use: the enrolment bar, and half an hour either
// side.
func DefaultLocalConfig() LocalConfig {
	return LocalConfig{MinQuality: 0.3, Window: 30 * time.Minute}
}

// LocalNamer names the tracks of one camera or one video that the enrolled photos leave unnamed by
// the faces the photos did name there. A track the photos named, holding a face fit to enrol from,
// lends its face template (tracks.Evidence.Template) to the person's local template, the mean of
// such tracks' templates; a track the photos left unnamed is named when its face template reaches
// that local template under the person's threshold and margin (watchlist.Matcher.MatchWith, which
// weighs every other person's photos and local template as well). Enrolment photos come from another
// time, light and camera; the person's own faces in this footage do not, and their small, blurred or
// turned faces elsewhere in it resemble these far more than the photos (docs/ACCURACY.md, "Local
// templates"). What keeps an error from spreading:
//
//   - only names the photos gave teach; a local name never does (one step, no chains);
//   - a track that any frame of names someone else (a face at or above another person's threshold)
//     is not named;
//   - one person is not in two places: a person named by the photos on a track overlapping in time
//     is no candidate, and when two overlapping tracks would both take the same person neither does;
//   - what was learnt serves only within Window of when it was seen.
//
// Not safe for concurrent use.
type LocalNamer struct {
	cfg LocalConfig
	// taught are the tracks the photos named, by sighting id; cands the local candidates of the others.
	taught map[string]*teacher
	cands  map[string]*candidate
}

// teacher is a track the photos named: its person and span, and its face template when good enough
// to teach.
type teacher struct {
	person      string
	enter, exit time.Time
	template    []float32
}

// candidate is who a local template would name a track before the one-person-one-place rule among
// the candidates themselves.
type candidate struct {
	enter, exit time.Time
	match       *watchlist.Match
	from        []string
}

// NewLocalNamer returns a LocalNamer that has learnt nothing yet.
func NewLocalNamer(cfg LocalConfig) *LocalNamer {
	return &LocalNamer{cfg: cfg, taught: map[string]*teacher{}, cands: map[string]*candidate{}}
}

// Learn takes the latest sighting of a track (a live track is learnt again as it goes on): one the
// enrolled photos named teaches; one they name no longer (or a local template named) teaches nothing
// from now on.
func (n *LocalNamer) Learn(s tracks.Sighting) {
	person := s.PersonID()
	if person == "" || s.Evidence.Local != nil {
		delete(n.taught, s.ID)
		return
	}
	t := &teacher{person: person, enter: s.Enter, exit: s.Exit}
	if s.Face != nil && s.Face.Quality >= n.cfg.MinQuality && len(s.Evidence.Template) > 0 {
		t.template = s.Evidence.Template
	}
	n.taught[s.ID] = t
	delete(n.cands, s.ID)
}

// Teachers is how many tracks teach a local template now.
func (n *LocalNamer) Teachers() int {
	c := 0
	for _, t := range n.taught {
		if t.template != nil {
			c++
		}
	}
	return c
}

// Forget drops what was seen before t less the window: a camera keeps what it learnt that long only.
func (n *LocalNamer) Forget(t time.Time) {
	if n.cfg.Window <= 0 {
		return
	}
	t = t.Add(-n.cfg.Window)
	for id, x := range n.taught {
		if x.exit.Before(t) {
			delete(n.taught, id)
		}
	}
	for id, x := range n.cands {
		if x.exit.Before(t) {
			delete(n.cands, id)
		}
	}
}

// Consider works out who a local template would name track s, as the tracker reports it (unnamed by
// the photos; m is the watch list, nil for none), and remembers it for Name. It is called again as a
// live track goes on.
func (n *LocalNamer) Consider(m *watchlist.Matcher, s tracks.Sighting) {
	delete(n.cands, s.ID)
	if m == nil || s.PersonID() != "" || len(s.Evidence.Template) == 0 {
		return
	}
	local, from := n.templates(s)
	if len(local) == 0 {
		return
	}
	accepted, _ := m.MatchWith(s.Evidence.Template, local)
	if accepted == nil || !accepted.Local {
		return
	}
	for _, c := range s.Evidence.Candidates {
		if c.PersonID != accepted.PersonID && c.Above > 0 {
			return // a face of the track reached someone else's threshold
		}
	}
	n.cands[s.ID] = &candidate{enter: s.Enter, exit: s.Exit, match: accepted, from: from[accepted.PersonID]}
}

// Name returns the local name Consider found for s, nil when there is none or another track at the
// same time was found to be the same person.
func (n *LocalNamer) Name(s tracks.Sighting) (*watchlist.Match, *tracks.LocalName) {
	c := n.cands[s.ID]
	if c == nil {
		return nil, nil
	}
	for id, o := range n.cands {
		if id != s.ID && o.match.PersonID == c.match.PersonID && overlap(o.enter, o.exit, c.enter, c.exit) {
			return nil, nil
		}
	}
	return c.match, &tracks.LocalName{Similarity: float64(c.match.Similarity), Threshold: float64(c.match.Threshold),
		From: slices.Clone(c.from)}
}

// templates are the local templates that may name s, by person, and the sightings behind each: the
// mean of the teaching tracks' templates within the window of s, leaving out anyone the photos named
// on a track overlapping s.
func (n *LocalNamer) templates(s tracks.Sighting) (map[string][]float32, map[string][]string) {
	elsewhere := map[string]bool{}
	for _, t := range n.taught {
		if overlap(t.enter, t.exit, s.Enter, s.Exit) {
			elsewhere[t.person] = true
		}
	}
	from := map[string][]string{}
	for id, t := range n.taught {
		if t.template != nil && !elsewhere[t.person] && n.within(t, s) {
			from[t.person] = append(from[t.person], id)
		}
	}
	out := make(map[string][]float32, len(from))
	for p, ids := range from {
		slices.Sort(ids)
		embs := make([][]float32, len(ids))
		for i, id := range ids {
			embs[i] = n.taught[id].template
		}
		out[p] = watchlist.Mean(embs)
	}
	return out, from
}

// within reports whether teacher t was seen within the window of s.
func (n *LocalNamer) within(t *teacher, s tracks.Sighting) bool {
	w := n.cfg.Window
	return w <= 0 || !t.exit.Before(s.Enter.Add(-w)) && !t.enter.After(s.Exit.Add(w))
}

// overlap reports whether two spans of time share a moment.
func overlap(a0, a1, b0, b1 time.Time) bool { return !a1.Before(b0) && !b1.Before(a0) }
