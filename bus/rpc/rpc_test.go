package rpc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/lease"
	"snowlight/bus/natstest"
	"snowlight/bus/rpc"
)

// edge is a test edge: a lease holder, and a ring that has what the edge ingested since it took the
// camera (until it stopped).
type edge struct {
	id     string
	holder *lease.Holder
	stopH  func()
	serve  func()

	mu   sync.Mutex
	ring map[string][]rpc.Interval
}

func startEdge(t *testing.T, c *natstest.Cluster, id string) *edge {
	t.Helper()
	nc := c.Connect(t, id)
	e := &edge{id: id, ring: map[string][]rpc.Interval{}}
	h, err := lease.NewHolder(nc, lease.HolderOptions{Edge: id, Capacity: 10, MinHold: time.Hour, OrphanGrace: 100 * time.Millisecond,
		Acquired: func(l *lease.Lease) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.ring[l.Camera] = append(e.ring[l.Camera], rpc.Interval{From: time.Now(), To: time.Now().Add(time.Hour)})
		},
		Released: func(camera string, _ lease.Reason) {
			e.mu.Lock()
			defer e.mu.Unlock()
			r := e.ring[camera]
			r[len(r)-1].To = time.Now()
		}})
	require.NoError(t, err)
	e.holder = h
	e.stopH = natstest.Run(t, h.Run)
	e.serve = natstest.Run(t, func(ctx context.Context) error { return rpc.Serve(ctx, nc, id, e.handlers()) })
	return e
}

func (e *edge) handlers() rpc.EdgeHandlers {
	return rpc.EdgeHandlers{
		Clip: func(_ context.Context, r rpc.ClipRequest) (rpc.ClipReply, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			reply := rpc.ClipReply{Covered: e.ring[r.Camera], Object: "clip/" + e.id + ".mp4"}
			if r.Snapshot != nil {
				reply.Snapshot, reply.SnapshotAt = "snapshot/"+e.id+".jpg", r.Snapshot.At
			}
			return reply, nil
		},
		WHEP: func(_ context.Context, o rpc.WHEPOffer) (rpc.WHEPAnswer, error) {
			return rpc.WHEPAnswer{SDP: "answer from " + e.id + " to " + o.SDP, Session: e.id + "-1"}, nil
		},
		WHEPClose: func(context.Context, rpc.WHEPClose) error { return nil },
		Holds:     func(camera string) bool { _, ok := e.holder.Lease(camera); return ok },
	}
}

func (e *edge) drain(t *testing.T) {
	e.stopH()
	require.NoError(t, e.holder.Drain(context.Background()))
}

func setup(t *testing.T) (*natstest.Cluster, *rpc.Client, *lease.Table) {
	c := natstest.Start(t, "edge-a", "edge-b")
	nc := c.Connect(t, natstest.Center)
	js := natstest.JetStream(t, nc)
	ctx := context.Background()
	require.NoError(t, lease.Provision(ctx, js, lease.Options{SessionTTL: 2 * time.Second}))
	require.NoError(t, lease.PublishCameras(ctx, js, []lease.Camera{{ID: "cam-0"}}))
	table, err := lease.NewTable(nc, nil)
	require.NoError(t, err)
	natstest.Run(t, table.Run)
	<-table.Ready()
	return c, rpc.NewClient(nc, table), table
}

func holder(table *lease.Table) string {
	e, _, _ := table.Owner("cam-0")
	return e
}

// The camera moved from one edge to another within the window: each gives its part, and what
// nobody could give is reported lost with the reason.
func TestClipAcrossAMove(t *testing.T) {
	c, client, table := setup(t)
	start := time.Now()
	a := startEdge(t, c, "edge-a")
	require.Eventually(t, func() bool { return holder(table) == "edge-a" }, 10*time.Second, 5*time.Millisecond)
	b := startEdge(t, c, "edge-b")
	time.Sleep(200 * time.Millisecond)
	a.drain(t)
	require.Eventually(t, func() bool { return holder(table) == "edge-b" }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	end := time.Now()

	moment := end.Add(-100 * time.Millisecond)
	ev, err := client.Clip(context.Background(), rpc.ClipRequest{Camera: "cam-0", Interval: rpc.Interval{From: start.Add(-time.Second), To: end},
		Ref: "alert/1", Snapshot: &rpc.SnapshotRequest{At: moment}})
	require.NoError(t, err)
	assert.Equal(t, "snapshot/edge-b.jpg", ev.Snapshot, "the snapshot comes from the edge that held the camera at its moment")
	assert.True(t, moment.Equal(ev.SnapshotAt), "snapshot at %v", ev.SnapshotAt)
	require.Len(t, ev.Parts, 2)
	assert.Equal(t, "edge-a", ev.Parts[0].Edge)
	assert.Equal(t, "clip/edge-a.mp4", ev.Parts[0].Object)
	assert.Equal(t, "edge-b", ev.Parts[1].Edge)
	assert.Equal(t, end, ev.Parts[1].To)
	require.NotEmpty(t, ev.Lost)
	assert.Equal(t, start.Add(-time.Second), ev.Lost[0].From, "before anyone held the camera")
	var lost time.Duration
	for _, l := range ev.Lost[1:] {
		lost += l.To.Sub(l.From)
		assert.NotContains(t, l.Reason, "did not answer")
	}
	t.Logf("handover: %v of the window lost (%d gaps)", lost, len(ev.Lost)-1)
	assert.Less(t, lost, time.Second, "the handover loses a moment, no more")

	b.serve() // edge-b is gone (a request that reaches it before its unsubscribe does waits out the timeout)
	client.ClipTimeout = 2 * time.Second
	ev, err = client.Clip(context.Background(), rpc.ClipRequest{Camera: "cam-0", Interval: rpc.Interval{From: start, To: end}, Ref: "alert/1"})
	require.NoError(t, err)
	require.Len(t, ev.Parts, 1)
	assert.Equal(t, "edge-a", ev.Parts[0].Edge)
	last := ev.Lost[len(ev.Lost)-1]
	assert.Equal(t, end, last.To)
	assert.Contains(t, last.Reason, "edge edge-b did not answer")

	_, err = client.Clip(context.Background(), rpc.ClipRequest{Camera: "cam.0", Interval: rpc.Interval{From: start, To: end}})
	assert.ErrorIs(t, err, rpc.ErrInvalid)
}

func TestWHEPRelayFollowsTheHolder(t *testing.T) {
	c, client, table := setup(t)
	ctx := context.Background()
	a := startEdge(t, c, "edge-a")
	require.Eventually(t, func() bool { return holder(table) == "edge-a" }, 10*time.Second, 5*time.Millisecond)
	b := startEdge(t, c, "edge-b")

	ans, edge, err := client.WHEP(ctx, rpc.WHEPOffer{Camera: "cam-0", SDP: "v=0 offer"})
	require.NoError(t, err)
	assert.Equal(t, "edge-a", edge)
	assert.Equal(t, "answer from edge-a to v=0 offer", ans.SDP)
	require.NoError(t, client.WHEPClose(ctx, edge, rpc.WHEPClose{Camera: "cam-0", Session: ans.Session}))

	a.drain(t)
	require.Eventually(t, func() bool { return holder(table) == "edge-b" }, 10*time.Second, 5*time.Millisecond)
	ans, edge, err = client.WHEP(ctx, rpc.WHEPOffer{Camera: "cam-0", SDP: "v=0 again"})
	require.NoError(t, err)
	assert.Equal(t, "edge-b", edge)
	assert.True(t, strings.HasPrefix(ans.SDP, "answer from edge-b"))

	b.drain(t)
	_, _, err = client.WHEP(ctx, rpc.WHEPOffer{Camera: "cam-0", SDP: "v=0"})
	assert.ErrorIs(t, err, rpc.ErrUnavailable, "nobody holds the camera")
}

// staleOwners names edge-a first, as a table that has not yet seen the camera move would.
type staleOwners struct{ calls int }

func (s *staleOwners) Owner(string) (string, uint64, bool) {
	s.calls++
	if s.calls == 1 {
		return "edge-a", 1, true
	}
	return "edge-b", 2, true
}

func (s *staleOwners) Holders(string, time.Time, time.Time) []lease.Span { return nil }

func (s *staleOwners) Edges() []lease.EdgeState {
	return []lease.EdgeState{{Edge: "edge-a"}, {Edge: "edge-b"}}
}

// Enrolment photos go to a live edge; one that fails is passed over for the next; a request the
// edge finds invalid is not tried elsewhere. A viewer's session is asked after on its edge.
func TestEmbedAndWHEPAlive(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	asked := map[string]int{}
	var mu sync.Mutex
	for _, id := range []string{"edge-a", "edge-b"} {
		nc := c.Connect(t, id)
		natstest.Run(t, func(ctx context.Context) error {
			return rpc.Serve(ctx, nc, id, rpc.EdgeHandlers{
				Embed: func(_ context.Context, r rpc.EmbedRequest) (rpc.EmbedReply, error) {
					mu.Lock()
					asked[id]++
					mu.Unlock()
					if id == "edge-a" {
						return rpc.EmbedReply{}, fmt.Errorf("models not loaded: %w", rpc.ErrUnavailable)
					}
					out := rpc.EmbedReply{Model: "sha-of-model"}
					for _, p := range r.Photos {
						out.Photos = append(out.Photos, rpc.Embedded{Embedding: []float32{float32(len(p.Data))}})
					}
					return out, nil
				},
				WHEPAlive: func(session string) bool { return session == "s-1" },
			})
		})
	}
	client := rpc.NewClient(c.Connect(t, natstest.Center), &staleOwners{})
	big := make([]byte, 3<<20) // a photo far above the request limit of other operations
	for range 2 {
		r, err := client.Embed(t.Context(), rpc.EmbedRequest{Photos: []rpc.Photo{{Name: "a.jpg", Data: big}}})
		require.NoError(t, err)
		assert.Equal(t, "sha-of-model", r.Model)
		require.Len(t, r.Photos, 1)
		assert.Equal(t, []float32{3 << 20}, r.Photos[0].Embedding)
	}
	assert.Equal(t, 2, asked["edge-b"])
	_, err := client.Embed(t.Context(), rpc.EmbedRequest{})
	assert.ErrorIs(t, err, rpc.ErrInvalid)

	alive, err := client.WHEPAlive(t.Context(), "edge-a", rpc.WHEPClose{Camera: "cam-0", Session: "s-1"})
	require.NoError(t, err)
	assert.True(t, alive)
	alive, err = client.WHEPAlive(t.Context(), "edge-a", rpc.WHEPClose{Camera: "cam-0", Session: "s-2"})
	require.NoError(t, err)
	assert.False(t, alive)
}

// An edge asked for a camera it no longer holds says so, and the center asks the new holder.
func TestWHEPRetriesTheNewHolder(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	for _, id := range []string{"edge-a", "edge-b"} {
		nc := c.Connect(t, id)
		natstest.Run(t, func(ctx context.Context) error {
			return rpc.Serve(ctx, nc, id, rpc.EdgeHandlers{
				Holds: func(string) bool { return id == "edge-b" },
				WHEP: func(_ context.Context, o rpc.WHEPOffer) (rpc.WHEPAnswer, error) {
					return rpc.WHEPAnswer{SDP: id}, nil
				}})
		})
	}
	client := rpc.NewClient(c.Connect(t, natstest.Center), &staleOwners{})
	ans, edge, err := client.WHEP(context.Background(), rpc.WHEPOffer{Camera: "cam-0", SDP: "v=0"})
	require.NoError(t, err)
	assert.Equal(t, "edge-b", edge)
	assert.Equal(t, "edge-b", ans.SDP)
}

func TestMalformedAndUnknownRequests(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	nc := c.Connect(t, "edge-a")
	natstest.Run(t, func(ctx context.Context) error { return rpc.Serve(ctx, nc, "edge-a", rpc.EdgeHandlers{}) })
	center := c.Connect(t, natstest.Center)
	for _, tc := range []struct {
		subject, body, code string
	}{
		{"snowlight.rpc.edge-a.clip", "not json", "invalid"},
		{"snowlight.rpc.edge-a.clip", `{"camera":"cam-0","from":"2020-01-02T00:00:00Z","to":"2020-01-01T00:00:00Z"}`, "invalid"},
		{"snowlight.rpc.edge-a.whep", `{"camera":"cam-0","sdp":"v=0"}`, "unknown"},
		{"snowlight.rpc.edge-a.reboot", `{}`, "unknown"},
		{"snowlight.rpc.edge-a.clip", `{"camera":"cam-0","sdp":"` + strings.Repeat("x", 70<<10) + `"}`, "invalid"},
	} {
		m, err := center.Request(tc.subject, []byte(tc.body), 5*time.Second)
		require.NoError(t, err)
		assert.Contains(t, string(m.Data), `"code":"`+tc.code+`"`, tc.subject)
	}
	_, err := center.Request("snowlight.rpc.edge-z.clip", []byte("{}"), 5*time.Second)
	assert.ErrorIs(t, err, nats.ErrNoResponders)
}
