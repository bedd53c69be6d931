package lease_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/natstest"
	"snowlight/bus/outbox"
)

// Through the whole path: an edge cut off keeps sending under its old lease (as a paused or buggy
// edge would, past its own fence); after another edge took the camera and the link is back, the
// center applies what the first edge made while it held the camera and refuses the rest.
func TestStaleOwnersEventsRefusedByTheCenter(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	center, table := setup(t, c, cameras(1))
	js := natstest.JetStream(t, center)
	_, err := bus.ProvisionEvents(context.Background(), js, bus.StreamOptions{MaxBytes: 64 << 20})
	require.NoError(t, err)
	in := newIngest(t)
	oa, link := c.Linked(t, "edge-a")
	a := startEdge(t, oa, in, 10, nil)
	require.Eventually(t, func() bool { return in.owner("cam-0") == "edge-a" }, 10*time.Second, 10*time.Millisecond)
	la, _ := a.holder.Lease("cam-0")

	pub := publisher(t, a)
	send := func() string {
		ev := bus.Event{Kind: "sighting", Payload: []byte("{}")}
		la.Stamp(&ev)
		require.NoError(t, pub.Publish(&ev))
		return ev.MessageID()
	}

	startEdge(t, c.Options(t, "edge-b"), in, 10, nil)
	link.Cut()
	legit := []string{send(), send()}
	require.Eventually(t, func() bool { e, _, ok := table.Owner("cam-0"); return ok && e == "edge-b" }, 4*ttl, 10*time.Millisecond)
	stale := []string{send(), send(), send()}
	link.Restore()

	var mu sync.Mutex
	applied, refused := map[string]bool{}, map[string]error{}
	natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{
			DeadLetter: func(_ context.Context, d bus.Delivery, err error) {
				mu.Lock()
				defer mu.Unlock()
				refused[d.MessageID()] = err
			}},
			table.Fence(func(_ context.Context, d bus.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				applied[d.MessageID()] = true
				return nil
			}))
	})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(applied)+len(refused) == 5
	}, 20*time.Second, 20*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range legit {
		assert.True(t, applied[id], "%s was made while edge-a held the camera", id)
	}
	for _, id := range stale {
		assert.True(t, errors.Is(refused[id], lease.ErrStale), "%s: %v", id, refused[id])
	}
}

// The acceptance in small: an edge cut off keeps ingesting its (pinned) camera; every event of
// the outage arrives after reconnection, is accepted by the fence under the epoch it was made in, and
// is applied once, with the time it was made. SNOWLIGHT_LONG=1 makes the outage 60 s.
func TestOutageEventsArriveOnceWithTrueTimes(t *testing.T) {
	outage := 3 * ttl
	if os.Getenv("SNOWLIGHT_LONG") == "1" {
		outage = 60 * time.Second
	}
	c := natstest.Start(t, "edge-a")
	center, table := setup(t, c, []lease.Camera{{ID: "cam-0", Edges: []string{"edge-a"}}})
	js := natstest.JetStream(t, center)
	_, err := bus.ProvisionEvents(context.Background(), js, bus.StreamOptions{MaxBytes: 64 << 20})
	require.NoError(t, err)
	in := newIngest(t)
	oa, link := c.Linked(t, "edge-a")
	a := startEdge(t, oa, in, 10, nil)
	require.Eventually(t, func() bool { return in.owner("cam-0") == "edge-a" }, 10*time.Second, 10*time.Millisecond)

	pub := publisher(t, a)

	var mu sync.Mutex
	applied := map[string]int{}
	stored := map[string]time.Time{}
	natstest.Run(t, func(ctx context.Context) error {
		return bus.Consume(ctx, js, bus.ConsumerOptions{}, table.Fence(func(_ context.Context, d bus.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			applied[d.MessageID()]++
			stored[d.MessageID()] = d.Produced
			return nil
		}))
	})

	made := map[string]time.Time{}
	link.Cut()
	cut := time.Now()
	for time.Since(cut) < outage {
		l, ok := a.holder.Lease("cam-0")
		require.True(t, ok, "the pinned camera is kept through the outage")
		ev := bus.Event{Kind: "sighting", Payload: []byte(`{}`)}
		l.Stamp(&ev)
		require.NoError(t, pub.Publish(&ev))
		made[ev.MessageID()] = ev.Produced
		time.Sleep(100 * time.Millisecond)
	}
	link.Restore()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(applied) == len(made)
	}, 30*time.Second, 20*time.Millisecond, "every event of the outage arrives")
	mu.Lock()
	defer mu.Unlock()
	for id, at := range made {
		assert.Equal(t, 1, applied[id], "%s once", id)
		assert.True(t, stored[id].Equal(at), "%s keeps its time", id)
	}
	t.Logf("%d events made during a %v outage, all applied once after reconnection", len(made), outage)
}

// publisher runs a publisher over a fresh outbox on the edge's connection.
func publisher(t *testing.T, e *edge) *bus.Publisher {
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { ob.Close() })
	pub, err := bus.NewPublisher(e.nc, ob, bus.PublisherOptions{RetryWait: 50 * time.Millisecond})
	require.NoError(t, err)
	natstest.Run(t, pub.Run)
	return pub
}
