package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"snowlight/bus/outbox"
)

// PublisherOptions tune the edge's publisher.
type PublisherOptions struct {
	// Window is how many publishes may await JetStream's ack at once (default 256): one at a time
	// would cap an edge at one event per round trip.
	Window int
	// AckTimeout bounds the wait for one ack (default 5 s); RetryWait is the first pause after a
	// failure, doubling up to 10 s (default 250 ms).
	AckTimeout, RetryWait time.Duration
	Logger                *slog.Logger
	Metrics               *Metrics
}

// Publisher sends an edge's events to the events stream through its outbox: Publish only appends to
// the outbox, Run sends what is there in order, advancing the outbox only over what JetStream
// acknowledged. A failure (no answer, link down, stream full) makes Run wait and send again from
// the first unacknowledged event; what had reached the stream is recognised by its message id within
// the stream's duplicate window, and the center's apply is idempotent beyond it.
type Publisher struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	ob   *outbox.Outbox
	opts PublisherOptions
	log  *slog.Logger
}

// NewPublisher makes a publisher over the outbox, publishing on nc. The caller closes the outbox after
// Run returns.
func NewPublisher(nc *nats.Conn, ob *outbox.Outbox, opts PublisherOptions) (*Publisher, error) {
	if opts.Window <= 0 {
		opts.Window = 256
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 5 * time.Second
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = 250 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// An ack that never comes (a message lost with a node, a refused publish) fails after AckTimeout;
	// a dropped connection fails everything in flight at once.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(opts.AckTimeout),
		jetstream.WithPublishAsyncMaxPending(opts.Window))
	if err != nil {
		return nil, fmt.Errorf("event publisher: %w", err)
	}
	return &Publisher{nc: nc, js: js, ob: ob, opts: opts, log: log}, nil
}

// Publish queues the event. It returns once the event is in the outbox (see package outbox for
// when that is on disk), whether or not the link is up.
func (p *Publisher) Publish(e *Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if _, err := p.ob.Append(encodeRecord(e)); err != nil {
		return fmt.Errorf("queue event %s: %w", e.MessageID(), err)
	}
	return nil
}

// Stats describe the outbox.
func (p *Publisher) Stats() outbox.Stats { return p.ob.Stats() }

type inflight struct {
	index uint64
	ack   jetstream.PubAckFuture
}

// Run sends queued events until ctx ends; it returns nil then, or the outbox's error.
func (p *Publisher) Run(ctx context.Context) error {
	gauges := time.NewTicker(time.Second)
	defer gauges.Stop()
	// A reconnection ends a pause at once: the events of an outage go as soon as the link is back.
	reconnected := p.nc.StatusChanged(nats.CONNECTED)
	defer p.nc.RemoveStatusListener(reconnected)
	wait := p.opts.RetryWait
	var queue []inflight
	for {
		// Taken before polling, so an Append after the last Poll wakes the select below.
		appended := p.ob.Appended()
		for len(queue) < p.opts.Window {
			rec, ok, err := p.ob.Poll()
			if err != nil {
				return p.stopped(ctx, err)
			}
			if !ok {
				break
			}
			f, err := p.send(rec)
			if err != nil {
				p.failed(err)
				queue = p.rewind(ctx, reconnected, &wait)
				break
			}
			queue = append(queue, inflight{rec.Index, f})
		}
		if len(queue) >= p.opts.Window {
			appended = nil
		}
		// Records dropped as unreadable need no ack; the outbox moves past them in order.
		for len(queue) > 0 && queue[0].ack == nil {
			p.ob.Ack(queue[0].index)
			queue = queue[1:]
		}
		var ok <-chan *jetstream.PubAck
		var fail <-chan error
		if len(queue) > 0 {
			ok, fail = queue[0].ack.Ok(), queue[0].ack.Err()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-gauges.C:
			p.gauges()
		case <-appended:
		case a := <-ok:
			p.ob.Ack(queue[0].index)
			queue = queue[1:]
			wait = p.opts.RetryWait
			if m := p.opts.Metrics; m != nil {
				m.published.Inc()
				if a.Duplicate {
					m.duplicates.Inc()
				}
			}
		case err := <-fail:
			p.failed(err)
			queue = p.rewind(ctx, reconnected, &wait)
		}
	}
}

// send publishes one record; a nil future means the record was unreadable and is skipped.
func (p *Publisher) send(rec outbox.Record) (jetstream.PubAckFuture, error) {
	e, err := decodeRecord(rec.Data)
	if err != nil {
		// Only this process writes the outbox, through Publish's validation: a record that does not
		// decode is disk corruption. Skipping it is the one way forward; it is logged as lost.
		p.log.Error("outbox record unreadable; dropped", "index", rec.Index, "err", err)
		return nil, nil
	}
	m, err := e.Msg()
	if err != nil {
		p.log.Error("outbox event invalid; dropped", "index", rec.Index, "err", err)
		return nil, nil
	}
	return p.js.PublishMsgAsync(m)
}

func (p *Publisher) failed(err error) {
	if m := p.opts.Metrics; m != nil {
		m.publishErrors.Inc()
	}
	p.log.Warn("publishing events failed; the outbox keeps them and sends again", "err", err)
}

// rewind pauses (doubling the pause up to 10 s, ended early by a reconnection), forgets what is in flight and makes the outbox hand
// out again everything not acknowledged.
func (p *Publisher) rewind(ctx context.Context, reconnected <-chan nats.Status, wait *time.Duration) []inflight {
	select {
	case <-ctx.Done():
	case <-time.After(*wait):
	case <-reconnected:
	}
	*wait = min(*wait*2, 10*time.Second)
	p.ob.Rewind()
	return nil
}

func (p *Publisher) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("event publisher: %w", err)
}

func (p *Publisher) gauges() {
	m := p.opts.Metrics
	if m == nil {
		return
	}
	st := p.ob.Stats()
	m.outboxRecords.Set(float64(st.Records))
	m.outboxBytes.Set(float64(st.Bytes))
	m.outboxDropped.Set(float64(st.Dropped))
	if st.Oldest.IsZero() {
		m.outboxOldest.Set(0)
	} else {
		m.outboxOldest.Set(time.Since(st.Oldest).Seconds())
	}
}
