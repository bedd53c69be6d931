package natstest

import (
	"io"
	"net"
	"sync"
	"testing"

	"snowlight/bus"

	"github.com/stretchr/testify/require"
)

// Proxy forwards TCP connections to a server until it is cut: the link between one client and NATS,
// which a test can drop and restore without touching the server or the client.
type Proxy struct {
	// Addr is the host:port clients dial instead of the server's.
	Addr   string
	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target (host:port) until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "proxy")
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's NATS URL.
func (p *Proxy) URL() string { return "nats://" + p.Addr }

// Cut closes every forwarded connection and refuses new ones until Restore, as a dropped link
// would: the client sees its connection end and retries.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	if !p.track(s) {
		return
	}
	defer p.untrack(s)
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	<-done
}

// track registers a connection, or reports false while the link is cut.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// Link is one client's way to every node of a cluster, through a Proxy per node, so the test can cut
// that client off the whole cluster at once.
type Link struct {
	Proxies []*Proxy
}

// Link makes proxies to every node.
func (c *Cluster) Link(t testing.TB) *Link {
	t.Helper()
	l := &Link{}
	for _, s := range c.Servers {
		l.Proxies = append(l.Proxies, NewProxy(t, s.Addr))
	}
	return l
}

// URLs are the proxies' URLs.
func (l *Link) URLs() []string {
	urls := make([]string, len(l.Proxies))
	for i, p := range l.Proxies {
		urls[i] = p.URL()
	}
	return urls
}

// Cut drops the client's connections to every node.
func (l *Link) Cut() {
	for _, p := range l.Proxies {
		p.Cut()
	}
}

// Restore reconnects the link.
func (l *Link) Restore() {
	for _, p := range l.Proxies {
		p.Restore()
	}
}

// Linked returns the options to connect as Center or an edge through a Link of its own, and the link.
func (c *Cluster) Linked(t testing.TB, name string) (bus.ConnectOptions, *Link) {
	t.Helper()
	l := c.Link(t)
	o := c.Options(t, name)
	o.URLs = l.URLs()
	return o, l
}
