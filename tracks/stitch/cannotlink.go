package stitch

import "fmt"

// A trajectory is one person, so it cannot hold two sightings that were in view at the same time
// on one camera (two tracks at once are two people) or on cameras too far apart to see one person.
// Links are chosen pairwise, so the rule is checked on whole trajectories after each assignment:
// when one breaks it, the weakest link of the assignment between the two sightings is left out and
// the assignment solved again.

// tentative is an assignment under consideration seen as trajectories: the chosen links into the
// problem's sightings and the current links of everything else.
type tentative struct {
	st     *Stitcher
	pr     *problem
	chosen []*cand
	out    map[*node]*cand // the chosen links by their earlier end
}

func (t *tentative) pred(r *node) *cand {
	if j, ok := t.pr.toIdx[r]; ok {
		return t.chosen[j]
	}
	c := r.pred
	if c == nil {
		return nil
	}
	if o, ok := t.out[c.from]; ok && o != c { // its predecessor continues elsewhere now
		return nil
	}
	return c
}

func (t *tentative) succ(p *node) *cand {
	if o, ok := t.out[p]; ok {
		return o
	}
	c := p.succ
	if c == nil {
		return nil
	}
	if j, ok := t.pr.toIdx[c.to]; ok && t.chosen[j] != c {
		return nil
	}
	return c
}

func (t *tentative) remembered(n *node) bool { return t.st.nodes[n.id] == n }

// trajectory returns the remembered sightings of n's trajectory in order (links run forward in
// time, so this is enter-time order). Forgotten sightings left too long ago to overlap anything.
func (t *tentative) trajectory(n *node, buf []*node) []*node {
	// Links only run forward in time, so the walks end; the bound guards against a bug looping.
	limit := len(t.st.nodes) + 1
	for c := t.pred(n); c != nil && t.remembered(c.from) && limit > 0; c = t.pred(n) {
		n = c.from
		limit--
	}
	buf = append(buf[:0], n)
	for c := t.succ(n); c != nil && t.remembered(c.to) && len(buf) <= len(t.st.nodes); c = t.succ(n) {
		n = c.to
		buf = append(buf, n)
	}
	return buf
}

// repair finds a trajectory of the tentative assignment that holds two sightings that cannot be one
// person, bans the weakest link of the problem between them and reports whether it banned one.
// Every round bans a link, so repairs end.
func (st *Stitcher) repair(pr *problem, chosen []*cand) bool {
	t := &tentative{st: st, pr: pr, chosen: chosen, out: make(map[*node]*cand, len(chosen))}
	for _, c := range chosen {
		if c != nil {
			t.out[c.from] = c
		}
	}
	done := map[*node]bool{}
	var buf []*node
	for _, list := range [][]*node{pr.tos, pr.froms} {
		for _, n := range list {
			if done[n] {
				continue
			}
			buf = t.trajectory(n, buf)
			for _, m := range buf {
				done[m] = true
			}
			if c := st.breach(t, buf); c != nil {
				pr.banned[c] = true
				return true
			}
		}
	}
	return false
}

// breach returns the link to leave out of a trajectory that breaks the cannot-link rule: the
// weakest of the problem's links between the first pair of sightings that cannot be one person and
// that a link of the problem joins. Nil when the trajectory is sound (or only links that are no
// longer open join such a pair).
func (st *Stitcher) breach(t *tentative, traj []*node) *cand {
	for i, a := range traj {
		for j := i + 1; j < len(traj) && traj[j].enter.Before(a.exit); j++ {
			b := traj[j]
			if !overlap(&a.summary, &b.summary) {
				continue
			}
			why := st.cfg.atOnce(st.topo, a.camera, b.camera)
			if why == "" {
				continue
			}
			var weakest *cand
			for k := i + 1; k <= j; k++ {
				c := t.pred(traj[k])
				if _, ok := t.pr.toIdx[traj[k]]; !ok || c == nil {
					continue
				}
				if weakest == nil || c.score-c.bar < weakest.score-weakest.bar {
					weakest = c
				}
			}
			if weakest != nil {
				weakest.refused = Conflict
				weakest.detail = fmt.Sprintf("%s and %s: %s", a.id, b.id, why)
				return weakest
			}
		}
	}
	return nil
}
