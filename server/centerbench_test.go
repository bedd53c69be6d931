package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/bus/natstest"
	"snowlight/bus/outbox"
	"snowlight/center"
	"snowlight/config"
	"snowlight/server"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// BenchmarkCenterOverNATS measures the real center (server.New with server.NATS: the fence, the
// intake's batched transactions through the ledger, the stitcher, the alert rules) fed by synthetic
// edges at a city's rate: SNOWLIGHT_BENCH_CAMERAS cameras (2,000) on 4 edges that hold them by lease
// and publish final sightings (about 1.5 kB: boxes, a face embedding, no snapshot bytes) through
// their outboxes at SNOWLIGHT_BENCH_MILLIRATE thousandths a camera a second (1,500: 3,000 sightings/s,
// what 10,000 cameras at 0.3 offer; leasing 10,000 cameras takes minutes), one a second naming a
// watch-listed person. It reports the sightings stored per second, the consumer's lag, and the
// latency from a named sighting's making at the edge to its alert being raised.
// SNOWLIGHT_BENCH_NATS=3 runs a three-node cluster (R3).
//
//	go test -run '^$' -bench CenterOverNATS -benchtime 1x -timeout 20m -v ./server/
func BenchmarkCenterOverNATS(b *testing.B) {
	cameras := envInt(b, "SNOWLIGHT_BENCH_CAMERAS", 2000)
	nodes := envInt(b, "SNOWLIGHT_BENCH_NATS", 1)
	rate := float64(envInt(b, "SNOWLIGHT_BENCH_MILLIRATE", 1500)) / 1000
	const (
		warmup   = 5 * time.Second
		duration = 20 * time.Second
	)
	edges := []string{"e1", "e2", "e3", "e4"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := natstest.StartCluster(b, nodes, edges...)
	dir := b.TempDir()

	// The persons the edges name, enrolled before the center starts (one alert each).
	persons := int(warmup.Seconds()+duration.Seconds()) + 10
	db, err := store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	require.NoError(b, err)
	now := time.Now().UTC()
	for i := range persons {
		id := fmt.Sprintf("p-%d", i)
		require.NoError(b, db.Watchlist().Add(ctx, watchlist.Person{ID: id, Name: id, Category: watchlist.Suspect,
			Embeddings: [][]float32{{1, 0, 0}}, Enrolled: now, Expires: now.Add(24 * time.Hour)}, nil))
	}
	require.NoError(b, db.Close())

	seed := filepath.Join(dir, "center.nk")
	require.NoError(b, os.WriteFile(seed, cl.Credentials(b, natstest.Center).Seed, 0o600))
	var y strings.Builder
	fmt.Fprintf(&y, "listen: 127.0.0.1:0\ndata_dir: %q\nnats: {urls: [%s], replicas: %d, stream_max_bytes: 1073741824, seed_file: %q}\ncameras:\n",
		dir, strings.Join(cl.URLs(), ", "), nodes, seed)
	for i := range cameras {
		fmt.Fprintf(&y, "  - {id: c%d, url: rtsp://10.0.%d.%d/stream}\n", i, i/250, i%250)
	}
	cfg, err := config.Parse(strings.NewReader(y.String()), os.Getenv)
	require.NoError(b, err)
	srv, err := server.New(ctx, server.Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Cameras: server.NATS})
	require.NoError(b, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
	}()

	// The edges: each takes its share of the cameras by lease, as real ones do.
	var held atomic.Int64
	gens := make([]*synthEdge, len(edges))
	for i, id := range edges {
		gens[i] = startSynthEdge(ctx, b, cl, id, cameras/len(edges)+1, filepath.Join(dir, id), &held)
	}
	// The edges publish for the cameras they hold; the measurement starts once nearly all are held (the
	// last few can take minutes: the time to lease them all is logged, not waited for).
	t0 := time.Now()
	for held.Load() < int64(cameras-cameras/1000) {
		require.LessOrEqual(b, time.Since(t0), 10*time.Minute, "waiting for the leases: %d of %d cameras leased", held.Load(), cameras)
		time.Sleep(100 * time.Millisecond)
	}
	b.Logf("%d of %d cameras leased by %d edges in %v", held.Load(), cameras, len(edges), time.Since(t0).Round(100*time.Millisecond))

	nc := cl.Connect(b, natstest.Center)
	js := natstest.JetStream(b, nc)
	stored := func() int {
		var n int
		require.NoError(b, srv.Store().R.QueryRowContext(ctx, `SELECT count(*) FROM sightings`).Scan(&n))
		return n
	}
	var named sync.Map // sighting id -> made at the edge
	var person, nameAt atomic.Int64
	b.ResetTimer()
	for _, g := range gens {
		go g.run(ctx, rate, persons, &nameAt, &person, &named)
	}
	time.Sleep(warmup)
	start, n0 := time.Now(), stored()
	var maxLag uint64
	for time.Since(start) < duration {
		time.Sleep(250 * time.Millisecond)
		lag, err := bus.ConsumerLag(ctx, js, "", nil)
		require.NoError(b, err)
		maxLag = max(maxLag, lag.Pending+lag.AckPending)
	}
	elapsed, n1 := time.Since(start), stored()
	endLag, err := bus.ConsumerLag(ctx, js, "", nil)
	require.NoError(b, err)
	var offered int64
	for _, g := range gens {
		offered += g.stop()
	}
	b.StopTimer()

	// Alert latency: from each named sighting's making to its alert.
	time.Sleep(5 * time.Second) // let the last named sightings through
	list, err := srv.Alerts().Alerts(ctx, alerts.Query{Limit: 1000})
	require.NoError(b, err)
	var lat []time.Duration
	for _, a := range list {
		if len(a.Evidence.Sightings) == 0 {
			continue
		}
		if made, ok := named.Load(a.Evidence.Sightings[0]); ok {
			lat = append(lat, a.Created.Sub(made.(time.Time)))
		}
	}
	require.NotEmpty(b, lat, "no alert raised")
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	applied := float64(n1-n0) / elapsed.Seconds()
	b.ReportMetric(applied, "sightings/s")
	b.ReportMetric(float64(maxLag), "lag-max")
	b.ReportMetric(float64(pct(0.99).Milliseconds()), "alert-p99-ms")
	b.Logf("%d cameras at %.2f/s, %d NATS server(s): offered %d sightings over the run; stored %.0f/s over %v; consumer lag max %d, "+
		"at the end %d pending + %d unacked; %d alerts, latency from the edge p50 %v p99 %v max %v; load %s",
		cameras, rate, nodes, offered, applied, elapsed.Round(time.Second), maxLag, endLag.Pending, endLag.AckPending, len(lat),
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), loadAvg())
}

// synthEdge is an edge without cameras: it holds leases and publishes made-up sightings of the
// cameras it holds through its outbox, stamped with their leases.
type synthEdge struct {
	id     string
	pub    *bus.Publisher
	holder *lease.Holder
	mu     sync.Mutex
	leases map[string]*lease.Lease
	sent   atomic.Int64
	halt   chan struct{}
	halted chan struct{}
}

func startSynthEdge(ctx context.Context, b *testing.B, cl *natstest.Cluster, id string, capacity int, dir string, held *atomic.Int64) *synthEdge {
	co := cl.Options(b, id)
	co.Name, co.Edge = id, id
	nc, err := bus.Connect(ctx, co)
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	ob, err := outbox.Open(dir, outbox.Options{MaxBytes: 1 << 30})
	require.NoError(b, err)
	b.Cleanup(func() { ob.Close() })
	e := &synthEdge{id: id, leases: map[string]*lease.Lease{}, halt: make(chan struct{}), halted: make(chan struct{})}
	e.pub, err = bus.NewPublisher(nc, ob, bus.PublisherOptions{})
	require.NoError(b, err)
	e.holder, err = lease.NewHolder(nc, lease.HolderOptions{Edge: id, Capacity: capacity,
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
	require.NoError(b, err)
	go e.holder.Run(ctx)
	go e.pub.Run(ctx)
	return e
}

// run publishes rate sightings per held camera per second, in 100 ms rounds; one a second (across
// the edges, nameAt is when the next is due) names the next of persons watch-listed persons.
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
				return
			}
			e.sent.Add(1)
		}
	}
}

// stop ends the edge's publishing and says how much it sent.
func (e *synthEdge) stop() int64 {
	close(e.halt)
	<-e.halted
	return e.sent.Load()
}
