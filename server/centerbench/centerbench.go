// Package centerbench measures the real center (server.New with server.NATS: the fence, the intake's
// batched transactions through the ledger, the stitcher, the alert rules) fed by synthetic edges at
// a city's rate through real nats-server processes on this machine: edges that hold their cameras by
// lease, as real ones do, and publish final sightings (about 1.5 kB: boxes, a face embedding, no
// snapshot bytes) through their outboxes, one a second naming a watch-listed person. It reports the
// time to lease every camera, the sightings stored per second, the consumer's lag, and the latency
// from a named sighting's making at the edge to its alert being raised. `snowlight bench center`
// runs it.
package centerbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"snowlight/alerts"
	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/natsproc"
	"snowlight/bus/outbox"
	"snowlight/center"
	"snowlight/config"
	"snowlight/internal/machine"
	"snowlight/server"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// Options say what to offer.
type Options struct {
	// Cameras spread over Edges synthetic edges, each publishing Rate sightings per held camera per
	// second.
	Cameras, Edges int
	Rate           float64
	// NATSServers is 1 (one server, R1 streams) or 3 (a cluster, R3).
	NATSServers int
	// Warmup after every camera is leased, then Duration measured.
	Warmup, Duration time.Duration
	// LeaseLimit bounds the wait for the cameras to be leased.
	LeaseLimit time.Duration
	// Dir holds the servers' storage, the center's database and the edges' outboxes.
	Dir string
	// Log gets the benchmark's progress; the center's own log is discarded (the synthetic edges
	// answer no clip requests, so every alert would warn).
	Log *slog.Logger
}

// DefaultOptions are the city: 10,000 cameras at 0.3 sightings/s (3,000/s) on 4 edges and
// one NATS server.
func DefaultOptions() Options {
	return Options{Cameras: 10000, Edges: 4, Rate: 0.3, NATSServers: 1, Warmup: 5 * time.Second,
		Duration: 20 * time.Second, LeaseLimit: 5 * time.Minute}
}

// Report is what was measured.
type Report struct {
	Options Options `json:"-"`
	Date    time.Time
	// Load is /proc/loadavg before and after.
	Load [2]string
	// Leased is the time from the edges' start until they held every camera.
	Leased time.Duration
	// Offered counts the sightings the edges published over warm-up and measurement; Stored is the
	// rate they were stored at over Duration.
	Offered int64
	Stored  float64
	// LagMax is the most events the consumer was behind during Duration (stored in the stream, not
	// yet acknowledged); LagEnd at its end.
	LagMax, LagEnd uint64
	// Alerts raised for named sightings (0: none within 5 s of the end), and their latency from the
	// sighting's making at the edge.
	Alerts                       int
	AlertP50, AlertP99, AlertMax time.Duration
}

// Markdown renders the report as the lines of docs/BENCHMARKS.md.
func (r *Report) Markdown() string {
	o := r.Options
	return fmt.Sprintf("Measured %s (load average %s before, %s after): %d cameras at %.2f sightings/s on %d edges, "+
		"%d NATS server(s); all leased in %v.\n\n"+
		"| offered /s | stored /s | consumer lag max / end | alerts | alert latency p50 / p99 / max |\n|---|---|---|---|---|\n"+
		"| %.0f | %.0f | %d / %d | %d | %v / %v / %v |\n",
		r.Date.Format("2006-01-02"), r.Load[0], r.Load[1], o.Cameras, o.Rate, o.Edges, o.NATSServers,
		r.Leased.Round(100*time.Millisecond), float64(r.Offered)/(o.Warmup+o.Duration).Seconds(), r.Stored,
		r.LagMax, r.LagEnd, r.Alerts, r.AlertP50.Round(time.Millisecond), r.AlertP99.Round(time.Millisecond),
		r.AlertMax.Round(time.Millisecond))
}

// Run starts the NATS servers, the center and the edges, waits until every camera is leased, and
// measures.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Cameras <= 0 || o.Edges <= 0 || o.Rate <= 0 || o.Duration <= 0 {
		return nil, errors.New("bench center: cameras, edges, a rate and a duration are required")
	}
	if o.NATSServers != 1 && o.NATSServers != 3 {
		return nil, fmt.Errorf("bench center: %d NATS servers: want 1 or 3", o.NATSServers)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.LeaseLimit <= 0 {
		o.LeaseLimit = DefaultOptions().LeaseLimit
	}
	rep := &Report{Options: o, Date: time.Now().UTC(), Load: [2]string{machine.LoadAverage(), ""}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	edges := make([]string, o.Edges)
	for i := range edges {
		edges[i] = fmt.Sprintf("e%d", i+1)
	}
	natsDir := filepath.Join(o.Dir, "nats")
	if err := os.MkdirAll(natsDir, 0o755); err != nil {
		return nil, err
	}
	cl, err := natsproc.Start(natsDir, o.NATSServers, edges...)
	if err != nil {
		return nil, err
	}
	defer cl.Stop()

	// The persons the edges name, enrolled before the center starts (one alert each).
	persons := int((o.Warmup + o.Duration).Seconds()) + 10
	if err := enroll(ctx, filepath.Join(o.Dir, "snowlight.db"), persons); err != nil {
		return nil, err
	}
	srv, err := startCenter(ctx, o, cl)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
	}()

	// The edges: each takes its share of the cameras by lease.
	var held atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	gens := make([]*synthEdge, len(edges))
	for i, id := range edges {
		if gens[i], err = startSynthEdge(ctx, &wg, cl, id, o.Cameras/len(edges)+1, filepath.Join(o.Dir, id), &held); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	for held.Load() < int64(o.Cameras) {
		if time.Since(t0) > o.LeaseLimit {
			return nil, fmt.Errorf("bench center: %d of %d cameras leased after %v", held.Load(), o.Cameras, o.LeaseLimit)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	rep.Leased = time.Since(t0)
	o.Log.Info("cameras leased", "cameras", o.Cameras, "edges", o.Edges, "in", rep.Leased)

	cc, err := cl.Options(natsproc.Center)
	if err != nil {
		return nil, err
	}
	nc, err := bus.Connect(ctx, cc)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	stored := func() (int, error) {
		var n int
		err := srv.Store().R.QueryRowContext(ctx, `SELECT count(*) FROM sightings`).Scan(&n)
		return n, err
	}
	var named sync.Map // sighting id -> made at the edge
	var person, nameAt atomic.Int64
	for _, g := range gens {
		wg.Go(func() { g.run(ctx, o.Rate, persons, &nameAt, &person, &named) })
	}
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}
	start := time.Now()
	n0, err := stored()
	if err != nil {
		return nil, err
	}
	for time.Since(start) < o.Duration {
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
		lag, err := bus.ConsumerLag(ctx, js, "", nil)
		if err != nil {
			return nil, err
		}
		rep.LagMax = max(rep.LagMax, lag.Pending+lag.AckPending)
	}
	elapsed := time.Since(start)
	n1, err := stored()
	if err != nil {
		return nil, err
	}
	rep.Stored = float64(n1-n0) / elapsed.Seconds()
	endLag, err := bus.ConsumerLag(ctx, js, "", nil)
	if err != nil {
		return nil, err
	}
	rep.LagEnd = endLag.Pending + endLag.AckPending
	for _, g := range gens {
		n, err := g.stop()
		if err != nil {
			return nil, err
		}
		rep.Offered += n
	}
	rep.Load[1] = machine.LoadAverage()

	// Alert latency: from each named sighting's making to its alert.
	if err := sleep(ctx, 5*time.Second); err != nil { // let the last named sightings through
		return nil, err
	}
	list, err := srv.Alerts().Alerts(ctx, alerts.Query{Limit: 1000})
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for _, a := range list {
		if len(a.Evidence.Sightings) == 0 {
			continue
		}
		if made, ok := named.Load(a.Evidence.Sightings[0]); ok {
			lat = append(lat, a.Created.Sub(made.(time.Time)))
		}
	}
	if len(lat) == 0 {
		return rep, nil // the report says none was raised, with the rest of what was measured
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	rep.Alerts, rep.AlertP50, rep.AlertP99, rep.AlertMax = len(lat), pct(0.5), pct(0.99), lat[len(lat)-1]
	return rep, nil
}

// enroll writes persons watch-listed persons p-0, p-1, ... into a new database at path.
func enroll(ctx context.Context, path string, persons int) error {
	db, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UTC()
	for i := range persons {
		id := fmt.Sprintf("p-%d", i)
		if err := db.Watchlist().Add(ctx, watchlist.Person{ID: id, Name: id, Category: watchlist.Suspect,
			Embeddings: [][]float32{{1, 0, 0}}, Enrolled: now, Expires: now.Add(24 * time.Hour)}, nil); err != nil {
			return fmt.Errorf("enroll %s: %w", id, err)
		}
	}
	return db.Close()
}

// startCenter makes the center, configured as `snowlight center` is, with the cameras listed.
func startCenter(ctx context.Context, o Options, cl *natsproc.Cluster) (*server.Server, error) {
	cr, err := cl.Credentials(natsproc.Center)
	if err != nil {
		return nil, err
	}
	seed := filepath.Join(o.Dir, "center.nk")
	if err := os.WriteFile(seed, cr.Seed, 0o600); err != nil {
		return nil, err
	}
	var y strings.Builder
	fmt.Fprintf(&y, "listen: 127.0.0.1:0\ndata_dir: %q\nnats: {urls: [%s], replicas: %d, stream_max_bytes: 1073741824, seed_file: %q}\ncameras:\n",
		o.Dir, strings.Join(cl.URLs(), ", "), o.NATSServers, seed)
	for i := range o.Cameras {
		fmt.Fprintf(&y, "  - {id: c%d, url: rtsp://10.%d.%d.%d/stream}\n", i, i/62500, i/250%250, i%250)
	}
	cfg, err := config.Parse(strings.NewReader(y.String()), os.Getenv)
	if err != nil {
		return nil, err
	}
	return server.New(ctx, server.Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Cameras: server.NATS})
}

// synthEdge is an edge without cameras: it holds leases and publishes made-up sightings of the
// cameras it holds through its outbox, stamped with their leases.
type synthEdge struct {
	id     string
	pub    *bus.Publisher
	mu     sync.Mutex
	leases map[string]*lease.Lease
	sent   atomic.Int64
	err    error // why run stopped early
	halt   chan struct{}
	halted chan struct{}
}

func startSynthEdge(ctx context.Context, wg *sync.WaitGroup, cl *natsproc.Cluster, id string, capacity int, dir string, held *atomic.Int64) (*synthEdge, error) {
	co, err := cl.Options(id)
	if err != nil {
		return nil, err
	}
	nc, err := bus.Connect(ctx, co)
	if err != nil {
		return nil, err
	}
	ob, err := outbox.Open(dir, outbox.Options{MaxBytes: 1 << 30})
	if err != nil {
		nc.Close()
		return nil, err
	}
	e := &synthEdge{id: id, leases: map[string]*lease.Lease{}, halt: make(chan struct{}), halted: make(chan struct{})}
	if e.pub, err = bus.NewPublisher(nc, ob, bus.PublisherOptions{}); err != nil {
		ob.Close()
		nc.Close()
		return nil, err
	}
	holder, err := lease.NewHolder(nc, lease.HolderOptions{Edge: id, Capacity: capacity,
		Acquired: func(l *lease.Lease) {
			e.mu.Lock()
			e.leases[l.Camera] = l
			e.mu.Unlock()
			held.Add(1)
		},
		Released: func(camera string, _ lease.Reason) {
			e.mu.Lock()
			delete(e.leases, camera)
			e.mu.Unlock()
			held.Add(-1)
		},
		Outbox: func() (int, time.Time) { st := e.pub.Stats(); return st.Records, st.Oldest },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		ob.Close()
		nc.Close()
		return nil, err
	}
	var running sync.WaitGroup
	running.Go(func() { holder.Run(ctx) })
	running.Go(func() { e.pub.Run(ctx) })
	wg.Go(func() {
		running.Wait()
		ob.Close()
		nc.Close()
	})
	return e, nil
}

// run publishes rate sightings per held camera per second, in 100 ms rounds, until stop or ctx
// ends; one a second (across the edges, nameAt is when the next is due) names the next of persons
// watch-listed persons.
func (e *synthEdge) run(ctx context.Context, rate float64, persons int, nameAt, person *atomic.Int64, named *sync.Map) {
	defer close(e.halted)
	r := rand.New(rand.NewPCG(uint64(len(e.id)), uint64(e.id[len(e.id)-1])))
	face := make([]float32, 128)
	for i := range face {
		face[i] = r.Float32()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var owed float64
	var track uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.halt:
			return
		case <-tick.C:
		}
		e.mu.Lock()
		cams := make([]*lease.Lease, 0, len(e.leases))
		for _, l := range e.leases {
			cams = append(cams, l)
		}
		e.mu.Unlock()
		owed += rate * float64(len(cams)) / 10
		for ; owed >= 1; owed-- {
			l := cams[r.IntN(len(cams))]
			track++
			now := time.Now()
			s := tracks.Sighting{ID: tracks.SightingID(l.Camera, now, track), Camera: l.Camera, TrackID: track,
				Enter: now.Add(-5 * time.Second), Exit: now, Final: true, FaceEmbedding: face,
				Boxes: []tracks.TimedBox{{Time: now, Box: tracks.Box{X: 100, Y: 80, W: 60, H: 180}, Score: 0.9}}}
			// One named sighting a second across the edges, each a new person (a new alert).
			if due := nameAt.Load(); now.UnixNano() >= due && nameAt.CompareAndSwap(due, now.Add(time.Second).UnixNano()) {
				if p := person.Add(1) - 1; p < int64(persons) {
					s.Evidence.PersonID = fmt.Sprintf("p-%d", p)
					named.Store(s.ID, now)
				}
			}
			ev, err := center.SightingEnvelope(tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: l.Camera, Frame: now, Sighting: s})
			if err == nil {
				l.Stamp(&ev)
				err = e.pub.Publish(&ev)
			}
			if err != nil {
				e.err = fmt.Errorf("edge %s: publish: %w", e.id, err)
				return
			}
			e.sent.Add(1)
		}
	}
}

// stop ends the edge's publishing and says how much it sent, or why it stopped early.
func (e *synthEdge) stop() (int64, error) {
	close(e.halt)
	<-e.halted
	return e.sent.Load(), e.err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
