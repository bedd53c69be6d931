package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Event is one entry of a console stream. IDs increase; a client that reconnects with the last ID it
// saw (the Last-Event-ID header browsers send by themselves) gets everything after it. Data stays a
// typed value until Serve writes it to a client as JSON.
type Event[T any] struct {
	ID   int64
	Type string // the SSE event name
	Data T
}

// HubOptions configure a Hub.
type HubOptions struct {
	// Buffer is how many events may wait for one client [256]. A client that falls further behind is
	// disconnected rather than allowed to slow anyone down; it reconnects and catches up by replay.
	Buffer int
	// Heartbeat is the interval of keep-alive comments that stop proxies closing idle streams [15 s].
	Heartbeat time.Duration
	// WriteTimeout bounds one write to a client [10 s].
	WriteTimeout time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Hub fans events out to Server-Sent Events clients.
type Hub[T any] struct {
	o   HubOptions
	log *slog.Logger

	mu      sync.Mutex
	clients map[*client[T]]struct{}

	connected prometheus.Gauge
	dropped   prometheus.Counter
}

type client[T any] struct {
	ch   chan Event[T]
	gone chan struct{} // closed when the hub drops the client
}

// NewHub returns an empty hub.
func NewHub[T any](o HubOptions) (*Hub[T], error) {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub[T]{o: o, log: log.With("component", "sse"), clients: map[*client[T]]struct{}{},
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_sse_clients", Help: "Connected event-stream clients."}),
		dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_sse_dropped_total", Help: "Event-stream clients disconnected for falling behind."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{h.connected, h.dropped} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register SSE metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Publish hands events to every client without waiting for any of them.
func (h *Hub[T]) Publish(events ...Event[T]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for _, e := range events {
			select {
			case c.ch <- e:
			default:
				delete(h.clients, c)
				close(c.gone)
				h.connected.Dec()
				h.dropped.Inc()
				h.log.Warn("event-stream client too slow; disconnected (it will resume from its last event)", "buffer", h.o.Buffer)
			}
			if _, still := h.clients[c]; !still {
				break
			}
		}
	}
}

// Clients is the number of connected clients.
func (h *Hub[T]) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *Hub[T]) subscribe() *client[T] {
	c := &client[T]{ch: make(chan Event[T], h.o.Buffer), gone: make(chan struct{})}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	h.connected.Inc()
	return c
}

func (h *Hub[T]) unsubscribe(c *client[T]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.connected.Dec()
	}
}

// Replay returns up to limit events with IDs greater than after, in ID order (the durable log the
// stream resumes from: for alerts, the alert event table).
type Replay[T any] func(ctx context.Context, after int64, limit int) ([]Event[T], error)

// StreamOptions adapt one stream to its viewer.
type StreamOptions[T any] struct {
	Replay Replay[T]
	// Filter, if set, decides which events this viewer may see (a guardian sees only their person).
	Filter func(Event[T]) bool
}

// ErrDropped ends the stream of a client that fell too far behind.
var ErrDropped = errors.New("event-stream client fell behind and was disconnected")

// Subscribe returns the events after ID after: first those Replay returns (when after >= 0), then
// live ones, each once and in order. The channel closes when ctx ends or the subscriber falls more
// than Buffer events behind; the subscriber then resumes with the last ID it saw. Err reports why it
// closed (nil when ctx ended).
func (h *Hub[T]) Subscribe(ctx context.Context, after int64, replay Replay[T]) *Subscription[T] {
	c := h.subscribe() // before replaying, so nothing published meanwhile is missed
	ch := make(chan Event[T])
	s := &Subscription[T]{C: ch}
	go func() {
		defer close(ch)
		defer h.unsubscribe(c)
		last := after
		emit := func(e Event[T]) bool {
			if e.ID <= last {
				return true
			}
			last = e.ID
			select {
			case ch <- e:
				return true
			case <-ctx.Done():
				return false
			case <-c.gone:
				s.setErr(ErrDropped)
				return false
			}
		}
		if after >= 0 && replay != nil {
			for {
				evs, err := replay(ctx, last, 500)
				if err != nil {
					s.setErr(fmt.Errorf("replay events after %d: %w", last, err))
					return
				}
				for _, e := range evs {
					if !emit(e) {
						return
					}
				}
				if len(evs) < 500 {
					break
				}
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.gone:
				s.setErr(ErrDropped)
				return
			case e := <-c.ch:
				if !emit(e) {
					return
				}
			}
		}
	}()
	return s
}

// Subscription is a stream of events from Subscribe.
type Subscription[T any] struct {
	C   <-chan Event[T]
	mu  sync.Mutex
	err error
}

// Err says why C closed: nil if the context ended, ErrDropped if the subscriber fell behind, or a
// replay error. Read it after C is closed.
func (s *Subscription[T]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Subscription[T]) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Serve streams events to one client until it leaves, the request's context ends or the hub drops it.
// A Last-Event-ID header (or last_event_id query parameter, for clients that cannot set headers)
// replays what the client missed before live events.
func (h *Hub[T]) Serve(w http.ResponseWriter, r *http.Request, o StreamOptions[T]) error {
	rc := http.NewResponseController(w)
	var after int64 = -1
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		after, _ = strconv.ParseInt(s, 10, 64)
	} else if s := r.URL.Query().Get("last_event_id"); s != "" {
		after, _ = strconv.ParseInt(s, 10, 64)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sub := h.Subscribe(ctx, after, o.Replay)

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) error {
		rc.SetWriteDeadline(time.Now().Add(h.o.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send([]byte("retry: 2000\n\n")); err != nil {
		return err
	}
	var buf bytes.Buffer
	beat := time.NewTicker(h.o.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				return sub.Err()
			}
			if o.Filter != nil && !o.Filter(e) {
				continue
			}
			buf.Reset()
			if err := writeEvent(&buf, e); err != nil {
				return err
			}
			if err := send(buf.Bytes()); err != nil {
				return err
			}
		case <-beat.C:
			if err := send([]byte(": ping\n\n")); err != nil {
				return err
			}
		}
	}
}

// writeEvent encodes one event, its data as JSON on one data line (JSON encoding escapes every line
// break, which would end an SSE field).
func writeEvent[T any](b *bytes.Buffer, e Event[T]) error {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("encode stream event %d: %w", e.ID, err)
	}
	fmt.Fprintf(b, "id: %d\n", e.ID)
	if e.Type != "" {
		fmt.Fprintf(b, "event: %s\n", sanitizeLine(e.Type))
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return nil
}

func sanitizeLine(s string) string {
	return string(bytes.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, []byte(s)))
}
