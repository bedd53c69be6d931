package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"snowlight/alerts/notify"
)

// eventLog is the durable log a stream replays from (the alert event table in production).
type eventLog struct {
	mu  sync.Mutex
	evs []notify.Event[json.RawMessage]
}

func (l *eventLog) append(hub *notify.Hub[json.RawMessage], typ, data string) notify.Event[json.RawMessage] {
	l.mu.Lock()
	e := notify.Event[json.RawMessage]{ID: int64(len(l.evs) + 1), Type: typ, Data: json.RawMessage(data)}
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	hub.Publish(e)
	return e
}

func (l *eventLog) replay(ctx context.Context, after int64, limit int) ([]notify.Event[json.RawMessage], error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []notify.Event[json.RawMessage]
	for _, e := range l.evs {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

type sseEvent struct {
	id   int64
	typ  string
	data string
}

// readEvents parses an SSE stream the way a browser's EventSource does (enough of it for these tests).
func readEvents(t *testing.T, sc *bufio.Scanner, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	var data []string
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				cur.data = strings.Join(data, "\n")
				out = append(out, cur)
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, "id: "):
			cur.id, _ = strconv.ParseInt(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:])
		}
	}
	if len(out) < n {
		t.Fatalf("stream ended after %d of %d events: %v", len(out), n, sc.Err())
	}
	return out
}

func connect(t *testing.T, url, lastID string) *bufio.Scanner {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	return bufio.NewScanner(resp.Body)
}

func waitClients(t *testing.T, hub *notify.Hub[json.RawMessage], n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); hub.Clients() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients connected, want %d", hub.Clients(), n)
		}
	}
}

// TestStreamLiveAndResume: live events reach every client; a client that reconnects with
// Last-Event-ID gets exactly what it missed, then live events; a filter hides other people's events.
func TestStreamLiveAndResume(t *testing.T) {
	hub, err := notify.NewHub[json.RawMessage](notify.HubOptions{Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := notify.StreamOptions[json.RawMessage]{Replay: log.replay}
		if p := r.URL.Query().Get("person"); p != "" {
			o.Filter = func(e notify.Event[json.RawMessage]) bool {
				return strings.Contains(string(e.Data), `"person":"`+p+`"`)
			}
		}
		hub.Serve(w, r, o)
	}))
	t.Cleanup(srv.Close)

	a := connect(t, srv.URL, "")
	guardian := connect(t, srv.URL+"?person=P2", "")
	waitClients(t, hub, 2)
	for i := 1; i <= 4; i++ {
		log.append(hub, "alert", fmt.Sprintf(`{"alert":"A%d","person":"P%d"}`, i, i%2+1))
	}
	got := readEvents(t, a, 4)
	for i, e := range got {
		if e.id != int64(i+1) || e.typ != "alert" || !strings.Contains(e.data, fmt.Sprintf(`"A%d"`, i+1)) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	g := readEvents(t, guardian, 2)
	if g[0].id != 1 || g[1].id != 3 {
		t.Fatalf("guardian of P2 saw %+v", g)
	}

	// Missed events 5..7 while disconnected; resume from 4.
	for i := 5; i <= 7; i++ {
		log.append(hub, "alert", fmt.Sprintf(`{"alert":"A%d"}`, i))
	}
	b := connect(t, srv.URL, "4")
	waitClients(t, hub, 3)
	log.append(hub, "alert", `{"alert":"A8"}`)
	log.append(hub, "alert", "{\n\"multi\": \"line\"\n}")
	got = readEvents(t, b, 5)
	for i, e := range got {
		if e.id != int64(5+i) {
			t.Fatalf("resumed stream: event %d has id %d: %+v", i, e.id, got)
		}
	}
	if got[4].data != `{"multi":"line"}` {
		t.Fatalf("multi-line data came back as %q, want one compact line", got[4].data)
	}
}

// blockedWriter is a client whose connection has stopped draining.
type blockedWriter struct {
	header  http.Header
	release chan struct{}
}

func (b *blockedWriter) Header() http.Header { return b.header }
func (b *blockedWriter) WriteHeader(int)     {}
func (b *blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return 0, errors.New("connection closed")
}
func (b *blockedWriter) Flush() {}

// TestSlowClientDroppedNotBlocking: a client that stops reading is disconnected when its buffer fills;
// publishing never waits for it and the other clients get every event.
func TestSlowClientDroppedNotBlocking(t *testing.T) {
	hub, err := notify.NewHub[json.RawMessage](notify.HubOptions{Buffer: 16})
	if err != nil {
		t.Fatal(err)
	}
	slow := &blockedWriter{header: http.Header{}, release: make(chan struct{})}
	slowDone := make(chan error, 1)
	go func() {
		req := httptest.NewRequest("GET", "/stream", nil)
		slowDone <- hub.Serve(slow, req, notify.StreamOptions[json.RawMessage]{})
	}()
	log := &eventLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.Serve(w, r, notify.StreamOptions[json.RawMessage]{Replay: log.replay})
	}))
	t.Cleanup(srv.Close)
	fast := connect(t, srv.URL, "")
	waitClients(t, hub, 2)

	var publishing time.Duration
	for i := range 50 {
		start := time.Now()
		log.append(hub, "alert", fmt.Sprintf(`{"n":%d}`, i))
		publishing += time.Since(start)
		if i%4 == 3 {
			time.Sleep(2 * time.Millisecond) // the pace of a busy city, far below what a live client drains
		}
	}
	if publishing > time.Second {
		t.Fatalf("publishing 50 events took %v with a stuck client", publishing)
	}
	if got := readEvents(t, fast, 50); got[49].id != 50 {
		t.Fatalf("fast client's last event %+v", got[49])
	}
	waitClients(t, hub, 1)
	close(slow.release)
	select {
	case err := <-slowDone:
		if err == nil {
			t.Fatal("stuck client's stream ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stuck client's stream did not end")
	}
}

// TestSubscribe covers the channel form of a stream (for handlers that encode events themselves):
// replay then live without gaps or repeats, and ErrDropped for a subscriber that stops reading.
func TestSubscribe(t *testing.T) {
	hub, err := notify.NewHub[json.RawMessage](notify.HubOptions{Buffer: 8})
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	for i := range 5 {
		log.append(hub, "alert", fmt.Sprintf(`{"n":%d}`, i))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sub := hub.Subscribe(ctx, 2, log.replay)
	waitClients(t, hub, 1)
	log.append(hub, "alert", `{"n":5}`)
	var ids []int64
	for e := range sub.C {
		ids = append(ids, e.ID)
		if len(ids) == 4 {
			cancel()
		}
	}
	if fmt.Sprint(ids) != "[3 4 5 6]" || sub.Err() != nil {
		t.Fatalf("ids %v, err %v", ids, sub.Err())
	}

	stalled := hub.Subscribe(t.Context(), -1, nil)
	waitClients(t, hub, 1)
	for i := range 20 {
		log.append(hub, "alert", fmt.Sprintf(`{"n":%d}`, 100+i))
	}
	time.Sleep(10 * time.Millisecond)
	for range stalled.C { // drain what was in flight; the channel must close
	}
	if !errors.Is(stalled.Err(), notify.ErrDropped) {
		t.Fatalf("stalled subscriber: %v, want ErrDropped", stalled.Err())
	}
}
