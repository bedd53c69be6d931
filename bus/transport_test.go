package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/natstest"
	"snowlight/bus/outbox"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func provision(t *testing.T, c *natstest.Cluster) jetstream.JetStream {
	t.Helper()
	js := natstest.JetStream(t, c.Connect(t, natstest.Center))
	_, err := bus.ProvisionEvents(ctxT(t), js, bus.StreamOptions{Replicas: len(c.Servers), MaxBytes: 256 << 20})
	require.NoError(t, err)
	return js
}

// edge is an edge's publishing side: an outbox in dir and a publisher over nc.
type edge struct {
	id  string
	pub *bus.Publisher
	ob  *outbox.Outbox
	seq map[string]uint64
}

func newEdge(t *testing.T, id string, nc *nats.Conn, dir string) (*edge, func()) {
	t.Helper()
	ob, err := outbox.Open(dir, outbox.Options{})
	require.NoError(t, err)
	pub, err := bus.NewPublisher(nc, ob, bus.PublisherOptions{AckTimeout: 2 * time.Second, RetryWait: 50 * time.Millisecond,
		Metrics: bus.NewMetrics(prometheus.NewRegistry())})
	require.NoError(t, err)
	stop := natstest.Run(t, pub.Run)
	return &edge{id: id, pub: pub, ob: ob, seq: map[string]uint64{}}, func() { stop(); ob.Close() }
}

// publish queues one event for camera under epoch 1 and returns its message id.
func (e *edge) publish(t *testing.T, camera string) string {
	t.Helper()
	e.seq[camera]++
	ev := &bus.Event{Edge: e.id, Camera: camera, Kind: "sighting", Epoch: 1, Seq: e.seq[camera],
		Produced: time.Now(), Payload: fmt.Appendf(nil, `{"n":%d}`, e.seq[camera])}
	require.NoError(t, e.pub.Publish(ev))
	return ev.MessageID()
}

// sink records what the center's handler saw.
type sink struct {
	mu    sync.Mutex
	seen  map[string]int // message id → times handled
	order map[string][]uint64
	got   []bus.Delivery
}

func newSink() *sink { return &sink{seen: map[string]int{}, order: map[string][]uint64{}} }

func (s *sink) handle(_ context.Context, d bus.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[d.MessageID()]++
	s.order[d.Camera] = append(s.order[d.Camera], d.Seq)
	s.got = append(s.got, d)
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// waitAll waits until every id was handled and checks none was handled twice.
func (s *sink) waitAll(t *testing.T, ids []string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return s.count() >= len(ids) }, within, 20*time.Millisecond,
		"handled %d of %d events", s.count(), len(ids))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		assert.Equal(t, 1, s.seen[id], "event %s handled once", id)
	}
	assert.Len(t, s.seen, len(ids), "no event that was not published")
}

func TestEventsArriveOncePerCameraInOrder(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	js := provision(t, c)
	e, _ := newEdge(t, "edge-a", c.Connect(t, "edge-a"), t.TempDir())
	var ids []string
	for i := range 300 {
		ids = append(ids, e.publish(t, fmt.Sprintf("cam-%d", i%3)))
	}
	s := newSink()
	natstest.Run(t, func(ctx context.Context) error { return bus.Consume(ctx, js, bus.ConsumerOptions{}, s.handle) })
	s.waitAll(t, ids, 20*time.Second)
	for cam, seqs := range s.order {
		assert.IsIncreasing(t, seqs, "camera %s in order", cam)
	}
	d := s.got[0]
	assert.Equal(t, "edge-a", d.Edge)
	assert.Equal(t, uint64(1), d.Delivered)
	assert.WithinDuration(t, time.Now(), d.Stored, time.Minute)
	assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, d.Seq), string(d.Payload))

	m := bus.NewMetrics(prometheus.NewRegistry())
	lag, err := bus.ConsumerLag(ctxT(t), js, "", m)
	require.NoError(t, err)
	assert.Zero(t, lag.Pending+lag.AckPending)
	backlog, err := bus.EdgeBacklog(ctxT(t), js, m)
	require.NoError(t, err)
	assert.Zero(t, backlog["edge-a"], "applied events leave the work queue")
}

// An edge cut off from NATS keeps publishing into its outbox; every event of the outage arrives after
// the link is back, once, with the time it was made.
func TestLinkCutEventsArriveAfterwardsOnce(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	js := provision(t, c)
	o, link := c.Linked(t, "edge-a")
	e, _ := newEdge(t, "edge-a", natstest.Dial(t, o), t.TempDir())
	s := newSink()
	natstest.Run(t, func(ctx context.Context) error { return bus.Consume(ctx, js, bus.ConsumerOptions{}, s.handle) })

	var ids []string
	tick := func(n int) {
		for range n {
			ids = append(ids, e.publish(t, "cam-1"))
			time.Sleep(10 * time.Millisecond)
		}
	}
	tick(50)
	link.Cut()
	cutAt := time.Now()
	tick(200) // about 2 s of events with the link down
	restoredAt := time.Now()
	assert.Positive(t, e.pub.Stats().Records, "the outage's events wait in the outbox")
	link.Restore()
	tick(50)
	s.waitAll(t, ids, 30*time.Second)

	var during int
	s.mu.Lock()
	for _, d := range s.got {
		if d.Produced.After(cutAt) && d.Produced.Before(restoredAt) {
			during++
			assert.True(t, d.Stored.After(d.Produced), "stored after it was made")
		}
	}
	s.mu.Unlock()
	assert.GreaterOrEqual(t, during, 150, "events made during the cut keep their times")
	assert.Zero(t, e.pub.Stats().Records)
}

// An edge that stops with events still queued sends them when it starts again.
func TestEdgeRestartSendsWhatItQueued(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	js := provision(t, c)
	o, link := c.Linked(t, "edge-a")
	dir := t.TempDir()
	e, stop := newEdge(t, "edge-a", natstest.Dial(t, o), dir)
	link.Cut()
	var ids []string
	for range 20 {
		ids = append(ids, e.publish(t, "cam-1"))
	}
	stop() // the edge process ends while cut off
	link.Restore()

	e2, _ := newEdge(t, "edge-a", natstest.Dial(t, o), dir)
	e2.seq = e.seq
	ids = append(ids, e2.publish(t, "cam-1"))
	s := newSink()
	natstest.Run(t, func(ctx context.Context) error { return bus.Consume(ctx, js, bus.ConsumerOptions{}, s.handle) })
	s.waitAll(t, ids, 20*time.Second)
	assert.IsIncreasing(t, s.order["cam-1"], "the queued events went first")
}

// Stopping (kill -9) one node of three while events flow loses nothing.
func TestClusterNodeKilledLosesNothing(t *testing.T) {
	c := natstest.StartCluster(t, 3, "edge-a")
	js := provision(t, c)
	e, _ := newEdge(t, "edge-a", c.Connect(t, "edge-a"), t.TempDir())
	s := newSink()
	var handled atomic.Int64
	natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{AckWait: 2 * time.Second}, func(ctx context.Context, d bus.Delivery) error {
			handled.Add(1)
			return s.handle(ctx, d)
		})
	})
	// The node to kill is the stream's leader, the one that orders its writes.
	stream, err := js.Stream(ctxT(t), bus.StreamEvents)
	require.NoError(t, err)
	info, err := stream.Info(ctxT(t))
	require.NoError(t, err)
	var leader *natstest.Server
	for _, srv := range c.Servers {
		if srv.Name == info.Cluster.Leader {
			leader = srv
		}
	}
	require.NotNil(t, leader, "stream leader %q", info.Cluster.Leader)
	var ids []string
	for i := range 400 {
		ids = append(ids, e.publish(t, fmt.Sprintf("cam-%d", i%4)))
		if i == 150 {
			leader.Kill()
		}
		if i == 300 {
			require.NoError(t, leader.Start())
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return s.count() >= len(ids) }, 60*time.Second, 50*time.Millisecond,
		"handled %d of %d events", s.count(), len(ids))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		assert.Positive(t, s.seen[id], "event %s arrived", id)
	}
	// A leader change may lose an ack, so an event can be delivered twice: the center's apply is
	// idempotent for that (bus/ledger). Report how often it happened.
	t.Logf("%d events, %d deliveries", len(ids), handled.Load())
}

func TestRedeliveryRefusalAndDeadLetters(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	js := provision(t, c)
	e, _ := newEdge(t, "edge-a", c.Connect(t, "edge-a"), t.TempDir())
	flaky := e.publish(t, "cam-flaky")     // fails twice, then applies
	refused := e.publish(t, "cam-refused") // refused at once
	broken := e.publish(t, "cam-broken")   // fails at every delivery

	var mu sync.Mutex
	deliveries := map[string]int{}
	dead := map[string]error{}
	applied := map[string]bool{}
	natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{MaxDeliver: 3, Backoff: []time.Duration{50 * time.Millisecond},
			DeadLetter: func(_ context.Context, d bus.Delivery, err error) {
				mu.Lock()
				defer mu.Unlock()
				dead[d.MessageID()] = err
			}},
			func(_ context.Context, d bus.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				id := d.MessageID()
				deliveries[id]++
				switch {
				case id == refused:
					return bus.Refuse(errors.New("stale epoch"))
				case id == broken, id == flaky && deliveries[id] <= 2:
					return errors.New("store busy")
				}
				applied[id] = true
				return nil
			})
	})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return applied[flaky] && len(dead) == 2
	}, 20*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // room for a wrong redelivery to show
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, deliveries[flaky])
	assert.Equal(t, 1, deliveries[refused], "a refused event is not delivered again")
	assert.Equal(t, 3, deliveries[broken], "bounded by MaxDeliver")
	assert.True(t, bus.IsRefused(dead[refused]))
	assert.ErrorContains(t, dead[broken], "after 3 deliveries")
}

// A message on an event subject without the envelope is refused, not retried.
func TestMalformedEventIsRefused(t *testing.T) {
	c := natstest.Start(t)
	js := provision(t, c)
	_, err := js.Publish(ctxT(t), bus.EventSubject("edge-a", "cam-1", "sighting"), []byte("{}"))
	require.NoError(t, err)
	deadc := make(chan error, 1)
	natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{DeadLetter: func(_ context.Context, _ bus.Delivery, err error) { deadc <- err }},
			func(context.Context, bus.Delivery) error {
				assert.Fail(t, "handler called for a malformed event")
				return nil
			})
	})
	select {
	case err := <-deadc:
		assert.True(t, bus.IsRefused(err))
		assert.ErrorContains(t, err, bus.HeaderEpoch)
	case <-time.After(10 * time.Second):
		require.Fail(t, "no dead letter")
	}
}

// A center that stops hands back what it had pulled: the next one gets it at once, not after AckWait.
func TestCenterRestartTakesOverAtOnce(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	js := provision(t, c)
	e, _ := newEdge(t, "edge-a", c.Connect(t, "edge-a"), t.TempDir())
	var ids []string
	for range 200 {
		ids = append(ids, e.publish(t, "cam-1"))
	}
	s := newSink()
	var n atomic.Int64
	stop := natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{AckWait: time.Minute}, func(ctx context.Context, d bus.Delivery) error {
			if n.Add(1) > 50 {
				<-ctx.Done() // the center stops in the middle of its work
				return ctx.Err()
			}
			return s.handle(ctx, d)
		})
	})
	require.Eventually(t, func() bool { return n.Load() > 50 }, 10*time.Second, 10*time.Millisecond)
	stop()
	natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{AckWait: time.Minute}, s.handle)
	})
	s.waitAll(t, ids, 15*time.Second) // well within the minute of AckWait
}
