package natsconf_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/natsconf"
	"snowlight/bus/natstest"
	"snowlight/bus/watchsync"
)

func TestWriteRefusesBadInput(t *testing.T) {
	center, err := natsconf.NewCredentials("center")
	require.NoError(t, err)
	edge, err := natsconf.NewCredentials("edge-a")
	require.NoError(t, err)
	ok := natsconf.Server{Name: "n1", Listen: "127.0.0.1:4222", StoreDir: "/var/lib/nats", Center: center.Identity, Edges: []natsconf.Identity{edge.Identity}}
	require.NoError(t, ok.Write(&bytes.Buffer{}))
	for _, tc := range []struct {
		name string
		edit func(*natsconf.Server)
	}{
		{"relative store", func(s *natsconf.Server) { s.StoreDir = "data" }},
		{"store with a newline", func(s *natsconf.Server) { s.StoreDir = "/data\n}" }},
		{"edge id with a wildcard", func(s *natsconf.Server) { s.Edges[0].Name = "edge.>" }},
		{"an edge twice", func(s *natsconf.Server) { s.Edges = append(s.Edges, s.Edges[0]) }},
		{"a seed where a public key belongs", func(s *natsconf.Server) { s.Edges[0].PublicKey = string(edge.Seed) }},
		{"no listen address", func(s *natsconf.Server) { s.Listen = "" }},
		{"weak route password", func(s *natsconf.Server) {
			s.Cluster = &natsconf.Cluster{Name: "c", Listen: "127.0.0.1:6222", Routes: []string{"127.0.0.1:6223"}, User: "r", Password: "short"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			s.Edges = append([]natsconf.Identity(nil), ok.Edges...)
			tc.edit(&s)
			assert.Error(t, s.Write(&bytes.Buffer{}))
		})
	}
	var b bytes.Buffer
	require.NoError(t, ok.Write(&b))
	assert.NotContains(t, b.String(), string(edge.Seed), "the server holds public keys only")
	assert.NotContains(t, b.String(), `\u`, "no escapes the server's parser does not know")
}

// refused runs op as an edge and checks the server said "Permissions Violation" for it.
func refused(t *testing.T, nc *nats.Conn, what string, op func() error) {
	t.Helper()
	errs := make(chan error, 16)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	err := op()
	nc.Flush()
	var async error
	select {
	case async = <-errs:
	case <-time.After(2 * time.Second):
	}
	combined := ""
	if err != nil {
		combined += err.Error()
	}
	if async != nil {
		combined += " " + async.Error()
	}
	assert.Contains(t, strings.ToLower(combined), "permissions violation", "%s must be refused (got %q)", what, combined)
}

// Each edge may publish only its own events and presence and read only what it needs.
func TestEdgePermissions(t *testing.T) {
	c := natstest.Start(t, "edge-a", "edge-b")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	center := natstest.JetStream(t, c.Connect(t, natstest.Center))
	_, err := bus.ProvisionEvents(ctx, center, bus.StreamOptions{MaxBytes: 64 << 20})
	require.NoError(t, err)
	require.NoError(t, lease.Provision(ctx, center, lease.Options{}))
	require.NoError(t, watchsync.Provision(ctx, center, 1))

	nc := c.Connect(t, "edge-a")
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, time.Second) }
	event := func(edge string) *nats.Msg {
		e := bus.Event{Edge: edge, Camera: "cam-1", Kind: "sighting", Epoch: 1, Seq: 1, Produced: time.Now()}
		m, err := e.Msg()
		require.NoError(t, err)
		return m
	}

	_, err = js.PublishMsg(ctx, event("edge-a"))
	require.NoError(t, err, "its own events")

	refused(t, nc, "another edge's events", func() error {
		c, cancel := short()
		defer cancel()
		_, err := js.PublishMsg(c, event("edge-b"))
		return err
	})
	refused(t, nc, "reading the events stream", func() error {
		c, cancel := short()
		defer cancel()
		_, err := js.CreateOrUpdateConsumer(c, bus.StreamEvents, jetstream.ConsumerConfig{Durable: "spy"})
		return err
	})
	refused(t, nc, "another edge's requests", func() error {
		_, err := nc.SubscribeSync(bus.EdgeRPC("edge-b"))
		return err
	})
	refused(t, nc, "another edge's inbox", func() error {
		_, err := nc.SubscribeSync(bus.InboxPrefix("edge-b") + ".>")
		return err
	})
	refused(t, nc, "writing the watch list", func() error {
		return nc.Publish("$KV."+bus.BucketWatchlist+".person.eA", []byte("{}"))
	})
	refused(t, nc, "another edge's session", func() error {
		return nc.Publish("$KV."+bus.BucketEdges+".edge-b", []byte("{}"))
	})
	refused(t, nc, "deleting a stream", func() error {
		c, cancel := short()
		defer cancel()
		return js.DeleteStream(c, bus.StreamEvents)
	})

	// What it needs: its own session, reading the camera list and the watch list.
	edges, err := js.KeyValue(ctx, bus.BucketEdges)
	require.NoError(t, err)
	_, err = edges.Create(ctx, "edge-a", []byte(`{"edge":"edge-a"}`))
	require.NoError(t, err)
	wl, err := js.KeyValue(ctx, bus.BucketWatchlist)
	require.NoError(t, err)
	_, err = wl.Get(ctx, "heartbeat")
	assert.ErrorIs(t, err, jetstream.ErrKeyNotFound, "read, not refused")
	w, err := wl.WatchAll(ctx)
	require.NoError(t, err)
	defer w.Stop()
	select {
	case e := <-w.Updates():
		assert.Nil(t, e, "the watch starts: nothing to deliver")
	case <-time.After(5 * time.Second):
		require.Fail(t, "an edge cannot watch the watch list")
	}
}
