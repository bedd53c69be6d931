package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WorkerOptions configure a Worker. Zero values take the defaults in brackets.
type WorkerOptions struct {
	Client *http.Client // [10 s timeout, no redirects]
	Now    func() time.Time
	// MinBackoff and MaxBackoff bound the wait before retrying a failed delivery [1 s, 5 min]; each
	// failure doubles it, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long after it was queued a message is abandoned (recorded as failed) [24 h].
	MaxAge time.Duration
	// Batch is how many due messages one pass takes [100]; Parallel how many receivers are sent to at
	// once [4] (one receiver's messages go in order, one at a time).
	Batch, Parallel int
	// Idle is the longest sleep between passes when nothing is due [5 s]; Kick wakes it earlier.
	Idle       time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Worker delivers outbox messages as signed webhooks.
type Worker struct {
	outbox    Outbox
	receivers Receivers
	o         WorkerOptions
	log       *slog.Logger
	kick      chan struct{}

	// busy holds the receivers Run is sending to now; slots bounds them to Parallel.
	mu    sync.Mutex
	busy  map[string]bool
	slots chan struct{}

	delivered, retried, failed prometheus.Counter
	latency                    prometheus.Histogram
}

// NewWorker returns a worker for outbox; call Run.
func NewWorker(outbox Outbox, receivers Receivers, o WorkerOptions) (*Worker, error) {
	if o.Client == nil {
		o.Client = &http.Client{
			Timeout: 10 * time.Second,
			// A receiver that redirects is misconfigured; following could send signed alerts elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Minute, o.MinBackoff)
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Idle <= 0 {
		o.Idle = 5 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{outbox: outbox, receivers: receivers, o: o, log: log.With("component", "notify"), kick: make(chan struct{}, 1),
		busy: map[string]bool{}, slots: make(chan struct{}, o.Parallel),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_notify_delivered_total", Help: "Webhook notifications delivered (receiver answered 2xx)."}),
		retried:   prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_notify_retries_total", Help: "Webhook delivery attempts that failed and were scheduled again."}),
		failed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_notify_failed_total", Help: "Webhook notifications abandoned after MaxAge."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "snowlight_notify_delivery_seconds", Help: "Time from queueing a notification to its delivery.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{w.delivered, w.retried, w.failed, w.latency} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register notify metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Kick makes Run look for due messages now (the engine calls it after queueing some).
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers messages until ctx ends. Each receiver is served by a goroutine of its own that
// sends its due messages in order; a new pass starts whenever something is queued or a receiver is
// done, without waiting for the others. A receiver that hangs until the client's timeout, or keeps
// failing, so delays only its own messages: never a dispatch request to another unit.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if err := w.pass(ctx, &wg); err != nil && ctx.Err() == nil {
			w.log.Error("outbox pass failed", "err", err)
		}
		sleep := w.o.Idle
		if next, ok, err := w.outbox.NextOutboxDue(ctx); err == nil && ok {
			// A message due already is one a busy receiver is working through: its goroutine kicks
			// the loop when done, and the short poll covers a batch that did not take every receiver.
			sleep = min(sleep, max(next.Sub(w.o.Now()), busyPoll))
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-w.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// busyPoll is how often Run looks again while due messages wait for a busy receiver.
const busyPoll = 250 * time.Millisecond

// pass starts a goroutine for every receiver with due messages that has none running, as far as
// Parallel allows; the rest wait for a later pass.
func (w *Worker) pass(ctx context.Context, wg *sync.WaitGroup) error {
	// A receiver busy while the outbox is read may finish meanwhile: what was read for it can be
	// stale (delivered since), so it waits for the pass its goroutine kicks when done.
	w.mu.Lock()
	wasBusy := maps.Clone(w.busy)
	w.mu.Unlock()
	byReceiver, order, err := w.due(ctx)
	if err != nil {
		return err
	}
	for _, r := range order {
		w.mu.Lock()
		if w.busy[r] || wasBusy[r] {
			w.mu.Unlock()
			continue
		}
		select {
		case w.slots <- struct{}{}:
		default:
			w.mu.Unlock()
			return nil
		}
		w.busy[r] = true
		w.mu.Unlock()
		wg.Go(func() {
			defer func() {
				w.mu.Lock()
				delete(w.busy, r)
				w.mu.Unlock()
				<-w.slots
				w.Kick() // what was queued for r meanwhile
			}()
			if _, err := w.sendInOrder(ctx, byReceiver[r]); err != nil && ctx.Err() == nil {
				w.log.Error("outbox delivery not recorded", "receiver", r, "err", err)
			}
		})
	}
	return nil
}

// due reads the due messages grouped by receiver, receivers in the order of their first message.
func (w *Worker) due(ctx context.Context) (map[string][]Message, []string, error) {
	msgs, err := w.outbox.DueOutbox(ctx, w.o.Now(), w.o.Batch)
	if err != nil {
		return nil, nil, fmt.Errorf("read outbox: %w", err)
	}
	byReceiver := map[string][]Message{}
	var order []string
	for _, m := range msgs {
		if _, ok := byReceiver[m.Receiver]; !ok {
			order = append(order, m.Receiver)
		}
		byReceiver[m.Receiver] = append(byReceiver[m.Receiver], m)
	}
	return byReceiver, order, nil
}

// sendInOrder sends one receiver's messages in order, stopping at the first that fails so the rest
// keep their order for the next attempt. It reports how many were delivered.
func (w *Worker) sendInOrder(ctx context.Context, msgs []Message) (int, error) {
	delivered := 0
	for _, m := range msgs {
		ok, err := w.attempt(ctx, m)
		if ok {
			delivered++
		}
		if err != nil || !ok {
			return delivered, err
		}
	}
	return delivered, nil
}

// RunOnce makes one pass over the due messages, waits for it to finish and reports how many were
// delivered.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	byReceiver, order, err := w.due(ctx)
	if err != nil {
		return 0, err
	}
	var (
		mu        sync.Mutex
		delivered int
		firstErr  error
		wg        sync.WaitGroup
		sem       = make(chan struct{}, w.o.Parallel)
	)
	for _, r := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n, err := w.sendInOrder(ctx, byReceiver[r])
			mu.Lock()
			delivered += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return delivered, firstErr
}

// attempt sends one message and records the outcome. ok reports delivery; err is only for failures
// to record the outcome (a receiver's failure is recorded, not returned).
func (w *Worker) attempt(ctx context.Context, m Message) (ok bool, err error) {
	sendErr := w.send(ctx, m)
	now := w.o.Now()
	if ctx.Err() != nil {
		return false, nil // shutting down: the message stays due and goes out after restart
	}
	if sendErr == nil {
		w.delivered.Inc()
		w.latency.Observe(now.Sub(m.Created).Seconds())
		if err := w.outbox.MarkOutboxDelivered(ctx, m.ID, now); err != nil {
			// Delivered but not marked: it will be sent again, with the same key.
			return true, fmt.Errorf("mark message %d delivered: %w", m.ID, err)
		}
		return true, nil
	}
	attempts := m.Attempts + 1
	if now.Sub(m.Created) >= w.o.MaxAge {
		w.failed.Inc()
		w.log.Error("notification abandoned", "receiver", m.Receiver, "key", m.Key, "topic", m.Topic, "attempts", attempts, "err", sendErr)
		if err := w.outbox.FailOutbox(ctx, m.ID, now, sendErr.Error()); err != nil {
			return false, fmt.Errorf("record failure of message %d: %w", m.ID, err)
		}
		return false, nil
	}
	w.retried.Inc()
	next := now.Add(w.backoff(attempts))
	w.log.Warn("notification not delivered; will retry", "receiver", m.Receiver, "key", m.Key, "attempts", attempts, "next", next, "err", sendErr)
	if err := w.outbox.RetryOutbox(ctx, m.ID, attempts, next, sendErr.Error()); err != nil {
		return false, fmt.Errorf("reschedule message %d: %w", m.ID, err)
	}
	return false, nil
}

// backoff is the wait after the n-th failed attempt: MinBackoff·2^(n-1), capped, with equal jitter
// (uniform in [d/2, d]) so receivers coming back are not hit by every sender at once.
func (w *Worker) backoff(n int) time.Duration {
	d := w.o.MinBackoff
	for i := 1; i < n && d < w.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.o.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (w *Worker) send(ctx context.Context, m Message) error {
	ep, err := w.receivers.Endpoint(ctx, m.Receiver)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "snowlight-notify/1")
	req.Header.Set(IdempotencyKeyHeader, m.Key)
	req.Header.Set(TopicHeader, m.Topic)
	req.Header.Set("Snowlight-Attempt", strconv.Itoa(m.Attempts+1))
	req.Header.Set(SignatureHeader, Sign(ep.Secret, m.Payload, w.o.Now()))
	resp, err := w.o.Client.Do(req)
	if err != nil {
		// url.Error quotes the whole URL, which may carry a token; the receiver's name is enough.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %w", m.Receiver, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: receiver answered %s", m.Receiver, resp.Status)
	}
	return nil
}
