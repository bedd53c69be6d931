package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions configure the events stream (ProvisionEvents).
type StreamOptions struct {
	// Replicas is 1 for a single server, 3 for a cluster (a stream survives the loss of one node).
	Replicas int
	// MaxBytes bounds the stream (default 8 GiB). When the center falls this far behind, publishes
	// are refused and the events wait in the edges' outboxes: nothing is dropped at the broker.
	MaxBytes int64
	// Duplicates is the de-duplication window (default 2 min): a resend of an event within it is
	// recognised by its message id and not stored again. It needs to cover a publisher's resends of
	// what was in flight when an ack was lost (seconds); longer outages are the center's idempotent
	// apply's to absorb, not a bigger window (its ids are kept in the server's memory).
	Duplicates time.Duration
}

// ProvisionEvents creates or updates the events stream. Work-queue retention: an event is removed
// once the center acknowledged it, so the stream holds the backlog, not the history.
func ProvisionEvents(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 8 << 30
	}
	if o.Duplicates <= 0 {
		o.Duplicates = 2 * time.Minute
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamEvents,
		Description: "snowlight edge → center events, until the center has applied them",
		Subjects:    []string{EventsSubjects()},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    o.MaxBytes,
		MaxMsgSize:  MaxPayload + 64<<10,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  o.Duplicates,
		DenyDelete:  true,
		DenyPurge:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("provision stream %s: %w", StreamEvents, err)
	}
	return s, nil
}

// Delivery is an event as the center's consumer hands it to the handler.
type Delivery struct {
	Event
	// Sequence is the stream's sequence number; Delivered counts deliveries, 1 the first time.
	Sequence, Delivered uint64
	// Stored is when the stream stored the event (the server's clock).
	Stored time.Time
}

// Handler applies one event. It returns nil when the event is applied (or was already: handlers
// must be idempotent, see bus/ledger), an error wrapped with Refuse when the event must never be
// applied (malformed, fenced off), another error to have it delivered again later.
type Handler func(ctx context.Context, d Delivery) error

// BatchHandler applies several events of one partition, in order (e.g. in one transaction:
// ledger.ApplyBatch), and returns one verdict per event, as a Handler would; a shorter slice means
// nil for the rest.
type BatchHandler func(ctx context.Context, ds []Delivery) []error

// refused marks a handler's error as final.
type refused struct{ err error }

func (r refused) Error() string { return r.err.Error() }
func (r refused) Unwrap() error { return r.err }

// Refuse marks err as final: the event is terminated, not redelivered.
func Refuse(err error) error { return refused{err} }

// IsRefused reports whether err was marked final with Refuse.
func IsRefused(err error) bool {
	var r refused
	return errors.As(err, &r)
}

// ConsumerOptions tune the center's consumer.
type ConsumerOptions struct {
	// Durable names the consumer (default ConsumerCenter).
	Durable string
	// Workers is how many events are handled at once (default 4). Events of one camera always go to
	// the same worker, so they are handled in the order they were delivered.
	Workers int
	// Batch bounds how many queued events of a worker ConsumeBatches hands over at once (default 64).
	Batch int
	// AckWait is how long a delivered event may take before JetStream delivers it again (default
	// 30 s); MaxAckPending bounds events delivered and not yet acknowledged (default 1024).
	AckWait       time.Duration
	MaxAckPending int
	// MaxDeliver bounds deliveries of one event (default 10); Backoff are the delays before each
	// redelivery after a handler error (default 1, 2, 5, 10, 30 s, then the last one).
	MaxDeliver int
	Backoff    []time.Duration
	// DeadLetter, when set, is called once for an event given up on (refused, undecodable, or still
	// failing at its last delivery), before it is terminated: where the center keeps it for people.
	DeadLetter func(ctx context.Context, d Delivery, err error)
	Logger     *slog.Logger
	Metrics    *Metrics
}

func (o *ConsumerOptions) defaults() {
	if o.Durable == "" {
		o.Durable = ConsumerCenter
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = 1024
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 10
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Consume creates (or updates) the durable consumer on the events stream and handles events with h
// until ctx ends; it returns nil then. Events in a worker's queue when ctx ends are handed back to
// JetStream at once (nak), so the next center to consume gets them without waiting for AckWait.
func Consume(ctx context.Context, js jetstream.JetStream, o ConsumerOptions, h Handler) error {
	o.Batch = 1
	return ConsumeBatches(ctx, js, o, func(ctx context.Context, ds []Delivery) []error {
		errs := make([]error, len(ds))
		for i, d := range ds {
			errs[i] = h(ctx, d)
		}
		return errs
	})
}

// ConsumeBatches is Consume with a handler of several events at once: a center that applies a
// worker's queued events in one transaction pays one commit for them.
func ConsumeBatches(ctx context.Context, js jetstream.JetStream, o ConsumerOptions, h BatchHandler) error {
	o.defaults()
	cons, err := js.CreateOrUpdateConsumer(ctx, StreamEvents, jetstream.ConsumerConfig{
		Durable:       o.Durable,
		Description:   "the center applying edge events",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    o.MaxDeliver,
		MaxAckPending: o.MaxAckPending,
		FilterSubject: EventsSubjects(),
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("consumer %s on %s: %w", o.Durable, StreamEvents, err)
	}
	// Batches small enough that a worker's queue is handled well within AckWait.
	it, err := cons.Messages(jetstream.PullMaxMessages(min(o.MaxAckPending, 256)))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", o.Durable, err)
	}
	c := &consumer{opts: o, h: h, log: o.Logger.With("consumer", o.Durable)}
	queues := make([]chan jetstream.Msg, o.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, 64)
		wg.Go(func() { c.work(ctx, queues[i]) })
	}
	// Drain, not Stop: what the iterator already pulled still reaches the workers, which hand it back.
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	if o.Metrics != nil {
		wg.Go(func() { pollLag(ctx, js, o.Durable, o.Metrics) })
	}
	var fetchErr error
	for {
		msg, err := it.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				fetchErr = fmt.Errorf("consumer %s: %w", o.Durable, err)
			}
			break
		}
		queues[partition(msg.Subject(), o.Workers)] <- msg
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fetchErr
}

// pollLag keeps the lag gauges current while the consumer runs.
func pollLag(ctx context.Context, js jetstream.JetStream, durable string, m *Metrics) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ConsumerLag(ctx, js, durable, m)
		}
	}
}

// partition maps an event's camera to a worker.
func partition(subject string, n int) int {
	// The camera is the fourth token; an undecodable subject goes anywhere (it is refused).
	parts := strings.SplitN(subject, ".", 5)
	h := fnv.New32a()
	if len(parts) >= 4 {
		h.Write([]byte(parts[3]))
	}
	return int(h.Sum32() % uint32(n))
}

type consumer struct {
	opts ConsumerOptions
	h    BatchHandler
	log  *slog.Logger
}

// work handles its partition's events in order, in batches of what is already queued (at most
// Batch), so a batch handler can apply many events in one transaction.
func (c *consumer) work(ctx context.Context, q <-chan jetstream.Msg) {
	msgs := make([]jetstream.Msg, 0, c.opts.Batch)
	ds := make([]Delivery, 0, c.opts.Batch)
	for msg := range q {
		msgs = append(msgs[:0], msg)
	more:
		for len(msgs) < c.opts.Batch {
			select {
			case m, ok := <-q:
				if !ok {
					break more
				}
				msgs = append(msgs, m)
			default:
				break more
			}
		}
		if ctx.Err() != nil {
			// Back to the stream for whoever consumes next.
			for _, m := range msgs {
				m.Nak()
			}
			continue
		}
		// Undecodable events are refused one by one; the rest go to the handler together.
		ds = ds[:0]
		kept := msgs[:0]
		for _, m := range msgs {
			if d, ok := c.decode(ctx, m); ok {
				ds = append(ds, d)
				kept = append(kept, m)
			}
		}
		if len(ds) == 0 {
			continue
		}
		errs := c.h(ctx, ds)
		for i, m := range kept {
			var err error
			if i < len(errs) {
				err = errs[i]
			}
			c.settle(ctx, m, ds[i], err)
		}
	}
}

func (c *consumer) decode(ctx context.Context, msg jetstream.Msg) (Delivery, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		c.log.Error("event without JetStream metadata; terminated", "subject", msg.Subject(), "err", err)
		msg.Term()
		return Delivery{}, false
	}
	d := Delivery{Sequence: meta.Sequence.Stream, Delivered: meta.NumDelivered, Stored: meta.Timestamp}
	d.Event, err = DecodeEvent(msg.Subject(), msg.Headers(), msg.Data())
	if err != nil {
		c.giveUp(ctx, msg, d, Refuse(err))
		return Delivery{}, false
	}
	return d, true
}

// settle acknowledges, refuses or hands back one event by its handler's verdict.
func (c *consumer) settle(ctx context.Context, msg jetstream.Msg, d Delivery, err error) {
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			c.log.Warn("ack failed; the event comes again and is found applied", "event", d.MessageID(), "err", err)
		}
		c.count(resultApplied)
		if m := c.opts.Metrics; m != nil {
			m.eventAge.Observe(time.Since(d.Produced).Seconds())
		}
	case IsRefused(err):
		c.giveUp(ctx, msg, d, err)
	case ctx.Err() != nil:
		msg.Nak()
	case int(d.Delivered) >= c.opts.MaxDeliver:
		c.giveUp(ctx, msg, d, fmt.Errorf("still failing after %d deliveries: %w", d.Delivered, err))
	default:
		delay := c.opts.Backoff[min(int(d.Delivered), len(c.opts.Backoff))-1]
		c.log.Warn("applying an event failed; it comes again", "event", d.MessageID(), "delivery", d.Delivered, "in", delay, "err", err)
		msg.NakWithDelay(delay)
		c.count(resultRetry)
	}
}

func (c *consumer) giveUp(ctx context.Context, msg jetstream.Msg, d Delivery, err error) {
	result := resultDead
	if IsRefused(err) {
		result = resultRefused
	}
	c.log.Warn("event given up", "subject", msg.Subject(), "sequence", d.Sequence, "result", result, "err", err)
	if c.opts.DeadLetter != nil {
		c.opts.DeadLetter(ctx, d, err)
	}
	msg.TermWithReason(err.Error())
	c.count(result)
}

func (c *consumer) count(result string) {
	if m := c.opts.Metrics; m != nil {
		m.handled.WithLabelValues(result).Inc()
	}
}

// Lag is how far the center's consumer is behind.
type Lag struct {
	// Pending are stored events not yet delivered; AckPending delivered and not yet acknowledged.
	Pending, AckPending uint64
}

// ConsumerLag reads the consumer's state, and sets the lag gauges when m is not nil.
func ConsumerLag(ctx context.Context, js jetstream.JetStream, durable string, m *Metrics) (Lag, error) {
	if durable == "" {
		durable = ConsumerCenter
	}
	cons, err := js.Consumer(ctx, StreamEvents, durable)
	if err != nil {
		return Lag{}, fmt.Errorf("consumer lag: %w", err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return Lag{}, fmt.Errorf("consumer lag: %w", err)
	}
	lag := Lag{Pending: ci.NumPending, AckPending: uint64(ci.NumAckPending)}
	if m != nil {
		m.consumerLag.WithLabelValues("pending").Set(float64(lag.Pending))
		m.consumerLag.WithLabelValues("ack_pending").Set(float64(lag.AckPending))
	}
	return lag, nil
}

// EdgeBacklog counts stored, unapplied events per edge (work-queue retention: what is in the
// stream is what the center has not acknowledged), and sets the backlog gauges when m is not nil.
// It reads every subject's count, one per camera and kind: call it for the API or a scrape, not in
// a loop.
func EdgeBacklog(ctx context.Context, js jetstream.JetStream, m *Metrics) (map[string]uint64, error) {
	stream, err := js.Stream(ctx, StreamEvents)
	if err != nil {
		return nil, fmt.Errorf("edge backlog: %w", err)
	}
	si, err := stream.Info(ctx, jetstream.WithSubjectFilter(EventsSubjects()))
	if err != nil {
		return nil, fmt.Errorf("edge backlog: %w", err)
	}
	out := map[string]uint64{}
	for subject, n := range si.State.Subjects {
		if edge, _, _, err := parseEventSubject(subject); err == nil {
			out[edge] += n
		}
	}
	if m != nil {
		m.edgeBacklog.Reset()
		for edge, n := range out {
			m.edgeBacklog.WithLabelValues(edge).Set(float64(n))
		}
	}
	return out, nil
}
