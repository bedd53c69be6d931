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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "t.1", []byte("one"))
	require.NoError(t, err)

	c.Servers[0].Kill()
	// The killed node may have led the stream: until the other two elect a new leader (seconds on a loaded
	// machine) the publish finds no responder, and the client's default retries give up after half a second.
	_, err = js.Publish(ctx, "t.2", []byte("two"), jetstream.WithRetryAttempts(40), jetstream.WithRetryWait(250*time.Millisecond))
	require.NoError(t, err, "two of three nodes are a quorum")
	require.NoError(t, c.Servers[0].Start())

	s, err := js.Stream(ctx, "T")
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, info.State.Msgs)
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
