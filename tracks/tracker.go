package tracks

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"snowlight/tracks/assign"
)

// State is where a track is in its life.
type State int

const (
	// Tentative tracks have been seen too few times to be trusted; they are not reported.
	Tentative State = iota
	// Confirmed tracks were matched in the latest update.
	Confirmed
	// Lost tracks were confirmed but missed lately; they may be found again until LostMaxAge.
	Lost
	// Removed tracks are over.
	Removed
)

func (s State) String() string {
	switch s {
	case Tentative:
		return "tentative"
	case Confirmed:
		return "confirmed"
	case Lost:
		return "lost"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Track is a tracker's view of one person at the time of an update.
type Track struct {
	ID    uint64
	State State
	// Box is the filtered box (for lost tracks, the predicted one).
	Box Box
	// Score is the score of the detection last matched.
	Score float64
	// Detection is the index of the detection matched in this update, -1 when none.
	Detection int
	Start     time.Time // first detection
	LastSeen  time.Time // latest matched detection
	Hits      int
	// PersonID is the watch-list identity the track's face evidence supports, "" when none.
	PersonID string
}

// Tracker follows the people of one camera. It is not safe for concurrent use: each camera's
// pipeline owns its tracker.
type Tracker struct {
	cfg     Config
	log     *slog.Logger
	nextID  uint64
	tracks  []*track // every track not yet removed, in creation order
	updates int
	last    time.Time
	step    float64 // reference intervals since the previous update
	ended   []Sighting
}

type track struct {
	id              uint64
	state           State
	everConfirmed   bool
	kf              kalman
	at              time.Time // time of the filter state
	score           float64
	start, lastSeen time.Time
	lastBox         Box // the last matched detection's box
	hits, streak    int
	appearance      []float32 // smoothed, L2-normalised
	ev              *evidence
	sighting        *sightingBuilder
	det             int
}

// NewTracker returns a tracker configured by cfg.
func NewTracker(cfg Config) (*Tracker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Tracker{cfg: cfg, log: log.With("camera", cfg.Camera)}, nil
}

// Update advances every track to time now and associates the frame's detections with them. It
// returns the confirmed tracks matched in this frame, by id. Times should not go backwards; a
// time earlier than the previous update's is treated as equal to it. Detections with a non-finite or
// empty box are ignored.
func (tr *Tracker) Update(now time.Time, dets []Detection) []Track {
	if tr.updates > 0 && now.Before(tr.last) {
		now = tr.last
	}
	first := tr.updates == 0
	tr.step = 0
	if !first {
		tr.step = float64(now.Sub(tr.last)) / float64(tr.cfg.FrameInterval)
	}
	tr.updates++
	tr.last = now
	for _, t := range tr.tracks {
		t.det = -1
		if t.state == Lost {
			// ByteTrack freezes the height velocity of tracks it cannot see.
			t.kf.mean[7] = 0
		}
		t.kf.predict(float64(now.Sub(t.at)) / float64(tr.cfg.FrameInterval))
		t.at = now
	}

	var high, low []int
	for i := range dets {
		d := &dets[i]
		if !d.Box.valid() || math.IsNaN(d.Score) {
			continue
		}
		switch {
		case d.Score >= tr.cfg.HighScore:
			high = append(high, i)
		case d.Score > tr.cfg.LowScore:
			low = append(low, i)
		}
	}
	var pool, tentative []*track
	for _, t := range tr.tracks {
		if t.state == Tentative {
			tentative = append(tentative, t)
		} else {
			pool = append(pool, t)
		}
	}

	// 1. Confirmed and lost tracks with the confident detections.
	cost := tr.costs(pool, dets, high, tr.cfg.FuseScore, tr.cfg.Appearance, 0)
	uTracks, uHigh := tr.match(now, pool, dets, high, cost, 1-tr.cfg.MatchIoU)

	// 2. Tracks that were confirmed until now with the weak detections: occluded people score low.
	var stillTracked []*track
	for _, t := range uTracks {
		if t.state == Confirmed {
			stillTracked = append(stillTracked, t)
		}
	}
	cost = tr.costs(stillTracked, dets, low, false, false, 0)
	uTracks, _ = tr.match(now, stillTracked, dets, low, cost, 1-tr.cfg.LowMatchIoU)
	for _, t := range uTracks {
		t.state = Lost
		t.streak = 0
	}

	// 3. Tentative tracks with the confident detections left over.
	cost = tr.costs(tentative, dets, uHigh, tr.cfg.FuseScore, false, 0)
	uTentative, uHigh := tr.match(now, tentative, dets, uHigh, cost, 1-tr.cfg.TentativeMatchIoU)
	for _, t := range uTentative {
		t.streak = 0 // confirmation needs consecutive matches
		if now.Sub(t.lastSeen) > tr.cfg.TentativeMaxAge {
			t.state = Removed
		}
	}

	// 4. Lost tracks with the confident detections still left, on buffered boxes: a person coming out
	// of an occlusion is rarely where the drifting prediction put them, but close to it or to where
	// they were last seen.
	if tr.cfg.RecoverBuffer > 0 {
		var lost []*track
		for _, t := range tr.tracks {
			if t.state == Lost && t.det < 0 {
				lost = append(lost, t)
			}
		}
		cost = tr.recoverCosts(lost, dets, uHigh)
		_, uHigh = tr.match(now, lost, dets, uHigh, cost, 1-tr.cfg.RecoverIoU)
	}

	// 5. New tracks.
	for _, i := range uHigh {
		d := &dets[i]
		if d.Score < tr.cfg.NewTrackScore {
			continue
		}
		tr.nextID++
		t := &track{
			id: tr.nextID, state: Tentative, kf: newKalman(d.Box), at: now, start: now,
			ev: newEvidence(tr.cfg.Identity), sighting: newSightingBuilder(tr.cfg.MaxBoxes),
		}
		tr.tracks = append(tr.tracks, t)
		tr.hit(now, t, d, i)
		// The people already in view when the camera starts are confirmed at once, as in ByteTrack.
		if first || tr.cfg.ConfirmHits <= 1 {
			t.confirm()
		}
	}

	for _, t := range tr.tracks {
		if t.state == Lost && now.Sub(t.lastSeen) > tr.cfg.LostMaxAge {
			t.state = Removed
		}
	}
	tr.removeDuplicates()
	tr.sweep(now)

	var out []Track
	for _, t := range tr.tracks {
		if t.state == Confirmed && t.det >= 0 {
			out = append(out, t.view())
		}
	}
	slices.SortFunc(out, func(a, b Track) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// match assigns tracks to the detections idx under cost (tracks x idx) and applies the matches. It
// returns the tracks and detection indexes left unmatched.
func (tr *Tracker) match(now time.Time, tracks []*track, dets []Detection, idx []int, cost [][]float64, limit float64) ([]*track, []int) {
	if len(tracks) == 0 || len(idx) == 0 {
		return tracks, idx
	}
	pairs := assign.WithLimit(cost, limit)
	used := make([]bool, len(idx))
	var uTracks []*track
	for r, c := range pairs {
		if c == assign.Unassigned {
			uTracks = append(uTracks, tracks[r])
			continue
		}
		used[c] = true
		tr.hit(now, tracks[r], &dets[idx[c]], idx[c])
	}
	var uDets []int
	for c, i := range idx {
		if !used[c] {
			uDets = append(uDets, i)
		}
	}
	return uTracks, uDets
}

// hit applies a matched detection to a track.
func (tr *Tracker) hit(now time.Time, t *track, d *Detection, i int) {
	if t.hits > 0 {
		t.kf.update(d.Box)
	}
	t.det = i
	t.lastBox = d.Box
	t.score = d.Score
	t.lastSeen = now
	t.hits++
	t.streak++
	switch t.state {
	case Lost:
		t.state = Confirmed
	case Tentative:
		if t.streak >= tr.cfg.ConfirmHits {
			t.confirm()
		}
	}
	if len(d.Appearance) > 0 {
		t.appearance = smooth(t.appearance, d.Appearance, tr.cfg.AppearanceMomentum)
	}
	t.ev.add(now, d.Face)
	t.sighting.add(now, t.kf.box(), d, func(kind string, err error) {
		tr.log.Warn("encode crop", "kind", kind, "track", t.id, "err", err)
	})
}

func (t *track) confirm() {
	t.state = Confirmed
	t.everConfirmed = true
}

// costs returns the association cost of tracks against the detections idx: 1 - IoU, optionally
// weighted by detection score and lowered by appearance similarity. Both boxes of a pair are first
// widened by GateSigma standard deviations of the track's velocity times the reference intervals the
// step since the previous update exceeds one by (and by buf of their size when buf > 0): a young
// track does not know its person's speed yet, and a camera detecting a few times a second sees people
// move by more than half a box between detections.
func (tr *Tracker) costs(tracks []*track, dets []Detection, idx []int, fuseScore, appearance bool, buf float64) [][]float64 {
	cost := make([][]float64, len(tracks))
	flat := make([]float64, len(tracks)*len(idx))
	for r, t := range tracks {
		cost[r] = flat[r*len(idx) : (r+1)*len(idx)]
		// ByteTrack's gates are calibrated for one reference interval between detections; what the
		// unknown velocity adds over the extra intervals of a slower camera widens them.
		extra := max(0, tr.step-1)
		mx := tr.cfg.GateSigma * math.Sqrt(max(0, t.kf.cov[4][4])) * extra
		my := tr.cfg.GateSigma * math.Sqrt(max(0, t.kf.cov[5][5])) * extra
		tb := widen(t.kf.box(), mx, my, buf)
		for c, i := range idx {
			d := &dets[i]
			iou := tb.IoU(widen(d.Box, mx, my, buf))
			dist := 1 - iou
			if fuseScore {
				dist = 1 - iou*d.Score
			}
			if appearance && len(t.appearance) > 0 && len(t.appearance) == len(d.Appearance) && iou >= tr.cfg.AppearanceMinIoU {
				if e := (1 - cosine(t.appearance, d.Appearance)) / 2; e <= tr.cfg.AppearanceMaxDist {
					dist = math.Min(dist, e)
				}
			}
			if tr.unlike(t, d) {
				dist = math.NaN()
			}
			cost[r][c] = dist
		}
	}
	return cost
}

// recoverCosts returns 1 - IoU of buffered boxes, the better of the track's prediction and its last
// observed box, each widened by RecoverBuffer times its size on every side.
func (tr *Tracker) recoverCosts(tracks []*track, dets []Detection, idx []int) [][]float64 {
	b := tr.cfg.RecoverBuffer
	cost := make([][]float64, len(tracks))
	for r, t := range tracks {
		cost[r] = make([]float64, len(idx))
		pred, last := buffer(t.kf.box(), b), buffer(t.lastBox, b)
		for c, i := range idx {
			db := buffer(dets[i].Box, b)
			cost[r][c] = 1 - math.Max(pred.IoU(db), last.IoU(db))
			if tr.unlike(t, &dets[i]) {
				cost[r][c] = math.NaN()
			}
		}
	}
	return cost
}

// unlike reports whether d looks too unlike t to continue it (Config.MinAppearance).
func (tr *Tracker) unlike(t *track, d *Detection) bool {
	return tr.unlikeAppearance(t.appearance, d.Appearance)
}

func (tr *Tracker) unlikeAppearance(a, b []float32) bool {
	return tr.cfg.MinAppearance > 0 && len(a) > 0 && len(a) == len(b) && cosine(a, b) < tr.cfg.MinAppearance
}

// widen grows a box by mx, my pixels and by f of its size on every side.
func widen(b Box, mx, my, f float64) Box {
	mx += f * b.W
	my += f * b.H
	return Box{X: b.X - mx, Y: b.Y - my, W: b.W + 2*mx, H: b.H + 2*my}
}

func buffer(b Box, f float64) Box {
	return Box{X: b.X - f*b.W, Y: b.Y - f*b.H, W: b.W * (1 + 2*f), H: b.H * (1 + 2*f)}
}

// removeDuplicates drops, of a confirmed and a lost track that overlap almost entirely, the one
// tracked for less time (ByteTrack's remove_duplicate_stracks): a track started next to a lost one
// is usually that person again. Tracks started together are two people, one hiding the other, and
// both stay, as do two that look unlike each other (Config.MinAppearance).
func (tr *Tracker) removeDuplicates() {
	var lost []*track
	var lostBoxes []Box
	for _, t := range tr.tracks {
		if t.state == Lost {
			lost = append(lost, t)
			lostBoxes = append(lostBoxes, t.kf.box())
		}
	}
	if len(lost) == 0 {
		return
	}
	for _, a := range tr.tracks {
		if a.state != Confirmed {
			continue
		}
		ab := a.kf.box()
		for k, b := range lost {
			if b.state != Lost || a.start.Equal(b.start) || ab.IoU(lostBoxes[k]) <= 0.85 ||
				tr.unlikeAppearance(a.appearance, b.appearance) {
				continue
			}
			if a.start.Before(b.start) {
				b.state = Removed
			} else {
				a.state = Removed
				break
			}
		}
	}
}

// sweep takes removed tracks out and turns those that were ever confirmed into sightings.
func (tr *Tracker) sweep(now time.Time) {
	kept := tr.tracks[:0]
	for _, t := range tr.tracks {
		if t.state != Removed {
			kept = append(kept, t)
			continue
		}
		if t.everConfirmed {
			tr.ended = append(tr.ended, t.sightingSoFar(tr.cfg.Camera, true))
		}
	}
	clear(tr.tracks[len(kept):])
	tr.tracks = kept
}

// Sightings returns the sightings of tracks that ended since the last call, oldest first.
func (tr *Tracker) Sightings() []Sighting {
	s := tr.ended
	tr.ended = nil
	return s
}

// Finish ends every track (the stream is over) and returns all sightings not yet collected.
func (tr *Tracker) Finish() []Sighting {
	for _, t := range tr.tracks {
		t.state = Removed
	}
	tr.sweep(tr.last)
	return tr.Sightings()
}

// Live returns the sighting of a confirmed or lost track so far, for alerts that cannot wait for the
// track to end. It is a copy marked not final.
func (tr *Tracker) Live(id uint64) (Sighting, bool) {
	for _, t := range tr.tracks {
		if t.id == id && t.everConfirmed {
			return t.sightingSoFar(tr.cfg.Camera, false), true
		}
	}
	return Sighting{}, false
}

// Tracks returns every live track, tentative and lost ones included, by id.
func (tr *Tracker) Tracks() []Track {
	out := make([]Track, 0, len(tr.tracks))
	for _, t := range tr.tracks {
		out = append(out, t.view())
	}
	return out
}

func (t *track) view() Track {
	return Track{
		ID: t.id, State: t.state, Box: t.kf.box(), Score: t.score, Detection: t.det,
		Start: t.start, LastSeen: t.lastSeen, Hits: t.hits, PersonID: t.ev.PersonID,
	}
}

func (t *track) sightingSoFar(camera string, final bool) Sighting {
	return t.sighting.build(camera, t.id, t.start, t.lastSeen, t.ev.snapshot(), final)
}

func smooth(old, v []float32, momentum float64) []float32 {
	out := make([]float64, len(v))
	if len(old) != len(v) {
		for i, x := range v {
			out[i] = float64(x)
		}
		return normalise(out)
	}
	for i := range v {
		out[i] = momentum*float64(old[i]) + (1-momentum)*float64(v[i])
	}
	return normalise(out)
}

// cosine is the cosine similarity of two vectors of equal length.
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
