// Package natstest runs real nats-server processes for tests (bus/natsproc): one server or a
// JetStream cluster of several, bound to 127.0.0.1 on free ports, storage in the test's temporary directory, configured by
// bus/natsconf with a center user and edge users, stopped when the test ends. Servers can be stopped,
// killed (SIGKILL) and started again on the same ports and storage; a Proxy between a client and a
// server can cut the link and restore it.
package natstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/natsconf"
	"snowlight/bus/natsproc"
)

// Center is the name of the center's credentials in a Cluster.
const Center = natsproc.Center

// Binary finds nats-server (natsproc.Binary).
func Binary() (string, error) { return natsproc.Binary() }

// Cluster is a set of nats-server processes (natsproc.Cluster) whose accessors fail the test.
type Cluster struct{ *natsproc.Cluster }

// Server is one nats-server process (or, while stopped, the ports and storage it comes back on).
type Server = natsproc.Server

// Start runs one JetStream server with users for the center and the given edges. It skips the test,
// saying why, when nats-server is not installed.
func Start(t testing.TB, edges ...string) *Cluster { return StartCluster(t, 1, edges...) }

// StartCluster runs n JetStream servers routed into one cluster, with users for the center and the
// given edges, in the test's temporary directory, waits until JetStream is ready on every node, and
// stops them when the test ends.
func StartCluster(t testing.TB, n int, edges ...string) *Cluster {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Skipf("skipping: needs a real nats-server: %v", err)
	}
	c, err := natsproc.Start(t.TempDir(), n, edges...)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Stop()
			if t.Failed() {
				t.Logf("%s log:\n%s", s.Name, s.LogTail(6000))
			}
		}
	})
	return &Cluster{c}
}

// Credentials returns the nkey credentials of Center or of an edge the cluster was started with.
func (c *Cluster) Credentials(t testing.TB, name string) natsconf.Credentials {
	t.Helper()
	cr, err := c.Cluster.Credentials(name)
	require.NoError(t, err)
	return cr
}

// Options are the options to connect as Center or as an edge to every node.
func (c *Cluster) Options(t testing.TB, name string) bus.ConnectOptions {
	t.Helper()
	o, err := c.Cluster.Options(name)
	require.NoError(t, err)
	return o
}

// Connect connects as Center or as an edge through bus.Connect, waits for the connection, and closes
// it when the test ends.
func (c *Cluster) Connect(t testing.TB, name string) *nats.Conn {
	t.Helper()
	return Dial(t, c.Options(t, name))
}

// Dial connects with o, waits up to 10 s for the connection, and closes it when the test ends.
func Dial(t testing.TB, o bus.ConnectOptions) *nats.Conn {
	t.Helper()
	nc, err := bus.Connect(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.Eventually(t, nc.IsConnected, 10*time.Second, 10*time.Millisecond,
		"natstest: %s did not connect to %v", o.Name, o.URLs)
	return nc
}

// JetStream is jetstream.New with the test failing on error.
func JetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// Run runs fn in a goroutine until the returned stop is called or the test ends; stop cancels fn's
// context and waits for it to return. An error from fn fails the test.
func Run(t testing.TB, fn func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, fn(ctx), "run")
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}
