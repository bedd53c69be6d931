package stitch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"snowlight/tracks"
	"snowlight/tracks/assign"
)

// Stitcher links sightings into trajectories as they arrive. It is not safe for concurrent use: the
// center runs one stitcher and feeds it sightings in the order they arrive.
type Stitcher struct {
	cfg   Config
	topo  *Topology
	nodes map[string]*node
	// byCamera holds the nodes of each camera, in arrival order.
	byCamera map[string][]*node
	// watermark is the latest exit seen (the stitcher's clock); prevWatermark its value before the
	// current Add; advanced is when decisions were last closed.
	watermark, prevWatermark, advanced time.Time
	// reopen collects, during one Add, the earlier sightings whose gated links must be judged again
	// because a new alternative appeared.
	reopen []*node
	seq    uint64 // the last node's sequence number
}

// node is one sighting in the stitcher's memory.
type node struct {
	summary
	seq        uint64  // numbers nodes in arrival order, from 1
	in, out    []*cand // candidate links into and out of this sighting
	pred, succ *cand   // the chosen ones
	traj       string
	final      bool // the incoming link can no longer change
	// altIn and altOut are the sightings most alike in appearance that this one could continue, or
	// that could continue it: the alternatives a return to the same camera must stand out from.
	altIn, altOut alts
}

// cand is a possible link: a pair that timing, identity and the cannot-link rules allow and whose
// score reaches Threshold.
type cand struct {
	from, to *node
	parts    tracks.LinkParts
	score    float64
	bar      float64 // the least score of this kind of link
	weak     bool    // rests on appearance and timing alone
	decided  time.Time
	// refused and detail say why the last assignment that weighed the link left it out ("" when it
	// chose it).
	refused Reason
	detail  string
}

// New returns a stitcher over the topology, which it owns from now on (learning changes it).
func New(cfg Config, topo *Topology) (*Stitcher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if topo == nil {
		return nil, errors.New("stitch: no topology")
	}
	return &Stitcher{cfg: cfg, topo: topo, nodes: map[string]*node{}, byCamera: map[string][]*node{}}, nil
}

// Add takes a sighting (a final one, or an interim one that a later Add with the same id updates)
// and returns the decisions it changed: always one for this sighting, and one for every earlier
// sighting whose link or trajectory changed as a result, in enter-time order.
func (st *Stitcher) Add(s tracks.Sighting) ([]tracks.Decision, error) {
	switch {
	case s.ID == "":
		return nil, errors.New("stitch: sighting without id")
	case s.Camera == "":
		return nil, fmt.Errorf("stitch: sighting %s without camera", s.ID)
	case s.Enter.IsZero() || s.Exit.Before(s.Enter):
		return nil, fmt.Errorf("stitch: sighting %s: exit %v before enter %v", s.ID, s.Exit, s.Enter)
	}
	if _, ok := st.topo.Camera(s.Camera); !ok {
		return nil, fmt.Errorf("stitch: sighting %s: camera %q is not in the topology", s.ID, s.Camera)
	}
	before := map[*node]state{}
	st.reopen = st.reopen[:0]
	q, ok := st.nodes[s.ID]
	if ok {
		if q.camera != s.Camera {
			return nil, fmt.Errorf("stitch: sighting %s moved from camera %s to %s", s.ID, q.camera, s.Camera)
		}
		st.snapshot(before, q)
		st.dropCandidates(q)
		// Its successor's link was weighed against the old evidence: judge it again.
		if q.succ != nil && !q.succ.to.final {
			st.reopen = append(st.reopen, q.succ.to)
		}
		q.summary = summarise(s)
		q.altIn, q.altOut = alts{}, alts{}
	} else {
		st.seq++
		q = &node{summary: summarise(s), traj: s.ID, seq: st.seq}
		st.nodes[s.ID] = q
		st.byCamera[s.Camera] = append(st.byCamera[s.Camera], q)
	}
	st.prevWatermark = st.watermark
	if s.Exit.After(st.watermark) {
		st.watermark = s.Exit
	}
	st.reopen = append(st.reopen, q)
	st.candidates(q)
	st.solve(st.reopen, before)
	clear(st.reopen)
	decisions := st.decisions(q, before, ok)
	st.advance()
	return decisions, nil
}

// state is a node's decision before an Add, to report only what changed.
type state struct {
	traj string
	pred *cand
	seen bool
}

func (st *Stitcher) snapshot(m map[*node]state, n *node) {
	if _, ok := m[n]; !ok {
		m[n] = state{traj: n.traj, pred: n.pred, seen: true}
	}
}

// candidates scores q against the sightings that may precede or follow it.
func (st *Stitcher) candidates(q *node) {
	for _, cam := range st.sourceCameras(q) {
		for _, p := range st.byCamera[cam] {
			if p == q || p.exit.After(q.enter.Add(st.cfg.SlackMin)) {
				continue
			}
			st.link(p, q)
		}
	}
	// Sightings can arrive out of order (a long stay ends after a later short one): q may precede
	// sightings already here. Only a sighting that left before the newest exit can.
	if q.exit.Add(-st.cfg.SlackMin).After(st.prevWatermark) {
		return
	}
	for _, cam := range st.targetCameras(q) {
		for _, r := range st.byCamera[cam] {
			if r != q && !r.final && !r.enter.Before(q.exit.Add(-st.cfg.SlackMin)) {
				st.link(q, r)
			}
		}
	}
}

func (st *Stitcher) targetCameras(q *node) []string {
	if st.topo.learn.Enabled && (len(q.face) > 0 || q.person != "") {
		return st.allCameras()
	}
	return st.topo.Targets(q.camera, st.cfg.MaxHops)
}

func (st *Stitcher) allCameras() []string {
	cams := make([]string, 0, len(st.byCamera))
	for c := range st.byCamera {
		cams = append(cams, c)
	}
	slices.Sort(cams)
	return cams
}

func (st *Stitcher) sourceCameras(q *node) []string {
	if st.topo.learn.Enabled && (len(q.face) > 0 || q.person != "") {
		return st.allCameras()
	}
	return st.topo.Sources(q.camera, st.cfg.MaxHops)
}

func (st *Stitcher) link(p, q *node) {
	// Links run forward in time (by entry, then id). The transit slack lets sightings whose views
	// overlap link in either direction; without an order two of them could continue each other and
	// a trajectory would loop.
	if q.enter.Before(p.enter) || q.enter.Equal(p.enter) && q.id <= p.id {
		return
	}
	parts, score, impossible := st.cfg.score(st.topo, &p.summary, &q.summary)
	if impossible != "" {
		return
	}
	// Every possible pair whose appearance was compared, and whose face does not speak against
	// it, is an alternative for both ends.
	if parts.HasAppearance && parts.Face >= 0 {
		if q.altIn.add(p.seq, parts.AppearanceSimilarity) && slices.ContainsFunc(q.in, (*cand).gated) {
			st.reopen = append(st.reopen, q)
		}
		if p.altOut.add(q.seq, parts.AppearanceSimilarity) && slices.ContainsFunc(p.out, (*cand).gated) {
			st.reopen = append(st.reopen, p)
		}
	}
	if score < st.cfg.Threshold {
		return
	}
	c := &cand{from: p, to: q, parts: parts, score: score, bar: st.cfg.bar(&parts), weak: st.cfg.weak(&parts)}
	if score < c.bar {
		c.refused = WeakEvidence
	}
	p.out = append(p.out, c)
	q.in = append(q.in, c)
}

// dropCandidates forgets q's candidate links before it is re-scored; its chosen links stay until
// the new solution replaces them.
func (st *Stitcher) dropCandidates(q *node) {
	for _, c := range q.in {
		c.from.out = slices.DeleteFunc(c.from.out, func(x *cand) bool { return x == c })
	}
	for _, c := range q.out {
		c.to.in = slices.DeleteFunc(c.to.in, func(x *cand) bool { return x == c })
	}
	q.in, q.out = nil, nil
}

// problem is one assignment: the connected group of open decisions around the sightings that
// changed.
type problem struct {
	froms, tos     []*node
	fromIdx, toIdx map[*node]int
	edges          []*cand
	banned         map[*cand]bool // left out for the cannot-link rules
}

func (pr *problem) addFrom(n *node) {
	if _, ok := pr.fromIdx[n]; !ok {
		pr.fromIdx[n] = len(pr.froms)
		pr.froms = append(pr.froms, n)
	}
}

func (pr *problem) addTo(n *node) {
	if _, ok := pr.toIdx[n]; !ok {
		pr.toIdx[n] = len(pr.tos)
		pr.tos = append(pr.tos, n)
	}
}

// solve re-assigns the links of the connected group of open decisions around the seeds: the maximum
// total of score minus the link's bar in which every sighting has at most one predecessor and one
// successor and no trajectory holds two sightings that cannot be one person.
func (st *Stitcher) solve(seeds []*node, before map[*node]state) {
	// A sighting whose final incoming link comes from p fixes p's successor.
	fixedOut := func(p *node) bool { return p.succ != nil && p.succ.to.final }
	open := func(c *cand) bool { return !c.to.final && !fixedOut(c.from) }

	pr := &problem{fromIdx: map[*node]int{}, toIdx: map[*node]int{}, banned: map[*cand]bool{}}
	seen := map[*node]bool{}
	judged := map[*cand]bool{}
	var queue []*node
	visit := func(n *node) {
		if !seen[n] {
			seen[n] = true
			queue = append(queue, n)
		}
	}
	for _, n := range seeds {
		visit(n)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, list := range [][]*cand{n.in, n.out} {
			for _, c := range list {
				if !open(c) || judged[c] {
					continue
				}
				judged[c] = true
				reason, detail := st.eligible(c)
				if reason == "" && bridged(c) {
					reason, detail = Bridged, ""
				}
				if reason != "" {
					c.refused, c.detail = reason, detail
					// A link that was chosen and may no longer be must be taken back.
					if c.to.pred == c {
						pr.addTo(c.to)
						visit(c.to)
					}
					continue
				}
				pr.addFrom(c.from)
				pr.addTo(c.to)
				pr.edges = append(pr.edges, c)
				visit(c.from)
				visit(c.to)
			}
		}
	}
	// Every sighting whose incoming link may change takes part, including those left without any
	// candidate (their old link, if any, must go).
	for _, n := range seeds {
		if !n.final {
			pr.addTo(n)
		}
	}
	chosen := st.assign(pr)
	for st.repair(pr, chosen) {
		chosen = st.assign(pr)
	}
	for j := range pr.tos {
		if c := chosen[j]; c != nil {
			c.refused, c.detail = "", ""
		}
	}
	for _, c := range pr.edges {
		if !pr.banned[c] && chosen[pr.toIdx[c.to]] != c {
			c.refused, c.detail = LostToBetter, ""
		}
	}
	st.apply(pr, chosen, before)
}

// assign returns the best link into each of the problem's sightings (nil for none).
func (st *Stitcher) assign(pr *problem) []*cand {
	cost := make([][]float64, len(pr.froms))
	for i := range cost {
		cost[i] = make([]float64, len(pr.tos))
		for j := range cost[i] {
			cost[i][j] = math.NaN()
		}
	}
	best := map[[2]int]*cand{}
	for _, c := range pr.edges {
		if pr.banned[c] {
			continue
		}
		i, j := pr.fromIdx[c.from], pr.toIdx[c.to]
		if v := -(c.score - c.bar); math.IsNaN(cost[i][j]) || v < cost[i][j] {
			cost[i][j] = v
			best[[2]int{i, j}] = c
		}
	}
	chosen := make([]*cand, len(pr.tos))
	if len(pr.froms) > 0 {
		for i, j := range assign.WithLimit(cost, 0) {
			if j != assign.Unassigned {
				chosen[j] = best[[2]int{i, j}]
			}
		}
	}
	return chosen
}

// apply makes the chosen links the current ones and renames the trajectories that changed.
func (st *Stitcher) apply(pr *problem, chosen []*cand, before map[*node]state) {
	// Detach first, then attach, so a link can move between sightings in one pass.
	for j, r := range pr.tos {
		if r.pred == chosen[j] {
			continue
		}
		st.snapshot(before, r)
		if r.pred != nil {
			st.snapshot(before, r.pred.from)
			r.pred.from.succ = nil
			r.pred = nil
		}
	}
	for j, r := range pr.tos {
		c := chosen[j]
		if c == nil || r.pred == c {
			continue
		}
		if c.from.succ != nil { // the predecessor's old successor lost it
			old := c.from.succ.to
			st.snapshot(before, old)
			old.pred = nil
		}
		c.decided = st.watermark
		r.pred = c
		c.from.succ = c
	}
	// Trajectory ids follow the links downstream of every changed sighting, earliest first so that
	// a re-rooted trajectory is renamed from its start.
	starts := make([]*node, 0, len(before))
	for n := range before {
		starts = append(starts, n)
	}
	slices.SortFunc(starts, func(a, b *node) int { return a.enter.Compare(b.enter) })
	for _, n := range starts {
		st.propagate(n, before)
	}
}

// bridged reports whether a link that spans cameras passed unseen is explained better by
// sightings on those cameras: a chain of candidate links from its start to its end. Left in, the
// single strong link would outscore the chain and cut the person's middle sightings out of the
// trajectory.
func bridged(c *cand) bool {
	if c.parts.Hops < 2 {
		return false
	}
	var reach func(n *node, depth int) bool
	reach = func(n *node, depth int) bool {
		if depth == 0 {
			return false
		}
		for _, x := range n.out {
			if x == c || x.score < x.bar || x.to.enter.After(c.to.enter) {
				continue
			}
			if x.to == c.to || reach(x.to, depth-1) {
				return true
			}
		}
		return false
	}
	for _, x := range c.from.out {
		if x != c && x.score >= x.bar && x.to != c.to && !x.to.enter.After(c.to.enter) && reach(x.to, c.parts.Hops-1) {
			return true
		}
	}
	return false
}

// propagate sets the trajectory id of n and everything after it.
func (st *Stitcher) propagate(n *node, before map[*node]state) {
	for ; n != nil; n = succOf(n) {
		want := n.id
		if n.pred != nil {
			want = n.pred.from.traj
		}
		if n.traj != want {
			st.snapshot(before, n)
			n.traj = want
		}
	}
}

func succOf(n *node) *node {
	if n.succ == nil {
		return nil
	}
	return n.succ.to
}

func (st *Stitcher) decisions(q *node, before map[*node]state, update bool) []tracks.Decision {
	var changed []*node
	for n, was := range before {
		if n == q || n.traj != was.traj || n.pred != was.pred {
			changed = append(changed, n)
		}
	}
	if _, ok := before[q]; !ok {
		changed = append(changed, q)
	}
	slices.SortFunc(changed, func(a, b *node) int {
		if c := a.enter.Compare(b.enter); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]tracks.Decision, 0, len(changed))
	for _, n := range changed {
		d := tracks.Decision{Sighting: n.id, Trajectory: n.traj, Revised: n != q || update}
		if n.pred != nil {
			d.Link = st.toLink(n.pred)
		}
		out = append(out, d)
	}
	return out
}

func (st *Stitcher) toLink(c *cand) *tracks.Link {
	return &tracks.Link{
		From: c.from.id, To: c.to.id, Score: c.score, Confidence: logistic(c.score),
		Evidence: c.parts, Decided: c.decided,
	}
}

// advance closes decisions that can no longer change, teaches the topology from the confident
// ones, and forgets sightings no later sighting can link to.
func (st *Stitcher) advance() {
	// Closing is a sweep over everything remembered; once per second of stream time is plenty.
	if st.watermark.Sub(st.advanced) < time.Second {
		return
	}
	st.advanced = st.watermark
	retain := st.retain()
	for cam, list := range st.byCamera {
		kept := list[:0]
		for _, n := range list {
			if !n.final && st.watermark.Sub(n.enter) > st.cfg.Revise {
				n.final = true
				if c := n.pred; c != nil && logistic(c.score) >= st.cfg.LearnConfidence && (c.parts.HasFace || c.parts.Identity > 0) && c.parts.Hops <= 1 {
					st.topo.Observe(c.from.camera, n.camera, n.enter.Sub(c.from.exit))
				}
			}
			if n.final && st.watermark.Sub(n.exit) > retain && (n.succ == nil || n.succ.to.final) {
				st.forget(n)
				continue
			}
			kept = append(kept, n)
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(st.byCamera, cam)
		} else {
			st.byCamera[cam] = kept
		}
	}
}

// retain is how long a sighting must stay linkable: past the longest window (with slack and
// skipped cameras), the time decisions stay open, and the configured minimum.
func (st *Stitcher) retain() time.Duration {
	w := st.topo.MaxWindow() * time.Duration(st.cfg.MaxHops)
	w += time.Duration(st.cfg.Slack*float64(w)) + st.cfg.SlackMin + st.cfg.HopDwell*time.Duration(st.cfg.MaxHops)
	if st.topo.learn.Enabled {
		w = max(w, st.cfg.UnknownMaxTransit)
	}
	return max(st.cfg.Retain, w+st.cfg.Revise)
}

func (st *Stitcher) forget(n *node) {
	for _, c := range n.out {
		c.to.in = slices.DeleteFunc(c.to.in, func(x *cand) bool { return x == c })
	}
	for _, c := range n.in {
		c.from.out = slices.DeleteFunc(c.from.out, func(x *cand) bool { return x == c })
	}
	n.in, n.out = nil, nil
	delete(st.nodes, n.id)
}

// Len is the number of sightings the stitcher remembers.
func (st *Stitcher) Len() int { return len(st.nodes) }

// Trajectory returns the trajectory the sighting belongs to as far as the stitcher remembers it.
func (st *Stitcher) Trajectory(sightingID string) (tracks.Trajectory, bool) {
	n, ok := st.nodes[sightingID]
	if !ok {
		return tracks.Trajectory{}, false
	}
	for n.pred != nil && st.nodes[n.pred.from.id] == n.pred.from {
		n = n.pred.from
	}
	t := tracks.Trajectory{ID: n.traj}
	for ; n != nil; n = succOf(n) {
		cam, _ := st.topo.Camera(n.camera)
		step := tracks.Step{
			Sighting: n.id, Trajectory: n.traj, Camera: n.camera, Lat: cam.Position.Lat, Lon: cam.Position.Lon, HasPos: true,
			Enter: n.enter, Exit: n.exit, PersonID: n.person,
		}
		if n.pred != nil {
			step.Link = st.toLink(n.pred)
		}
		t.Steps = append(t.Steps, step)
	}
	t.PersonID = tracks.MajorityPerson(t.Steps)
	return t, true
}
