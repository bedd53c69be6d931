// Package busbench measures the center's intake over NATS: synthetic sightings from many cameras on
// several edges, each edge publishing through its outbox as the real ones do, into the center's
// consumer, applied through the idempotency ledger in SQLite. It reports the sustained rate, the
// consumer's lag and the latency from an event's making at the edge to its apply at the center. The
// center applies each worker's queued events in one transaction (bus.ConsumeBatches, ledger.ApplyBatch).
// `snowlight bench center` (server/centerbench) measures the whole center; this measures the bus and the ledger alone.
package busbench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"snowlight/bus"
	"snowlight/bus/ledger"
	"snowlight/bus/outbox"
)

// Options say what to offer.
type Options struct {
	// Center connects the consumer; Edges one connection per simulated edge (the cameras are
	// spread over them). Each must be allowed what the real one is (bus/natsconf).
	Center bus.ConnectOptions
	Edges  []bus.ConnectOptions
	// Replicas of the events stream (1 for one server, 3 for a cluster).
	Replicas int
	// Cameras and Rate (sightings per camera per second) make the offered load over Duration. With a
	// Rate of 0 the edges publish Backlog events first and the center's drain of them is measured:
	// its capacity, without the edges competing for the machine.
	Cameras int
	Rate    float64
	Backlog int
	// Payload is the size of one sighting event (default 1500 bytes: a sighting with its boxes and
	// embeddings and object-store keys of its snapshots, not their bytes).
	Payload int
	// Duration of the measurement, after Warmup.
	Duration, Warmup time.Duration
	// Workers of the center's consumer (default 4).
	Workers int
	// DB, when set, is the center's database: each event is applied through the ledger with one row
	// written; when nil events are only counted (the bus alone).
	DB *sql.DB
	// Dir holds the edges' outboxes.
	Dir string
}

// Result is what was measured over Duration.
type Result struct {
	Offered, Applied float64 // events per second
	// P50 and P99 are from an event's making at the edge to its apply at the center.
	P50, P99 time.Duration
	// MaxLag is the most events the consumer was behind (stored, not yet acknowledged), EndLag at the end.
	MaxLag, EndLag uint64
	// Again counts deliveries the ledger found already applied (redeliveries), with a DB.
	Again int64
}

func (r Result) String() string {
	return fmt.Sprintf("offered %.0f/s, applied %.0f/s, latency p50 %v p99 %v, lag max %d end %d",
		r.Offered, r.Applied, r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.MaxLag, r.EndLag)
}

// Run provisions the events stream (deleting a previous one), runs edges and center for
// Warmup + Duration, and reports.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Cameras <= 0 || len(o.Edges) == 0 || o.Duration <= 0 {
		return Result{}, errors.New("busbench: cameras, edges and a duration are required")
	}
	if o.Payload <= 0 {
		o.Payload = 1500
	}
	center, err := bus.Connect(ctx, o.Center)
	if err != nil {
		return Result{}, err
	}
	defer center.Close()
	js, err := jetstream.New(center)
	if err != nil {
		return Result{}, err
	}
	if err := js.DeleteStream(ctx, bus.StreamEvents); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return Result{}, fmt.Errorf("busbench: %w", err)
	}
	if _, err := bus.ProvisionEvents(ctx, js, bus.StreamOptions{Replicas: o.Replicas, MaxBytes: 1 << 30}); err != nil {
		return Result{}, err
	}
	if o.DB != nil {
		if err := ledger.Migrate(ctx, o.DB); err != nil {
			return Result{}, err
		}
		if _, err := o.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_sightings (key TEXT PRIMARY KEY, payload BLOB)`); err != nil {
			return Result{}, err
		}
	}

	b := &bench{o: o}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	errc := make(chan error, len(o.Edges)*2+1)
	consume := func() {
		wg.Go(func() {
			errc <- bus.ConsumeBatches(ctx, js, bus.ConsumerOptions{Workers: o.Workers, AckWait: time.Minute, MaxAckPending: 4096}, b.apply)
		})
	}
	if o.Rate > 0 {
		consume()
	}
	for i, eo := range o.Edges {
		if err := b.startEdge(ctx, &wg, errc, i, eo); err != nil {
			return Result{}, err
		}
	}
	if o.Rate <= 0 {
		return b.drain(ctx, js, consume, errc)
	}
	wg.Go(func() { b.sampleLag(ctx, js) })

	select {
	case <-ctx.Done():
	case <-time.After(o.Warmup):
	}
	b.measuring.Store(true)
	b.published.Store(0)
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(o.Duration):
	case err = <-errc:
	}
	b.measuring.Store(false)
	elapsed := time.Since(start).Seconds()
	end, _ := bus.ConsumerLag(context.Background(), js, "", nil)
	if err != nil {
		return Result{}, err
	}
	r := Result{Offered: float64(b.published.Load()) / elapsed, Applied: float64(b.applied.Load()) / elapsed,
		MaxLag: b.maxLag.Load(), EndLag: end.Pending + end.AckPending, Again: b.again.Load()}
	b.mu.Lock()
	lat := b.latencies
	b.mu.Unlock()
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r, nil
}

// drain waits until the backlog is in the stream, then starts the center and times its drain (at
// most Duration).
func (b *bench) drain(ctx context.Context, js jetstream.JetStream, consume func(), errc <-chan error) (Result, error) {
	want := uint64(b.o.Backlog / len(b.o.Edges) * len(b.o.Edges))
	for {
		s, err := js.Stream(ctx, bus.StreamEvents)
		if err != nil {
			return Result{}, err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return Result{}, err
		}
		if info.State.Msgs >= want {
			break
		}
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case err := <-errc:
			return Result{}, err
		case <-time.After(100 * time.Millisecond):
		}
	}
	b.measuring.Store(true)
	start := time.Now()
	consume()
	deadline := time.After(b.o.Duration)
	for uint64(b.applied.Load()) < want {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case err := <-errc:
			return Result{}, err
		case <-deadline:
			return Result{}, fmt.Errorf("busbench: %d of %d events applied within %v", b.applied.Load(), want, b.o.Duration)
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(start).Seconds()
	return Result{Applied: float64(want) / elapsed, MaxLag: want, Again: b.again.Load()}, nil
}

type bench struct {
	o         Options
	measuring atomic.Bool
	published atomic.Int64
	applied   atomic.Int64
	again     atomic.Int64
	maxLag    atomic.Uint64
	mu        sync.Mutex
	latencies []time.Duration
}

func (b *bench) startEdge(ctx context.Context, wg *sync.WaitGroup, errc chan<- error, i int, eo bus.ConnectOptions) error {
	nc, err := bus.Connect(ctx, eo)
	if err != nil {
		return err
	}
	ob, err := outbox.Open(filepath.Join(b.o.Dir, eo.Name), outbox.Options{MaxBytes: 4 << 30})
	if err != nil {
		nc.Close()
		return err
	}
	pub, err := bus.NewPublisher(nc, ob, bus.PublisherOptions{})
	if err != nil {
		nc.Close()
		ob.Close()
		return err
	}
	wg.Go(func() {
		errc <- pub.Run(ctx)
		ob.Close()
		nc.Close()
	})
	var cams []string
	for c := i; c < b.o.Cameras; c += len(b.o.Edges) {
		cams = append(cams, "cam-"+strconv.Itoa(c))
	}
	wg.Go(func() { b.generate(ctx, nc, eo.Name, cams, pub) })
	return nil
}

// generate offers the edge's share of the load, in 10 ms slices, cameras in turn.
func (b *bench) generate(ctx context.Context, nc *nats.Conn, edge string, cams []string, pub *bus.Publisher) {
	payload := make([]byte, b.o.Payload)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	seq := make([]uint64, len(cams))
	next := 0
	send := func() bool {
		c := next % len(cams)
		next++
		seq[c]++
		e := &bus.Event{Edge: edge, Camera: cams[c], Kind: "sighting", Epoch: 1, Seq: seq[c],
			Key: "sighting/" + cams[c] + "-" + strconv.FormatUint(seq[c], 10), Produced: time.Now(), Payload: payload}
		if err := pub.Publish(e); err != nil {
			return false
		}
		b.published.Add(1)
		return true
	}
	if b.o.Rate <= 0 {
		// Drain mode: the backlog, at once.
		for range b.o.Backlog / len(b.o.Edges) {
			if !send() {
				return
			}
		}
		return
	}
	// The debt follows the clock, not the ticks: a tick missed while the machine is busy is made up.
	perSecond := float64(len(cams)) * b.o.Rate
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	last, debt := time.Now(), 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			debt += now.Sub(last).Seconds() * perSecond
			last = now
		}
		for ; debt >= 1; debt-- {
			if !send() {
				return
			}
		}
	}
}

// apply applies a worker's batch through the ledger in one transaction, one row per event.
func (b *bench) apply(ctx context.Context, ds []bus.Delivery) []error {
	var errs []error
	if b.o.DB != nil {
		items := make([]ledger.Item, len(ds))
		for i, d := range ds {
			items[i] = ledger.Item{Key: d.ApplyKey(), Version: ledger.Version{Epoch: d.Epoch, Seq: d.Seq}}
		}
		var applied []bool
		applied, errs = ledger.ApplyBatch(ctx, b.o.DB, items, func(tx *sql.Tx, i int) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO bench_sightings VALUES (?, ?)`, items[i].Key, ds[i].Payload)
			return err
		})
		for i, a := range applied {
			if !a && errs[i] == nil {
				b.again.Add(1)
			}
		}
	}
	if b.measuring.Load() {
		now := time.Now()
		b.mu.Lock()
		for i, d := range ds {
			if errs == nil || errs[i] == nil {
				b.applied.Add(1)
				b.latencies = append(b.latencies, now.Sub(d.Produced))
			}
		}
		b.mu.Unlock()
	}
	return errs
}

func (b *bench) sampleLag(ctx context.Context, js jetstream.JetStream) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if lag, err := bus.ConsumerLag(ctx, js, "", nil); err == nil && b.measuring.Load() {
			if n := lag.Pending + lag.AckPending; n > b.maxLag.Load() {
				b.maxLag.Store(n)
			}
		}
	}
}
