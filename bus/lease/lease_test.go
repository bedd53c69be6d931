package lease_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/natstest"
)

const ttl = 2 * time.Second

// ingest records which edge ingests which camera, failing the test the moment two edges would
// ingest one camera at once.
type ingest struct {
	t   *testing.T
	mu  sync.Mutex
	by  map[string]string // camera → edge
	log []string
}

func newIngest(t *testing.T) *ingest { return &ingest{t: t, by: map[string]string{}} }

func (in *ingest) start(edge string, l *lease.Lease) {
	in.mu.Lock()
	defer in.mu.Unlock()
	other, ok := in.by[l.Camera]
	assert.False(in.t, ok, "%s starts %s while %s still ingests it", edge, l.Camera, other)
	in.by[l.Camera] = edge
	in.log = append(in.log, fmt.Sprintf("%s +%s", edge, l.Camera))
}

func (in *ingest) stop(edge, camera string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.by[camera] == edge {
		delete(in.by, camera)
	}
	in.log = append(in.log, fmt.Sprintf("%s -%s", edge, camera))
}

// died stops everything edge ingested, as the death of its process does.
func (in *ingest) died(edge string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for c, e := range in.by {
		if e == edge {
			delete(in.by, c)
		}
	}
}

func (in *ingest) counts() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := map[string]int{}
	for _, e := range in.by {
		n[e]++
	}
	return n
}

func (in *ingest) owner(camera string) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.by[camera]
}

type edge struct {
	id     string
	holder *lease.Holder
	nc     *nats.Conn
	stop   func()
}

func setup(t *testing.T, c *natstest.Cluster, cams []lease.Camera) (*nats.Conn, *lease.Table) {
	t.Helper()
	return setupTTL(t, c, cams, ttl)
}

func setupTTL(t *testing.T, c *natstest.Cluster, cams []lease.Camera, ttl time.Duration) (*nats.Conn, *lease.Table) {
	t.Helper()
	nc := c.Connect(t, natstest.Center)
	js := natstest.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, lease.Provision(ctx, js, lease.Options{Replicas: len(c.Servers), SessionTTL: ttl}))
	require.NoError(t, lease.PublishCameras(ctx, js, cams))
	table, err := lease.NewTable(nc, nil)
	require.NoError(t, err)
	natstest.Run(t, table.Run)
	<-table.Ready()
	return nc, table
}

func cameras(n int) []lease.Camera {
	var out []lease.Camera
	for i := range n {
		out = append(out, lease.Camera{ID: fmt.Sprintf("cam-%d", i)})
	}
	return out
}

func startEdge(t *testing.T, o bus.ConnectOptions, in *ingest, capacity int, tune func(*lease.HolderOptions)) *edge {
	t.Helper()
	nc := natstest.Dial(t, o)
	opts := lease.HolderOptions{Edge: o.Name, Capacity: capacity, MinHold: 500 * time.Millisecond, OrphanGrace: 300 * time.Millisecond,
		Acquired: func(l *lease.Lease) { in.start(o.Name, l) },
		Released: func(camera string, _ lease.Reason) { in.stop(o.Name, camera) }}
	if tune != nil {
		tune(&opts)
	}
	h, err := lease.NewHolder(nc, opts)
	require.NoError(t, err)
	return &edge{id: o.Name, holder: h, nc: nc, stop: natstest.Run(t, h.Run)}
}

// kill ends the edge abruptly: its holder stops and its connection closes, nothing is released.
func (e *edge) kill(in *ingest) {
	e.stop()
	e.nc.Close()
	in.died(e.id)
}

func held(table *lease.Table) map[string]int {
	n := map[string]int{}
	for _, c := range table.Cameras() {
		if c.Live {
			n[c.Edge]++
		}
	}
	return n
}

// A killed edge's cameras are ingested again by a live edge within 5 s of its session's expiry; on
// a three-node cluster, as a city runs it.
func TestKilledEdgesCamerasMove(t *testing.T) {
	c := natstest.StartCluster(t, 3, "edge-a", "edge-b")
	_, table := setup(t, c, cameras(6))
	in := newIngest(t)
	a := startEdge(t, c.Options(t, "edge-a"), in, 10, nil)
	b := startEdge(t, c.Options(t, "edge-b"), in, 10, nil)
	require.Eventually(t, func() bool {
		n := in.counts()
		return n["edge-a"] >= 2 && n["edge-b"] >= 2 && n["edge-a"]+n["edge-b"] == 6
	}, 20*time.Second, 20*time.Millisecond, "shared within the hysteresis: %v", in.counts())
	_ = a

	var moved []string
	for _, cs := range table.Cameras() {
		if cs.Edge == "edge-b" {
			moved = append(moved, cs.Camera)
		}
	}
	killed := time.Now()
	b.kill(in)
	// The session expires on the server's clock: watch for it in the center's table.
	var expired time.Time
	require.Eventually(t, func() bool {
		for _, e := range table.Edges() {
			if e.Edge == "edge-b" {
				return false
			}
		}
		expired = time.Now()
		return true
	}, 3*ttl, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, cam := range moved {
			if in.owner(cam) != "edge-a" {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond, "moved within 5 s of the expiry")
	t.Logf("session TTL %v: expiry seen %v after the kill, cameras ingested again %v after the expiry",
		ttl, expired.Sub(killed).Round(time.Millisecond), time.Since(expired).Round(time.Millisecond))
	require.Eventually(t, func() bool { return held(table)["edge-a"] == 6 }, 5*time.Second, 10*time.Millisecond)
}

// A joining edge gets its share; then nothing moves.
func TestJoinRebalancesWithoutFlapping(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b", "edge-c")
	center, table := setup(t, c, cameras(9))
	in := newIngest(t)
	startEdge(t, c.Options(t, "edge-a"), in, 10, nil)
	require.Eventually(t, func() bool { return in.counts()["edge-a"] == 9 }, 10*time.Second, 20*time.Millisecond)
	startEdge(t, c.Options(t, "edge-b"), in, 10, nil)
	require.Eventually(t, func() bool { n := in.counts(); return n["edge-a"] == 5 && n["edge-b"] == 4 },
		10*time.Second, 20*time.Millisecond, "%v", in.counts())
	startEdge(t, c.Options(t, "edge-c"), in, 10, nil)
	require.Eventually(t, func() bool { return in.counts()["edge-c"] >= 2 }, 10*time.Second, 20*time.Millisecond, "%v", in.counts())

	// Settled: no lease is written for several session lifetimes.
	js := natstest.JetStream(t, center)
	kv, err := js.KeyValue(context.Background(), bus.BucketLeases)
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	st0, err := kv.Status(context.Background())
	require.NoError(t, err)
	time.Sleep(3 * ttl)
	st1, err := kv.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, st0.Values(), st1.Values(), "no lease changed while settled: %v", in.log)
	n := in.counts()
	assert.Equal(t, 9, n["edge-a"]+n["edge-b"]+n["edge-c"])
	for e, k := range n {
		assert.InDelta(t, 3, k, 1, "edge %s within the hysteresis of its share", e)
	}
	assert.Equal(t, n, held(table), "the center's table agrees with the edges")
}

func TestCapacityIsRespected(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	_, table := setup(t, c, cameras(5))
	in := newIngest(t)
	startEdge(t, c.Options(t, "edge-a"), in, 2, nil)
	startEdge(t, c.Options(t, "edge-b"), in, 1, nil)
	require.Eventually(t, func() bool { return len(held(table)) == 2 && held(table)["edge-a"] == 2 && held(table)["edge-b"] == 1 },
		10*time.Second, 20*time.Millisecond)
	time.Sleep(ttl)
	assert.Equal(t, map[string]int{"edge-a": 2, "edge-b": 1}, in.counts())
	var unheld int
	for _, cs := range table.Cameras() {
		if cs.Edge == "" {
			unheld++
		}
	}
	assert.Equal(t, 2, unheld)
	edges := table.Edges()
	require.Len(t, edges, 2)
	assert.Equal(t, lease.EdgeState{Edge: "edge-a", Capacity: 2, Cameras: 2}, lease.EdgeState{Edge: edges[0].Edge, Capacity: edges[0].Capacity, Cameras: edges[0].Cameras})
}

// Drain hands every camera over at once instead of after the session's expiry.
func TestDrainHandsOverAtOnce(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	_, table := setup(t, c, cameras(4))
	in := newIngest(t)
	a := startEdge(t, c.Options(t, "edge-a"), in, 10, nil)
	require.Eventually(t, func() bool { return in.counts()["edge-a"] == 4 }, 10*time.Second, 20*time.Millisecond)
	startEdge(t, c.Options(t, "edge-b"), in, 10, func(o *lease.HolderOptions) { o.MinHold = time.Hour })
	require.Eventually(t, func() bool { return in.counts()["edge-b"] == 2 }, 10*time.Second, 20*time.Millisecond)
	a.stop()
	drained := time.Now()
	require.NoError(t, a.holder.Drain(context.Background()))
	require.Eventually(t, func() bool { return held(table)["edge-b"] == 4 }, ttl, 5*time.Millisecond)
	t.Logf("drained cameras taken over in %v", time.Since(drained).Round(time.Millisecond))
	assert.Equal(t, map[string]int{"edge-b": 4}, in.counts())
}

// The fence: an edge cut off stops its camera before its session can expire; another edge takes it;
// what the first edge made while it held the camera is accepted even when it arrives late, what it
// would make afterwards is refused, and nobody can send under another's epoch.
func TestFenceRefusesStaleOwner(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	_, table := setup(t, c, cameras(1))
	in := newIngest(t)
	oa, link := c.Linked(t, "edge-a")
	stopped := make(chan lease.Reason, 1)
	a := startEdge(t, oa, in, 10, func(o *lease.HolderOptions) {
		o.Released = func(camera string, why lease.Reason) { in.stop("edge-a", camera); stopped <- why }
	})
	require.Eventually(t, func() bool { return in.owner("cam-0") == "edge-a" }, 10*time.Second, 10*time.Millisecond)
	la, ok := a.holder.Lease("cam-0")
	require.True(t, ok)
	startEdge(t, c.Options(t, "edge-b"), in, 10, nil)

	link.Cut()
	select {
	case why := <-stopped:
		assert.Equal(t, lease.ReasonFenced, why)
	case <-time.After(2 * ttl):
		require.Fail(t, "the cut-off edge did not stop its camera")
	}
	var madeBefore = time.Now().Add(-50 * time.Millisecond)
	require.Eventually(t, func() bool { return in.owner("cam-0") == "edge-b" }, 3*ttl, 10*time.Millisecond)
	// The center's table follows the lease bucket by a watch: it learns of edge-b's claim a moment
	// after edge-b does.
	require.Eventually(t, func() bool { e, _, ok := table.Owner("cam-0"); return ok && e == "edge-b" }, 3*ttl, 10*time.Millisecond)
	_, eb, _ := table.Owner("cam-0")
	require.Greater(t, eb, la.Epoch)

	assert.NoError(t, table.Check("cam-0", "edge-a", la.Epoch, madeBefore), "made while edge-a held it")
	assert.ErrorIs(t, table.Check("cam-0", "edge-a", la.Epoch, time.Now()), lease.ErrStale)
	assert.ErrorIs(t, table.Check("cam-0", "edge-b", la.Epoch, madeBefore), lease.ErrNotHolder)
	assert.ErrorIs(t, table.Check("cam-0", "edge-a", eb, time.Now()), lease.ErrNotHolder)
	assert.NoError(t, table.Check("cam-0", "edge-b", eb, time.Now()))
	assert.ErrorIs(t, table.Check("cam-0", "edge-b", eb+1000, time.Now()), lease.ErrUnknownEpoch)

	reg := prometheus.NewRegistry()
	reg.MustRegister(table)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	byName := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			byName[mf.GetName()] += v
		}
	}
	assert.Equal(t, 1.0, byName["snowlight_camera_holder"])
	assert.Equal(t, 3.0, byName["snowlight_fence_refused_total"])
	link.Restore()
}

// A camera only one edge may hold stays with it through an outage of its link longer than its
// session: it keeps ingesting, claims the camera again when back, and the center accepts what it made
// during the outage. SNOWLIGHT_LONG=1 makes the outage the 60 s.
func TestPinnedCameraKeptThroughOutage(t *testing.T) {
	outage := 3 * ttl
	if os.Getenv("SNOWLIGHT_LONG") == "1" {
		outage = 60 * time.Second
	}
	c := natstest.Start(t, "edge-a", "edge-b")
	_, table := setup(t, c, []lease.Camera{{ID: "cam-pinned", Edges: []string{"edge-a"}}, {ID: "cam-free"}})
	in := newIngest(t)
	oa, link := c.Linked(t, "edge-a")
	a := startEdge(t, oa, in, 10, nil)
	startEdge(t, c.Options(t, "edge-b"), in, 10, func(o *lease.HolderOptions) { o.MinHold = time.Hour })
	require.Eventually(t, func() bool { return in.owner("cam-pinned") == "edge-a" && in.owner("cam-free") != "" },
		10*time.Second, 10*time.Millisecond)
	before, _ := a.holder.Lease("cam-pinned")

	link.Cut()
	cut := time.Now()
	var made []time.Time
	for time.Since(cut) < outage {
		l, ok := a.holder.Lease("cam-pinned")
		require.True(t, ok, "the pinned camera is kept")
		var ev bus.Event
		l.Stamp(&ev)
		assert.Equal(t, before.Epoch, ev.Epoch)
		made = append(made, ev.Produced)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, "edge-a", in.owner("cam-pinned"))
	link.Restore()
	require.Eventually(t, func() bool {
		l, _ := a.holder.Lease("cam-pinned")
		e, epoch, ok := table.Owner("cam-pinned")
		return ok && e == "edge-a" && epoch == l.Epoch && l.Epoch > before.Epoch
	}, 5*ttl, 10*time.Millisecond, "claimed again under a new session")
	for _, p := range made {
		require.NoError(t, table.Check("cam-pinned", "edge-a", before.Epoch, p), "made during the outage at %v", p)
	}
}

// Losing one of three NATS servers (the leader of the sessions bucket) moves no camera with the
// default session TTL: renewals wait out the election within the session's lifetime.
func TestNodeLossMovesNoCamera(t *testing.T) {
	const ttl = 15 * time.Second // the default
	c := natstest.StartCluster(t, 3, "edge-a", "edge-b")
	center, table := setupTTL(t, c, cameras(4), ttl)
	js := natstest.JetStream(t, center)
	in := newIngest(t)
	startEdge(t, c.Options(t, "edge-a"), in, 10, nil)
	startEdge(t, c.Options(t, "edge-b"), in, 10, nil)
	require.Eventually(t, func() bool {
		n := held(table)
		return n["edge-a"]+n["edge-b"] == 4 && n["edge-a"] >= 1 && n["edge-b"] >= 1
	},
		20*time.Second, 20*time.Millisecond)
	time.Sleep(time.Second) // past MinHold: a move now would be the node loss's doing
	in.mu.Lock()
	before := len(in.log)
	in.mu.Unlock()

	s, err := js.Stream(context.Background(), "KV_"+bus.BucketEdges)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	for _, srv := range c.Servers {
		if srv.Name == info.Cluster.Leader {
			srv.Kill()
			t.Cleanup(func() { srv.Start() })
		}
	}
	// A session renewed just before the kill would expire a TTL later: it outlives that.
	time.Sleep(ttl + time.Second)
	in.mu.Lock()
	defer in.mu.Unlock()
	assert.Equal(t, in.log[:before], in.log, "no camera moved")
}

// BenchmarkWriteGapAfterLeaderKill measures how long a replicated bucket takes no writes after its
// leader is killed (kill -9), on a three-node cluster: what SessionTTL must outlast.
func BenchmarkWriteGapAfterLeaderKill(b *testing.B) {
	for range b.N {
		c := natstest.StartCluster(b, 3)
		js := natstest.JetStream(b, c.Connect(b, natstest.Center))
		ctx := context.Background()
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "gap", Replicas: 3})
		require.NoError(b, err)
		s, err := js.Stream(ctx, "KV_gap")
		require.NoError(b, err)
		info, err := s.Info(ctx)
		require.NoError(b, err)
		put := func() bool {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_, err := kv.Put(pctx, "k", []byte("v"))
			return err == nil
		}
		require.True(b, put())
		var killed *natstest.Server
		for _, srv := range c.Servers {
			if srv.Name == info.Cluster.Leader {
				killed = srv
			}
		}
		killed.Kill()
		at := time.Now()
		for !put() {
			time.Sleep(50 * time.Millisecond)
		}
		gap := time.Since(at)
		b.Logf("writes resumed %v after the leader was killed", gap.Round(10*time.Millisecond))
		b.ReportMetric(gap.Seconds(), "gap-s")
	}
}
