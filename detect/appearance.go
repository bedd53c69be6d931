package detect

import (
	"cmp"
	"context"
	"slices"
	"time"

	"gocv.io/x/gocv"
)

// AppearanceSchedule decides, per camera, which persons of a frame get an OSNet embedding. Embeddings
// serve two readers: the tracker's appearance cost, which only counts where an association is in doubt,
// and the sighting's average over the whole pass, which one embedding a second represents as well as
// one a frame. Embedding every person of every frame was over half of a busy camera's perception CPU
// (docs/BENCHMARKS.md), so a camera remembers the places where it saw people lately and when each was
// last embedded, and embeds a person when any of these holds:
//
//   - their box continues no remembered place: someone new (a new track needs an embedding to compare);
//   - no embedding was computed at their place for Every;
//   - their box is close to another person's, or to a place where someone was seen lately and is not
//     found now (hidden behind them): where people meet or cross, appearance keeps tracks apart;
//   - their detection is Confident, and its score times the IoU of their box with where their place was
//     heading is below Doubt: the tracker's fused cost (1 - IoU*score against its MatchIoU) may not keep
//     the track on IoU alone, and appearance decides;
//   - their box covers at least Larger times the area of the box last embedded there: a better view.
//
// Persons not embedded have a nil Appearance, which the tracker and the sighting skip. The zero value
// (Every 0) embeds every person of every frame.
type AppearanceSchedule struct {
	// Every is the longest a place goes without an embedding.
	Every time.Duration
	// Near is the closeness, in box sizes, at which two people count as close: their centres differ by at
	// most Near times their mean width across and Near times their mean height down. The tracker widens
	// its gates by its velocity uncertainty over the time between detections, so at a few detections a
	// second it weighs appearance between boxes about a box apart (docs/BENCHMARKS.md, "Perception",
	// measures the tracks this keeps on vtest).
	Near float32
	// Doubt is the score x IoU below which a detection's association with its place is in doubt: the
	// tracker's MatchIoU (0.5) on its fused cost. This side knows neither the tracker's Kalman
	// prediction nor its widened gates, only a constant-velocity guess from the place's last two boxes,
	// whose IoU is mostly the lower of the two, so the rule errs on the side of embedding.
	Doubt float32
	// Confident is the detection score from which the tracker weighs appearance at all (its HighScore
	// in pipeline.TrackerConfig): weaker detections only continue tracks on IoU, so their doubt is not
	// appearance's to settle, and they are embedded only by the other rules.
	Confident float32
	// Larger is the area ratio over the last embedded box that makes a view worth a new embedding.
	Larger float32
	// Follow is the IoU at which a box continues a place (against the place's predicted box).
	Follow float32
	// Forget drops a place not seen for this long. A person outside a motion-gated region pass is not
	// looked for until the next full pass, so Forget should cover the gate's FullPassEvery.
	Forget time.Duration
}

// DefaultAppearanceSchedule is the schedule cameras use, measured in docs/BENCHMARKS.md ("Perception").
func DefaultAppearanceSchedule() AppearanceSchedule {
	return AppearanceSchedule{Every: time.Second, Near: 1, Doubt: 0.5, Confident: 0.5, Larger: 1.5,
		Follow: 0.3, Forget: 2 * time.Second}
}

// AppearanceStats counts a camera's persons and why those embedded were, by the first rule that asked
// (in the order new, near, doubt, larger, due).
type AppearanceStats struct {
	Persons int `json:"persons"`
	New     int `json:"new"`
	Near    int `json:"near"`
	Doubt   int `json:"doubt"`
	Larger  int `json:"larger"`
	Due     int `json:"due"`
}

// Embedded is how many persons the schedule asked to embed.
func (s AppearanceStats) Embedded() int { return s.New + s.Near + s.Doubt + s.Larger + s.Due }

type reason int

const (
	skip reason = iota
	reasonNew
	reasonNear
	reasonDoubt
	reasonLarger
	reasonDue
)

func (r reason) String() string {
	return [...]string{"skip", "new", "near", "doubt", "larger", "due"}[r]
}

// place is where a camera saw a person lately.
type place struct {
	box    Box
	seen   time.Time
	vx, vy float32 // centre velocity in pixels per second, from the last two sightings

	embedded time.Time // zero: never
	area     float32   // of the box last embedded
}

// predict is the place's box moved on to t at its velocity.
func (pl *place) predict(t time.Time) Box {
	dt := float32(t.Sub(pl.seen).Seconds())
	return pl.box.Translate(pl.vx*dt, pl.vy*dt)
}

// appearanceMemory is one camera's schedule state. Not safe for concurrent use (one camera's frames come
// in order).
type appearanceMemory struct {
	cfg    AppearanceSchedule
	places []*place
	of     []*place // per person of the current frame, their place
	stats  AppearanceStats
}

func newAppearanceMemory(cfg AppearanceSchedule) *appearanceMemory {
	return &appearanceMemory{cfg: cfg}
}

// plan matches the frame's persons to places, records them, and returns why each is to be embedded
// (skip for those that are not). A nil memory embeds everyone.
func (m *appearanceMemory) plan(t time.Time, persons []Person) []reason {
	want := make([]reason, len(persons))
	if m == nil {
		for i := range want {
			want[i] = reasonDue
		}
		return want
	}
	m.stats.Persons += len(persons)
	if m.cfg.Every <= 0 {
		for i := range want {
			want[i] = reasonDue
		}
		m.stats.Due += len(persons)
		return want
	}

	// Forget places long unseen, and frames from the past (a camera restarted its clock).
	kept := m.places[:0]
	for _, pl := range m.places {
		if age := t.Sub(pl.seen); age >= 0 && age <= m.cfg.Forget {
			kept = append(kept, pl)
		}
	}
	clear(m.places[len(kept):])
	m.places = kept

	// Greedy matching, best IoU first, against where each place was heading.
	pred := make([]Box, len(m.places))
	for k, pl := range m.places {
		pred[k] = pl.predict(t)
	}
	type pair struct {
		i, k int
		iou  float32
	}
	var pairs []pair
	for i := range persons {
		for k := range pred {
			if iou := persons[i].Box.IoU(pred[k]); iou >= m.cfg.Follow && iou > 0 {
				pairs = append(pairs, pair{i, k, iou})
			}
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(b.iou, a.iou) })
	m.of = m.of[:0]
	for range persons {
		m.of = append(m.of, nil)
	}
	matchIoU := make([]float32, len(persons))
	taken := make([]bool, len(m.places))
	for _, p := range pairs {
		if m.of[p.i] != nil || taken[p.k] {
			continue
		}
		m.of[p.i], taken[p.k], matchIoU[p.i] = m.places[p.k], true, p.iou
	}

	// Close to another person, or to someone seen lately and not found now.
	others := make([]Box, 0, len(persons)+len(m.places))
	for i := range persons {
		others = append(others, persons[i].Box)
	}
	for k := range m.places {
		if !taken[k] {
			others = append(others, pred[k])
		}
	}
	for i := range persons {
		b := persons[i].Box
		pl := m.of[i]
		switch {
		case pl == nil:
			want[i] = reasonNew
		case m.near(i, b, others):
			want[i] = reasonNear
		case persons[i].Score >= m.cfg.Confident && persons[i].Score*matchIoU[i] < m.cfg.Doubt:
			want[i] = reasonDoubt
		case pl.area > 0 && b.Area() >= m.cfg.Larger*pl.area:
			want[i] = reasonLarger
		case pl.embedded.IsZero() || t.Sub(pl.embedded) >= m.cfg.Every:
			want[i] = reasonDue
		}
		m.count(want[i])
	}

	// Places follow their persons; persons without one start one.
	for i := range persons {
		b := persons[i].Box
		pl := m.of[i]
		if pl == nil {
			pl = &place{box: b, seen: t}
			m.places = append(m.places, pl)
			m.of[i] = pl
			continue
		}
		if dt := float32(t.Sub(pl.seen).Seconds()); dt > 0 {
			pl.vx = (b.X + b.W/2 - pl.box.X - pl.box.W/2) / dt
			pl.vy = (b.Y + b.H/2 - pl.box.Y - pl.box.H/2) / dt
		}
		pl.box, pl.seen = b, t
	}
	return want
}

// near reports whether box b of person i is close to any other box of others (whose first entries are
// the frame's persons, in order).
func (m *appearanceMemory) near(i int, b Box, others []Box) bool {
	near := m.cfg.Near
	for j, o := range others {
		if j == i {
			continue
		}
		dx := (b.X + b.W/2) - (o.X + o.W/2)
		dy := (b.Y + b.H/2) - (o.Y + o.H/2)
		if abs32(dx) <= near*(b.W+o.W)/2 && abs32(dy) <= near*(b.H+o.H)/2 {
			return true
		}
	}
	return false
}

func (m *appearanceMemory) count(r reason) {
	switch r {
	case reasonNew:
		m.stats.New++
	case reasonNear:
		m.stats.Near++
	case reasonDoubt:
		m.stats.Doubt++
	case reasonLarger:
		m.stats.Larger++
	case reasonDue:
		m.stats.Due++
	}
}

// embedded records that person i of the frame last planned got an embedding at t.
func (m *appearanceMemory) embedded(i int, t time.Time, b Box) {
	if m == nil || i >= len(m.of) || m.of[i] == nil {
		return
	}
	m.of[i].embedded, m.of[i].area = t, b.Area()
}

// embedAppearance computes the OSNet embeddings of the persons the camera's memory asks for (all of them
// when mem is nil) and returns how many it computed. p.mu must be held.
func (p *Pipeline) embedAppearance(ctx context.Context, frame gocv.Mat, t time.Time, persons []Person,
	mem *appearanceMemory) (int, error) {
	if p.appEmb == nil {
		return 0, nil
	}
	n := 0
	for i, r := range mem.plan(t, persons) {
		if r == skip {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		v, err := p.appEmb.EmbedPerson(frame, persons[i].Box)
		if err != nil {
			continue // a sliver at the border: no appearance, the box still counts
		}
		n++
		persons[i].Appearance = v
		mem.embedded(i, t, persons[i].Box)
	}
	return n, nil
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
