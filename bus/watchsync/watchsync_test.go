package watchsync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/natstest"
	"snowlight/bus/watchsync"
	"snowlight/watchlist"
)

func person(id string, expires time.Time) watchlist.Person {
	return watchlist.Person{ID: id, Name: "Name of " + id, Category: watchlist.Missing, EmbeddingModel: "sha",
		Embeddings: [][]float32{{0.6, 0.8}}, LegalBasis: "court order 1", GuardianContact: "+1 555", Expires: expires}
}

func source(t *testing.T, c *natstest.Cluster) *watchsync.Source {
	t.Helper()
	js := natstest.JetStream(t, c.Connect(t, natstest.Center))
	ctx := context.Background()
	require.NoError(t, watchsync.Provision(ctx, js, len(c.Servers)))
	src, err := watchsync.NewSource(ctx, js, 250*time.Millisecond, nil)
	require.NoError(t, err)
	natstest.Run(t, src.Run)
	return src
}

func replica(t *testing.T, nc *nats.Conn) *watchsync.Replica {
	t.Helper()
	r, err := watchsync.NewReplica(nc, time.Second, nil)
	require.NoError(t, err)
	natstest.Run(t, r.Run)
	return r
}

func ids(r *watchsync.Replica) []string {
	var out []string
	for _, p := range r.Snapshot(time.Now()).Persons {
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

// waitGone polls until id is no longer in the replica's snapshot and returns how long that took.
func waitGone(t *testing.T, r *watchsync.Replica, id string, from time.Time) time.Duration {
	t.Helper()
	require.Eventually(t, func() bool { return !slices.Contains(ids(r), id) }, 5*time.Second, 2*time.Millisecond,
		"%s still matches 5 s later", id)
	return time.Since(from)
}

// A removed entry stops matching on every edge within 5 s (a legal requirement); edges get only what
// matching needs.
func TestRemovalStopsMatchingOnEveryEdge(t *testing.T) {
	c := natstest.StartCluster(t, 3, "edge-a", "edge-b")
	src := source(t, c)
	ctx := context.Background()
	require.NoError(t, src.Sync(ctx, []watchlist.Person{person("p1", time.Time{}), person("p.2.", time.Time{}), person("p3", time.Time{})}))
	edges := []*watchsync.Replica{replica(t, c.Connect(t, "edge-a")), replica(t, c.Connect(t, "edge-b"))}
	for _, r := range edges {
		require.Eventually(t, func() bool { return slices.Equal(ids(r), []string{"p.2.", "p1", "p3"}) }, 10*time.Second, 5*time.Millisecond)
	}
	p := edges[0].Snapshot(time.Now()).Persons[0]
	assert.Empty(t, p.Name, "the edge gets no name")
	assert.Empty(t, p.LegalBasis+p.GuardianContact)
	assert.Equal(t, [][]float32{{0.6, 0.8}}, p.Embeddings)

	changed := edges[0].Changed()
	removed := time.Now()
	require.NoError(t, src.Remove(ctx, "p.2."))
	for i, r := range edges {
		t.Logf("edge %d stops matching the removed entry after %v", i, waitGone(t, r, "p.2.", removed).Round(time.Millisecond))
	}
	select {
	case <-changed:
	default:
		assert.Fail(t, "Changed did not fire")
	}

	// An entry's expiry too, with or without the center's help.
	require.NoError(t, src.Put(ctx, person("p4", time.Now().Add(1500*time.Millisecond))))
	require.Eventually(t, func() bool { return slices.Contains(ids(edges[1]), "p4") }, 5*time.Second, 5*time.Millisecond)
	expires := time.Now().Add(1500 * time.Millisecond)
	time.Sleep(time.Until(expires))
	t.Logf("edge stops matching an expired entry %v after its expiry", waitGone(t, edges[1], "p4", expires).Round(time.Millisecond))
}

// An edge that cannot hear the center matches nobody within StaleAfter, and once the link is back it
// knows what was removed meanwhile.
func TestCutOffEdgeFailsClosed(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	src := source(t, c)
	ctx := context.Background()
	require.NoError(t, src.Sync(ctx, []watchlist.Person{person("p1", time.Time{}), person("p2", time.Time{})}))
	o, link := c.Linked(t, "edge-a")
	r := replica(t, natstest.Dial(t, o))
	require.Eventually(t, func() bool { return len(ids(r)) == 2 && r.Snapshot(time.Now()).Fresh }, 10*time.Second, 5*time.Millisecond)

	link.Cut()
	cut := time.Now()
	require.NoError(t, src.Remove(ctx, "p1"))
	t.Logf("cut-off edge stops matching after %v", waitGone(t, r, "p1", cut).Round(time.Millisecond))
	s := r.Snapshot(time.Now())
	assert.False(t, s.Fresh)
	assert.Empty(t, s.Persons, "nobody matches while stale")

	link.Restore()
	require.Eventually(t, func() bool { return r.Snapshot(time.Now()).Fresh }, 15*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"p2"}, ids(r), "the removal made during the outage holds")
}

// A center that stops beating (dead or cut off from the edges) makes every edge stop matching.
func TestSilentCenterStopsMatching(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	js := natstest.JetStream(t, c.Connect(t, natstest.Center))
	ctx := context.Background()
	require.NoError(t, watchsync.Provision(ctx, js, 1))
	src, err := watchsync.NewSource(ctx, js, 250*time.Millisecond, nil)
	require.NoError(t, err)
	stop := natstest.Run(t, src.Run)
	require.NoError(t, src.Put(ctx, person("p1", time.Time{})))
	r := replica(t, c.Connect(t, "edge-a"))
	require.Eventually(t, func() bool { return len(ids(r)) == 1 }, 10*time.Second, 5*time.Millisecond)
	stop()
	silent := time.Now()
	t.Logf("edge stops matching %v after the center's last beat", waitGone(t, r, "p1", silent).Round(time.Millisecond))
}
