package lease

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// world is a test's table: cameras, live edges and who holds what.
type world struct {
	cams     map[string]Camera
	sessions map[string]sessionEntry
	current  map[string]leaseEntry
	rev      uint64
	clock    time.Time
	since    map[string]time.Time // orphaned since
}

func newWorld(cameras int) *world {
	w := &world{cams: map[string]Camera{}, sessions: map[string]sessionEntry{}, current: map[string]leaseEntry{}}
	for i := range cameras {
		id := fmt.Sprintf("cam-%02d", i)
		w.cams[id] = Camera{ID: id}
	}
	return w
}

func (w *world) edge(id string, capacity int) {
	w.sessions[id] = sessionEntry{Session: Session{Edge: id, ID: id + "-s", Capacity: capacity}}
}

func (w *world) give(camera, edge string) {
	w.rev++
	w.current[camera] = leaseEntry{Record: Record{Edge: edge, Session: edge + "-s"}, Rev: w.rev}
}

func (w *world) held(edge string) map[string]*Lease {
	out := map[string]*Lease{}
	for c, le := range w.current {
		if !le.Deleted && le.Edge == edge && le.Session == edge+"-s" {
			out[c] = &Lease{Camera: c, Edge: edge, Session: le.Session, Epoch: le.Rev}
		}
	}
	return out
}

func (w *world) count(edge string) int { return len(w.held(edge)) }

var testOpts = HolderOptions{Hysteresis: 1, MinHold: 0, OrphanGrace: 2 * time.Second}

// step lets each edge in turn plan and carry out its plan, as the real edges do concurrently, a
// second apart (less than OrphanGrace); it returns how many cameras changed hands.
func (w *world) step(edges ...string) int {
	moves := 0
	if w.since == nil {
		w.since = map[string]time.Time{}
	}
	for _, e := range edges {
		w.clock = w.clock.Add(time.Second)
		for c := range w.cams {
			if le, ok := w.current[c]; ok && !le.Deleted {
				delete(w.since, c)
			} else if _, seen := w.since[c]; !seen {
				w.since[c] = w.clock
			}
		}
		p := makePlan(planInput{me: e, now: w.clock, cams: w.cams, sessions: w.sessions, current: w.current,
			held: w.held(e), orphanSince: w.since, opts: testOpts})
		for _, c := range p.releases {
			w.rev++
			w.current[c] = leaseEntry{Rev: w.rev, Deleted: true}
			moves++
		}
		for _, c := range p.claims {
			if w.current[c.camera].Rev == c.rev { // the compare-and-set
				w.give(c.camera, e)
				moves++
			}
		}
	}
	return moves
}

// settle steps until nothing moves, failing if that takes more than a few rounds (flapping).
func (w *world) settle(t *testing.T, edges ...string) {
	t.Helper()
	for range 10 {
		if w.step(edges...) == 0 && w.step(edges...) == 0 { // twice: orphans wait out OrphanGrace
			return
		}
	}
	require.Fail(t, "still moving after 10 rounds", "owners: %v", w.current)
}

func TestBalanceFillsThenSharesOnJoin(t *testing.T) {
	w := newWorld(9)
	w.edge("a", 10)
	w.settle(t, "a")
	assert.Equal(t, 9, w.count("a"), "one edge takes everything it has room for")

	w.edge("b", 10)
	w.settle(t, "a", "b")
	assert.Equal(t, []int{5, 4}, []int{w.count("a"), w.count("b")})

	w.edge("c", 10)
	w.settle(t, "a", "b", "c")
	counts := []int{w.count("a"), w.count("b"), w.count("c")}
	assert.Equal(t, 9, counts[0]+counts[1]+counts[2])
	for _, n := range counts {
		assert.InDelta(t, 3, n, 1, "within the hysteresis of the share: %v", counts)
	}
	assert.Zero(t, w.step("a", "b", "c"), "settled stays settled")
}

func TestBalanceRespectsCapacity(t *testing.T) {
	w := newWorld(10)
	w.edge("small", 2)
	w.edge("big", 6)
	w.settle(t, "small", "big")
	assert.Equal(t, 2, w.count("small"))
	assert.Equal(t, 6, w.count("big"))
	unheld := 0
	for c := range w.cams {
		if _, ok := w.current[c]; !ok || w.current[c].Deleted {
			unheld++
		}
	}
	assert.Equal(t, 2, unheld, "beyond every edge's capacity cameras wait")
}

func TestBalanceDeadEdgesCamerasMove(t *testing.T) {
	w := newWorld(6)
	w.edge("a", 10)
	w.edge("b", 10)
	w.settle(t, "a", "b")
	delete(w.sessions, "b") // b's session expired
	w.settle(t, "a")
	assert.Equal(t, 6, w.count("a"))
}

func TestBalanceEligibility(t *testing.T) {
	w := newWorld(4)
	w.cams["cam-00"] = Camera{ID: "cam-00", Edges: []string{"b"}}
	w.cams["cam-01"] = Camera{ID: "cam-01", Edges: []string{"b"}}
	w.edge("a", 10)
	w.settle(t, "a")
	assert.Equal(t, 2, w.count("a"), "a takes only what it may")
	w.edge("b", 10)
	w.settle(t, "a", "b")
	assert.Equal(t, "b", w.current["cam-00"].Edge)
	assert.Equal(t, "b", w.current["cam-01"].Edge)
	// a holds 2 of 4 with a target of 2: nothing is released for b, who could not take it anyway.
	assert.Equal(t, 2, w.count("a"))
}

func TestBalanceReleasesRemovedCameras(t *testing.T) {
	w := newWorld(3)
	w.edge("a", 10)
	w.settle(t, "a")
	delete(w.cams, "cam-00")
	p := makePlan(planInput{me: "a", now: time.Unix(100, 0), cams: w.cams, sessions: w.sessions, current: w.current,
		held: w.held("a"), orphanSince: map[string]time.Time{}, opts: testOpts})
	assert.Equal(t, []string{"cam-00"}, p.releases)
}

func TestBalanceMinHoldAndGrace(t *testing.T) {
	w := newWorld(4)
	w.edge("a", 10)
	w.settle(t, "a")
	w.edge("b", 10)
	held := w.held("a")
	for _, l := range held {
		l.Acquired = time.Unix(99, 0)
	}
	opts := testOpts
	opts.MinHold = 30 * time.Second
	p := makePlan(planInput{me: "a", now: time.Unix(100, 0), cams: w.cams, sessions: w.sessions, current: w.current,
		held: held, orphanSince: map[string]time.Time{}, opts: opts})
	assert.Empty(t, p.releases, "nothing is handed on before MinHold")

	// An edge at its target leaves a fresh orphan to others for OrphanGrace.
	w2 := newWorld(2)
	w2.edge("a", 10)
	w2.edge("b", 10)
	w2.give("cam-00", "a")
	p = makePlan(planInput{me: "a", now: time.Unix(100, 0), cams: w2.cams, sessions: w2.sessions, current: w2.current,
		held: w2.held("a"), orphanSince: map[string]time.Time{"cam-01": time.Unix(99, 0)}, opts: testOpts})
	assert.Empty(t, p.claims)
	p = makePlan(planInput{me: "b", now: time.Unix(100, 0), cams: w2.cams, sessions: w2.sessions, current: w2.current,
		held: w2.held("b"), orphanSince: map[string]time.Time{"cam-01": time.Unix(99, 0)}, opts: testOpts})
	assert.Equal(t, []claim{{camera: "cam-01"}}, p.claims, "b, below its target, takes it at once")
}

func TestBalanceLargeJoinMovesEachCameraOnce(t *testing.T) {
	w := newWorld(90)
	for _, e := range []string{"a", "b"} {
		w.edge(e, 100)
	}
	w.settle(t, "a", "b")
	before := map[string]string{}
	for c, le := range w.current {
		before[c] = le.Edge
	}
	w.edge("c", 100)
	w.settle(t, "a", "b", "c")
	moved := 0
	for c, le := range w.current {
		if before[c] != le.Edge {
			moved++
		}
	}
	assert.Equal(t, w.count("c"), moved, "only the cameras c took changed hands")
	assert.InDelta(t, 30, w.count("c"), 2)
	edges := []string{w.current["cam-00"].Edge}
	assert.True(t, slices.Contains([]string{"a", "b", "c"}, edges[0]))
}

// A camera pinned to a full edge is not left unwatched: the edge hands on a camera another edge may
// take, and takes the pinned one.
func TestBalancePinnedCameraMakesRoom(t *testing.T) {
	w := newWorld(3)
	w.cams["cam-00"] = Camera{ID: "cam-00", Edges: []string{"a"}}
	w.edge("a", 2)
	w.edge("b", 2)
	w.give("cam-01", "a")
	w.give("cam-02", "a")
	for range 4 {
		w.step("a", "b")
	}
	assert.Equal(t, "a", w.current["cam-00"].Edge, "the pinned camera is on its edge")
	assert.False(t, w.current["cam-00"].Deleted)
	assert.Equal(t, 2, w.count("a"))
	assert.Equal(t, 1, w.count("b"))
}
