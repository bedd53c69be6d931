package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"snowlight/store"
	"snowlight/testvideos"
	"snowlight/tracks"
	"snowlight/tracks/stitch"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stored is one final sighting read back from the store, with what the truth says it shows.
type stored struct {
	s      tracks.Sighting
	link   *tracks.Link // from the previous sighting of its trajectory
	traj   string
	person string // the true person, "" when the boxes follow nobody the truth lists
	pass   int    // index into Truth.Passes, -1 when unmapped
}

// scoreReport is a replay scored against truth.json.
type scoreReport struct {
	db                    *store.DB // the replay's store, read back
	start                 time.Time
	sightings             []*stored
	trueLinks, foundLinks int
	found                 int // true links found
	correct               int // found links joining two passes of the same person, in order
	misses, wrong, notes  []string
	unjudged              []string
	unjudgedWeak          []string        // unjudged links resting on appearance and timing alone
	identified            map[string]bool // enrolled person -> named on one of their sightings
	wrongNames            []string
	// For SNOWLIGHT_STITCH_DUMP: the true links as pairs of passes, each pass's rank among its
	// person's passes, and the cameras with passers-by of their own.
	truePairs  [][2]int
	rank       map[int]int
	background map[string]bool
}

func (r *scoreReport) recall() float64    { return ratio(r.found, r.trueLinks) }
func (r *scoreReport) precision() float64 { return ratio(r.correct, r.foundLinks) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func (r *scoreReport) String() string {
	var b strings.Builder
	named, local := 0, 0
	for _, s := range r.sightings {
		if s.s.PersonID() != "" {
			named++
		}
		if s.s.Evidence.Local != nil {
			local++
		}
	}
	fmt.Fprintf(&b, "sightings %d (named %d, by local templates %d), true links %d, found links %d (and %d unjudged): recall %.3f (%d/%d), "+
		"precision %.3f (%d/%d)\n", len(r.sightings), named, local, r.trueLinks, r.foundLinks, len(r.unjudged), r.recall(), r.found,
		r.trueLinks, r.precision(), r.correct, r.foundLinks)
	for _, s := range r.sightings {
		from := "-"
		if s.link != nil {
			from = fmt.Sprintf("%s (%.2f: transit %.1f face %.2f app %.2f id %.1f)", s.link.From, s.link.Confidence,
				s.link.Evidence.Transit, s.link.Evidence.Face, s.link.Evidence.Appearance, s.link.Evidence.Identity)
		}
		by := ""
		if s.s.Evidence.Local != nil {
			by = "local"
		}
		fmt.Fprintf(&b, "  %-28s %-6s %5.1f-%5.1fs truth %-6s named %-6q %-5s faces %2d traj %-28s <- %s\n", s.s.ID, s.s.Camera,
			s.s.Enter.Sub(r.start).Seconds(), s.s.Exit.Sub(r.start).Seconds(), dash(s.person), s.s.PersonID(), by, s.s.Evidence.FaceFrames,
			s.traj, from)
	}
	for _, l := range [][]string{r.misses, r.wrong, r.notes, r.unjudged, r.wrongNames} {
		for _, m := range l {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// score reads every sighting and link back from the store and compares them with the truth. A
// sighting shows the true person whose box its track's boxes overlap (IoU >= 0.3) in most of its
// frames; a sighting that follows nobody the truth lists (a background passer-by, a false detection)
// shows nobody. A true link is two consecutive passes of one person on different cameras; it is
// found when a stored link joins a sighting of the first pass to one of the second. A stored link is
// correct when both ends show the same person, the earlier pass first (or two pieces of one pass);
// a link between two sightings that follow nobody listed, on cameras whose background video has
// passers-by of its own, cannot be judged and is reported apart.
//
// Only the cameras replayed count (all when cams is empty): passes elsewhere are not in the truth.
func score(t *testing.T, db *store.DB, truth *testvideos.Truth, cams ...string) *scoreReport {
	t.Helper()
	if len(cams) > 0 {
		sub := *truth
		sub.Cameras, sub.Passes = nil, nil
		for _, c := range truth.Cameras {
			if slices.Contains(cams, c.ID) {
				sub.Cameras = append(sub.Cameras, c)
			}
		}
		for _, p := range truth.Passes {
			if slices.Contains(cams, p.Camera) {
				sub.Passes = append(sub.Passes, p)
			}
		}
		truth = &sub
	}
	ctx := context.Background()
	r := &scoreReport{db: db, start: truth.Start, identified: map[string]bool{}}
	for _, c := range truth.Cameras {
		steps, err := db.AtCamera(ctx, c.ID, truth.Start.Add(-1e9), truth.Start.Add(1e12), 0)
		require.NoError(t, err)
		for _, st := range steps {
			s, err := db.Sighting(ctx, st.Sighting)
			require.NoError(t, err)
			assert.True(t, s.Final, "sighting %s is still interim after the replay", s.ID)
			x := &stored{s: s, link: st.Link, traj: st.Trajectory, pass: -1}
			x.person, x.pass = truthOf(truth, &c, s)
			r.sightings = append(r.sightings, x)
		}
	}
	sort.Slice(r.sightings, func(i, j int) bool { return r.sightings[i].s.Enter.Before(r.sightings[j].s.Enter) })
	byID := map[string]*stored{}
	for _, s := range r.sightings {
		byID[s.s.ID] = s
	}

	// True links: consecutive passes of each person.
	type pair struct{ from, to int }
	truePairs := map[pair]bool{}
	passes := map[string][]int{}
	for i, p := range truth.Passes {
		passes[p.Person] = append(passes[p.Person], i)
	}
	order := map[int]int{} // pass -> its rank among the person's passes
	for _, list := range passes {
		slices.SortFunc(list, func(a, b int) int {
			return cmpFloat(truth.Passes[a].Enter, truth.Passes[b].Enter)
		})
		for k, i := range list {
			order[i] = k
			if k > 0 && truth.Passes[list[k-1]].Camera != truth.Passes[i].Camera {
				truePairs[pair{list[k-1], i}] = true
			}
		}
	}
	r.trueLinks = len(truePairs)
	r.rank = order
	for p := range truePairs {
		r.truePairs = append(r.truePairs, [2]int{p.from, p.to})
	}
	foundPairs := map[pair]bool{}
	background := map[string]bool{}
	for _, c := range truth.Cameras {
		background[c.ID] = c.BackgroundPeople
	}
	r.background = background
	for _, s := range r.sightings {
		if s.link == nil {
			continue
		}
		r.foundLinks++
		from := byID[s.link.From]
		if !assert.NotNil(t, from, "link %s -> %s: no such sighting", s.link.From, s.s.ID) {
			continue
		}
		desc := fmt.Sprintf("%s %s@%.0fs -> %s %s@%.0fs", dash(from.person), from.s.Camera, rel(truth, from.s), dash(s.person), s.s.Camera, rel(truth, s.s))
		switch {
		case from.person == "" && s.person == "" && background[from.s.Camera] && background[s.s.Camera]:
			// Two passers-by of a real background video: the truth does not say who they are.
			r.foundLinks--
			r.unjudged = append(r.unjudged, "unjudged link between background passers-by "+desc)
			if e := s.link.Evidence; e.Face+e.Identity < stitch.DefaultConfig().StrongEvidence {
				r.unjudgedWeak = append(r.unjudgedWeak, fmt.Sprintf("WEAK LINK between background passers-by %s (score %.2f: face %.2f appearance %.2f)",
					desc, s.link.Score, e.Face, e.Appearance))
			}
		case from.person == "" || from.person != s.person:
			r.wrong = append(r.wrong, "WRONG LINK "+desc)
		case order[from.pass] > order[s.pass]:
			r.wrong = append(r.wrong, "BACKWARD LINK "+desc)
		case from.pass == s.pass:
			r.correct++
			r.notes = append(r.notes, "link joins two sightings of one pass: "+desc)
		default:
			r.correct++
			foundPairs[pair{from.pass, s.pass}] = true
			if !truePairs[pair{from.pass, s.pass}] {
				r.notes = append(r.notes, "link skips a pass: "+desc)
			}
		}
	}
	for p := range truePairs {
		if foundPairs[p] {
			r.found++
			continue
		}
		a, b := truth.Passes[p.from], truth.Passes[p.to]
		r.misses = append(r.misses, fmt.Sprintf("MISSED %s %s@%.0fs -> %s@%.0fs", a.Person, a.Camera, a.Enter, b.Camera, b.Enter))
	}
	sort.Strings(r.misses)

	for _, s := range r.sightings {
		named := s.s.PersonID()
		if named == "" {
			continue
		}
		p := truth.Person(s.person)
		switch {
		case p != nil && p.Enrolled && named == p.ID:
			r.identified[p.ID] = true
		case p == nil:
			r.wrongNames = append(r.wrongNames, fmt.Sprintf("WRONG NAME: sighting %s of nobody listed was named %s", s.s.ID, named))
		default:
			r.wrongNames = append(r.wrongNames, fmt.Sprintf("WRONG NAME: %s's sighting %s was named %s", p.ID, s.s.ID, named))
		}
	}
	return r
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func rel(truth *testvideos.Truth, s tracks.Sighting) float64 {
	return s.Enter.Sub(truth.Start).Seconds()
}

// truthOf maps a sighting to the true person its boxes follow and that person's pass on the camera.
func truthOf(truth *testvideos.Truth, cam *testvideos.CameraTruth, s tracks.Sighting) (string, int) {
	votes := map[string]int{}
	for _, b := range s.Boxes {
		k := int(math.Round(b.Time.Sub(truth.Start).Seconds() * float64(cam.FPS))) // frame k+1
		if k < 0 || k >= len(cam.Frames) {
			continue
		}
		best, bestIoU := "", 0.3
		for _, o := range cam.Frames[k].Objects {
			ob := tracks.Box{X: float64(o.Box[0]), Y: float64(o.Box[1]), W: float64(o.Box[2]), H: float64(o.Box[3])}
			if iou := b.Box.IoU(ob); iou >= bestIoU {
				best, bestIoU = o.Person, iou
			}
		}
		votes[best]++
	}
	person, n := "", 0
	for p, v := range votes {
		if v > n || v == n && p < person {
			person, n = p, v
		}
	}
	if person == "" || 2*n < len(s.Boxes) {
		return "", -1
	}
	pass, overlap := -1, 0.0
	enter, exit := rel(truth, s), s.Exit.Sub(truth.Start).Seconds()
	for i, p := range truth.Passes {
		if p.Person != person || p.Camera != s.Camera {
			continue
		}
		if o := math.Min(exit, p.Exit) - math.Max(enter, p.Enter); pass < 0 || o > overlap {
			pass, overlap = i, o
		}
	}
	if pass < 0 {
		return "", -1
	}
	return person, pass
}
