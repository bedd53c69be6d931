// Package natstest runs real nats-server processes for tests: one server or a JetStream cluster of
// several, bound to 127.0.0.1 on free ports, storage in the test's temporary directory, configured by
// bus/natsconf with a center user and edge users, stopped when the test ends. Servers can be stopped,
// killed (SIGKILL) and started again on the same ports and storage; a Proxy between a client and a
// server can cut the link and restore it.
package natstest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/natsconf"
	"snowlight/internal/gobin"
	"snowlight/internal/testproc"
)

// Center is the name of the center's credentials in a Cluster.
const Center = "center"

// Binary finds nats-server: $SNOWLIGHT_NATS_SERVER, then the Go bin directory, where scripts/setup.sh
// installs it, then $PATH.
func Binary() (string, error) { return gobin.Find("nats-server", "SNOWLIGHT_NATS_SERVER") }

// Cluster is a set of nats-server processes sharing one configuration of users (a single server is a
// cluster of one).
type Cluster struct {
	Servers []*Server
	creds   map[string]natsconf.Credentials
}

// Server is one nats-server process (or, while stopped, the ports and storage it comes back on).
type Server struct {
	Name string
	// Addr is host:port for clients, Monitor host:port of the monitoring endpoint.
	Addr, Monitor string
	// StoreDir holds JetStream's data; it survives Stop, Kill and Start.
	StoreDir string

	proc testproc.Proc
}

// Start runs one JetStream server with users for the center and the given edges. It skips the test,
// saying why, when nats-server is not installed.
func Start(t testing.TB, edges ...string) *Cluster { return StartCluster(t, 1, edges...) }

// StartCluster runs n JetStream servers routed into one cluster, with users for the center and the
// given edges, and waits until JetStream is ready on every node.
func StartCluster(t testing.TB, n int, edges ...string) *Cluster {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skipf("skipping: needs a real nats-server: %v", err)
	}
	c := &Cluster{creds: map[string]natsconf.Credentials{}}
	center, err := natsconf.NewCredentials(Center)
	require.NoError(t, err)
	c.creds[Center] = center
	var edgeIDs []natsconf.Identity
	for _, e := range edges {
		cr, err := natsconf.NewCredentials(e)
		require.NoError(t, err)
		c.creds[e] = cr
		edgeIDs = append(edgeIDs, cr.Identity)
	}
	dir := t.TempDir()
	routes := make([]string, n)
	for i := range n {
		routes[i] = "127.0.0.1:" + strconv.Itoa(testproc.FreePort(t))
	}
	password, err := natsconf.NewRoutePassword()
	require.NoError(t, err)
	for i := range n {
		s := &Server{
			Name:     "n" + strconv.Itoa(i+1),
			Addr:     "127.0.0.1:" + strconv.Itoa(testproc.FreePort(t)),
			Monitor:  "127.0.0.1:" + strconv.Itoa(testproc.FreePort(t)),
			StoreDir: filepath.Join(dir, "n"+strconv.Itoa(i+1)),
		}
		confPath := filepath.Join(dir, s.Name+".conf")
		s.proc = testproc.Proc{Bin: bin, Args: []string{"-c", confPath}, LogPath: filepath.Join(dir, s.Name+".log")}
		conf := natsconf.Server{Name: s.Name, Listen: s.Addr, Monitor: s.Monitor, StoreDir: s.StoreDir,
			MaxMemoryStore: 256 << 20, MaxFileStore: 2 << 30, Center: center.Identity, Edges: edgeIDs}
		if n > 1 {
			var others []string
			for j, r := range routes {
				if j != i {
					others = append(others, r)
				}
			}
			conf.Cluster = &natsconf.Cluster{Name: "snowlight-test", Listen: routes[i], Routes: others, User: "route", Password: password}
		}
		var b bytes.Buffer
		require.NoError(t, conf.Write(&b))
		require.NoError(t, os.WriteFile(confPath, b.Bytes(), 0o600))
		c.Servers = append(c.Servers, s)
	}
	t.Cleanup(func() {
		for _, s := range c.Servers {
			s.Stop()
			if t.Failed() {
				t.Logf("%s log:\n%s", s.Name, s.proc.LogTail(6000))
			}
		}
	})
	// Every node is launched before any is waited for: a cluster's JetStream needs a quorum.
	for _, s := range c.Servers {
		require.NoError(t, s.proc.Start())
	}
	for _, s := range c.Servers {
		require.NoError(t, s.waitReady(), s.Name)
	}
	return c
}

// URLs are the client URLs of every node.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return urls
}

// Credentials returns the nkey credentials of Center or of an edge the cluster was started with.
func (c *Cluster) Credentials(t testing.TB, name string) natsconf.Credentials {
	t.Helper()
	cr, ok := c.creds[name]
	require.True(t, ok, "natstest: no user %q", name)
	return cr
}

// Options are the options to connect as Center or as an edge to every node.
func (c *Cluster) Options(t testing.TB, name string) bus.ConnectOptions {
	t.Helper()
	o := bus.ConnectOptions{URLs: c.URLs(), Name: name, Seed: c.Credentials(t, name).Seed}
	if name != Center {
		o.Edge = name
	}
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

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://" + s.Addr }

// Start starts a stopped server on its ports and storage and waits until it is ready, which for a
// cluster node means its JetStream has caught up with the others.
func (s *Server) Start() error {
	if err := s.proc.Start(); err != nil {
		return err
	}
	return s.waitReady()
}

// waitReady polls /healthz, which answers 200 once the server's JetStream is current.
func (s *Server) waitReady() error {
	return s.proc.WaitHealthy("http://"+s.Monitor+"/healthz", 60*time.Second)
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and waits for it. Stopping a stopped
// server does nothing.
func (s *Server) Stop() { s.proc.Signal(syscall.SIGTERM) }

// Kill stops the server abruptly (SIGKILL), as a crash or a pulled plug would.
func (s *Server) Kill() { s.proc.Signal(syscall.SIGKILL) }

// Running reports whether the server process is up.
func (s *Server) Running() bool { return s.proc.Running() }

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
