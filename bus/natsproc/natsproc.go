// Package natsproc runs real nats-server processes on loopback for tests and benchmarks (`snowlight
// bench center`): one server or a JetStream cluster of several, bound to 127.0.0.1 on free ports,
// storage under a given directory, configured by bus/natsconf with a center user and edge users.
// Servers can be stopped, killed (SIGKILL) and started again on the same ports and storage.
// bus/natstest wraps it for tests.
package natsproc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"snowlight/bus"
	"snowlight/bus/natsconf"
	"snowlight/internal/childproc"
	"snowlight/internal/gobin"
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

	proc childproc.Proc
}

// Start runs n JetStream servers (routed into one cluster when n > 1) with users for the center and
// the given edges, configuration, logs and storage under dir, and waits until JetStream is ready on
// every node. On error nothing is left running; otherwise Stop ends them.
func Start(dir string, n int, edges ...string) (*Cluster, error) {
	bin, err := Binary()
	if err != nil {
		return nil, fmt.Errorf("needs a real nats-server: %w", err)
	}
	c := &Cluster{creds: map[string]natsconf.Credentials{}}
	for _, name := range append([]string{Center}, edges...) {
		cr, err := natsconf.NewCredentials(name)
		if err != nil {
			return nil, err
		}
		c.creds[name] = cr
	}
	var edgeIDs []natsconf.Identity
	for _, e := range edges {
		edgeIDs = append(edgeIDs, c.creds[e].Identity)
	}
	ports := make([]int, 3*n)
	for i := range ports {
		if ports[i], err = childproc.FreePort(); err != nil {
			return nil, err
		}
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	password, err := natsconf.NewRoutePassword()
	if err != nil {
		return nil, err
	}
	for i := range n {
		name := "n" + strconv.Itoa(i+1)
		s := &Server{Name: name, Addr: addr(i), Monitor: addr(n + i), StoreDir: filepath.Join(dir, name)}
		confPath := filepath.Join(dir, name+".conf")
		s.proc = childproc.Proc{Bin: bin, Args: []string{"-c", confPath}, LogPath: filepath.Join(dir, name+".log")}
		conf := natsconf.Server{Name: name, Listen: s.Addr, Monitor: s.Monitor, StoreDir: s.StoreDir,
			MaxMemoryStore: 256 << 20, MaxFileStore: 2 << 30, Center: c.creds[Center].Identity, Edges: edgeIDs}
		if n > 1 {
			var others []string
			for j := range n {
				if j != i {
					others = append(others, addr(2*n+j))
				}
			}
			conf.Cluster = &natsconf.Cluster{Name: "snowlight-test", Listen: addr(2*n + i), Routes: others, User: "route", Password: password}
		}
		var b bytes.Buffer
		if err := conf.Write(&b); err != nil {
			return nil, err
		}
		if err := os.WriteFile(confPath, b.Bytes(), 0o600); err != nil {
			return nil, fmt.Errorf("nats-server config: %w", err)
		}
		c.Servers = append(c.Servers, s)
	}
	// Every node is launched before any is waited for: a cluster's JetStream needs a quorum.
	for _, s := range c.Servers {
		if err := s.proc.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, s := range c.Servers {
		if err := s.waitReady(); err != nil {
			c.Stop()
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return c, nil
}

// Stop stops every server.
func (c *Cluster) Stop() {
	for _, s := range c.Servers {
		s.Stop()
	}
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
func (c *Cluster) Credentials(name string) (natsconf.Credentials, error) {
	cr, ok := c.creds[name]
	if !ok {
		return natsconf.Credentials{}, fmt.Errorf("natsproc: no user %q", name)
	}
	return cr, nil
}

// Options are the options to connect as Center or as an edge to every node.
func (c *Cluster) Options(name string) (bus.ConnectOptions, error) {
	cr, err := c.Credentials(name)
	if err != nil {
		return bus.ConnectOptions{}, err
	}
	o := bus.ConnectOptions{URLs: c.URLs(), Name: name, Seed: cr.Seed}
	if name != Center {
		o.Edge = name
	}
	return o, nil
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

// LogTail returns the last n bytes of the server's log.
func (s *Server) LogTail(n int) string { return s.proc.LogTail(n) }
