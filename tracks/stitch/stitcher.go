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
}

// node is one sighting in the stitcher's memory.
type node struct {
	summary
	in, out    []*cand // candidate links into and out of this sighting
	pred, succ *cand   // the chosen ones
	traj       string
	final      bool // the incoming link can no longer change
}

// cand is a possible link.
type cand struct {
	from, to *node
	parts    tracks.LinkParts
	score    float64
	decided  time.Time
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
	q, ok := st.nodes[s.ID]
	if ok {
		if q.camera != s.Camera {
			return nil, fmt.Errorf("stitch: sighting %s moved from camera %s to %s", s.ID, q.camera, s.Camera)
		}
		st.snapshot(before, q)
		st.dropCandidates(q)
		q.summary = summarise(s)
	} else {
		q = &node{summary: summarise(s), traj: s.ID}
		st.nodes[s.ID] = q
		st.byCamera[s.Camera] = append(st.byCamera[s.Camera], q)
	}
	st.prevWatermark = st.watermark
	if s.Exit.After(st.watermark) {
		st.watermark = s.Exit
	}
	st.candidates(q)
	st.solve(q, before)
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
	parts, score, ok := st.cfg.score(st.topo, &p.summary, &q.summary)
	if !ok || score < st.cfg.Threshold {
		return
	}
	c := &cand{from: p, to: q, parts: parts, score: score}
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

// solve re-assigns the links of the connected group of open decisions around q: the maximum total
// of score-Threshold in which every sighting has at most one predecessor and one successor.
func (st *Stitcher) solve(q *node, before map[*node]state) {
	// A sighting whose final incoming link comes from p fixes p's successor.
	fixedOut := func(p *node) bool { return p.succ != nil && p.succ.to.final }
	open := func(c *cand) bool { return !c.to.final && !fixedOut(c.from) }

	var froms, tos []*node
	fromIdx, toIdx := map[*node]int{}, map[*node]int{}
	var edges []*cand
	seen := map[*node]bool{q: true}
	queue := []*node{q}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, list := range [][]*cand{n.in, n.out} {
			for _, c := range list {
				if !open(c) || bridged(c) {
					continue
				}
				if _, ok := fromIdx[c.from]; !ok {
					fromIdx[c.from] = len(froms)
					froms = append(froms, c.from)
				}
				if _, ok := toIdx[c.to]; !ok {
					toIdx[c.to] = len(tos)
					tos = append(tos, c.to)
				}
				edges = append(edges, c)
				for _, m := range []*node{c.from, c.to} {
					if !seen[m] {
						seen[m] = true
						queue = append(queue, m)
					}
				}
			}
		}
	}
	// Every sighting whose incoming link may change takes part, including those left without any
	// candidate (their old link, if any, must go).
	if !q.final {
		if _, ok := toIdx[q]; !ok {
			toIdx[q] = len(tos)
			tos = append(tos, q)
		}
	}
	cost := make([][]float64, len(froms))
	for i := range cost {
		cost[i] = make([]float64, len(tos))
		for j := range cost[i] {
			cost[i][j] = math.NaN()
		}
	}
	for _, c := range edges {
		i, j := fromIdx[c.from], toIdx[c.to]
		if v := -(c.score - st.cfg.Threshold); math.IsNaN(cost[i][j]) || v < cost[i][j] {
			cost[i][j] = v
		}
	}
	chosen := make([]*cand, len(tos))
	if len(froms) > 0 {
		for i, j := range assign.WithLimit(cost, 0) {
			if j == assign.Unassigned {
				continue
			}
			for _, c := range edges {
				if c.from == froms[i] && c.to == tos[j] {
					chosen[j] = c
					break
				}
			}
		}
	}
	// Detach first, then attach, so a link can move between sightings in one pass.
	for j, r := range tos {
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
	for j, r := range tos {
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
			if x == c || x.to.enter.After(c.to.enter) {
				continue
			}
			if x.to == c.to || reach(x.to, depth-1) {
				return true
			}
		}
		return false
	}
	for _, x := range c.from.out {
		if x != c && x.to != c.to && !x.to.enter.After(c.to.enter) && reach(x.to, c.parts.Hops-1) {
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
			Sighting: n.id, Trajectory: n.traj, Camera: n.camera, Lat: cam.Lat, Lon: cam.Lon, HasPos: true,
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
