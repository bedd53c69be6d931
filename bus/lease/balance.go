package lease

import (
	"cmp"
	"hash/fnv"
	"slices"
	"time"
)

// Balancing rules, applied by every edge to the same table (no coordinator):
//
//   - An edge's target is its share of the cameras by capacity, ceil(cameras × capacity / total
//     capacity of live edges), never above its capacity.
//   - A camera nobody live holds is an orphan. An edge below its target claims orphans at once; an
//     edge at or above its target claims one only after OrphanGrace, if nobody below target has
//     (every camera gets watched while anyone has room).
//   - An edge more than Hysteresis above its target hands cameras on, down to its target, but only
//     cameras it has held for MinHold and only as many as live edges eligible for them are below
//     their targets: a camera is never released for nobody to take, and a join moves each camera once.
//   - Each edge ranks cameras by rendezvous hashing (a hash of camera and edge): it claims those it
//     ranks highest and hands on those it ranks lowest, so edges racing for orphans mostly want
//     different ones and the compare-and-set on the lease settles the rest.
//   - Cameras fewer edges may hold come first: an edge claims the orphans pinned to it before any
//     other, and a full edge hands on a camera others may take to make room for one pinned to it
//     (nobody else can watch that one).

// planInput is the table as one edge sees it at one moment.
type planInput struct {
	me          string
	now         time.Time
	cams        map[string]Camera
	sessions    map[string]sessionEntry
	current     map[string]leaseEntry // each camera's latest lease entry (deleted ones too)
	held        map[string]*Lease     // what this edge holds by its own account
	orphanSince map[string]time.Time
	opts        HolderOptions
}

type claim struct {
	camera string
	rev    uint64 // the lease revision the claim must replace (0: none yet)
}

type plan struct {
	claims   []claim
	releases []string
}

func rank(camera, edge string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(camera))
	h.Write([]byte{0})
	h.Write([]byte(edge))
	return h.Sum64()
}

func (in *planInput) liveHolder(camera string) (string, bool) {
	le, ok := in.current[camera]
	if !ok || le.Deleted {
		return "", false
	}
	s, ok := in.sessions[le.Edge]
	if !ok || s.ID != le.Session {
		return "", false
	}
	return le.Edge, true
}

func (in *planInput) target(edge string) int {
	total := 0
	for _, s := range in.sessions {
		total += s.Capacity
	}
	capacity := in.sessions[edge].Capacity
	if total == 0 {
		return 0
	}
	return min(capacity, (len(in.cams)*capacity+total-1)/total)
}

func makePlan(in planInput) plan {
	var p plan
	me, ok := in.sessions[in.me]
	if !ok {
		return p // our session is not in the table yet
	}
	// Cameras gone from the list, or no longer ours to hold, go first.
	for c := range in.held {
		if cam, ok := in.cams[c]; !ok || !cam.Eligible(in.me) {
			p.releases = append(p.releases, c)
		}
	}
	held := len(in.held) - len(p.releases)
	target := in.target(in.me)

	var orphans []string
	for id, cam := range in.cams {
		if l, mine := in.held[id]; mine && l.Session == me.ID {
			continue // ours in this session (the table may not show the claim yet)
		}
		if _, live := in.liveHolder(id); !live && cam.Eligible(in.me) {
			orphans = append(orphans, id)
		}
	}
	// Pinned first (then cameras few edges may hold), each group by rank.
	scarcity := func(id string) int {
		if n := len(in.cams[id].Edges); n > 0 {
			return n
		}
		return len(in.sessions) + 1
	}
	slices.SortFunc(orphans, func(a, b string) int {
		if c := cmp.Compare(scarcity(a), scarcity(b)); c != 0 {
			return c
		}
		return cmp.Compare(rank(b, in.me), rank(a, in.me))
	})
	for _, id := range orphans {
		_, reclaim := in.held[id] // ours from a previous session: claiming again costs no capacity
		if !reclaim && held >= me.Capacity && in.cams[id].PinnedTo(in.me) {
			if give, ok := in.makeRoom(p.releases); ok {
				p.releases = append(p.releases, give)
				held--
			}
		}
		if !reclaim && held >= me.Capacity {
			continue
		}
		since, seen := in.orphanSince[id]
		if !reclaim && held >= target && (!seen || in.now.Sub(since) < in.opts.OrphanGrace) {
			continue
		}
		p.claims = append(p.claims, claim{camera: id, rev: in.current[id].Rev})
		if !reclaim {
			held++
		}
	}

	if held <= target+in.opts.Hysteresis {
		return p
	}
	counts := map[string]int{}
	for id := range in.cams {
		if e, live := in.liveHolder(id); live {
			counts[e]++
		}
	}
	deficit := map[string]int{}
	for e := range in.sessions {
		if e != in.me {
			if d := in.target(e) - counts[e]; d > 0 {
				deficit[e] = d
			}
		}
	}
	var mine []string
	for id, l := range in.held {
		if in.now.Sub(l.Acquired) >= in.opts.MinHold && !slices.Contains(p.releases, id) {
			mine = append(mine, id)
		}
	}
	slices.SortFunc(mine, func(a, b string) int { return cmp.Compare(rank(a, in.me), rank(b, in.me)) })
	for _, id := range mine {
		if held <= target {
			break
		}
		for e, d := range deficit {
			if d > 0 && in.cams[id].Eligible(e) {
				deficit[e]--
				p.releases = append(p.releases, id)
				held--
				break
			}
		}
	}
	return p
}

// makeRoom picks a camera this edge holds that is not pinned to it and that another live edge with
// room may take, to hand on for a camera pinned here.
func (in *planInput) makeRoom(releasing []string) (string, bool) {
	counts := map[string]int{}
	for id := range in.cams {
		if e, live := in.liveHolder(id); live {
			counts[e]++
		}
	}
	var mine []string
	for id := range in.held {
		if !in.cams[id].PinnedTo(in.me) && !slices.Contains(releasing, id) {
			mine = append(mine, id)
		}
	}
	slices.SortFunc(mine, func(a, b string) int { return cmp.Compare(rank(a, in.me), rank(b, in.me)) })
	for _, id := range mine {
		for e, s := range in.sessions {
			if e != in.me && counts[e] < s.Capacity && in.cams[id].Eligible(e) {
				return id, true
			}
		}
	}
	return "", false
}
