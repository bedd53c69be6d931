package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/natstest"
)

// A cluster of three keeps a replicated stream through the loss of one node, and the node comes back.
func TestClusterSurvivesOneNode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	js := natstest.JetStream(t, c.Connect(t, natstest.Center))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "t.1", []byte("one"))
	require.NoError(t, err)
	// Killing a node while a follower still catches up would test the catch-up, not the quorum.
	require.Eventually(t, func() bool { return replicasCurrent(ctx, s) == 2 }, time.Minute, 100*time.Millisecond,
		"both followers current before the kill")

	c.Servers[0].Kill()
	// The killed node may have led the stream or the meta layer: until the other two elect new leaders
	// (seconds, more on a loaded machine) a publish finds no responder or times out, so it is retried
	// as an edge's outbox would.
	deadline := time.Now().Add(time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = js.Publish(pctx, "t.2", []byte("two"), jetstream.WithMsgID("t.2"))
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.NoError(t, err, "two of three nodes are a quorum")
	require.NoError(t, c.Servers[0].Start())

	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, info.State.Msgs, "the retried publish is stored once")
}

// replicasCurrent counts the stream's followers that are current with its leader.
func replicasCurrent(ctx context.Context, s jetstream.Stream) int {
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return 0
	}
	n := 0
	for _, r := range info.Cluster.Replicas {
		if r.Current {
			n++
		}
	}
	return n
}

// A cut link drops the client's connection; restored, the client reconnects by itself.
func TestProxyCutsAndRestores(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	o, link := c.Linked(t, "edge-a")
	nc := natstest.Dial(t, o)

	link.Cut()
	require.Eventually(t, func() bool { return !nc.IsConnected() }, 5*time.Second, 10*time.Millisecond)
	link.Restore()
	require.Eventually(t, nc.IsConnected, 10*time.Second, 10*time.Millisecond)
}
