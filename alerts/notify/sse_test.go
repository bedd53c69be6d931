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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.Len(t, out, n, "stream ended early: %v", sc.Err())
	return out
}

func connect(t *testing.T, url, lastID string) *bufio.Scanner {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"), "content type")
	return bufio.NewScanner(resp.Body)
}

func waitClients(t *testing.T, hub *notify.Hub[json.RawMessage], n int) {
	t.Helper()
	require.Eventually(t, func() bool { return hub.Clients() == n }, 5*time.Second, time.Millisecond,
		"want %d clients connected", n)
}

// TestStreamLiveAndResume: live events reach every client; a client that reconnects with
// Last-Event-ID gets exactly what it missed, then live events; a filter hides other people's events.
func TestStreamLiveAndResume(t *testing.T) {
	hub, err := notify.NewHub[json.RawMessage](notify.HubOptions{Heartbeat: 20 * time.Millisecond})
	require.NoError(t, err)
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
		assert.Equal(t, int64(i+1), e.id, "event %d: %+v", i, e)
		assert.Equal(t, "alert", e.typ, "event %d: %+v", i, e)
		assert.Contains(t, e.data, fmt.Sprintf(`"A%d"`, i+1), "event %d", i)
	}
	g := readEvents(t, guardian, 2)
	assert.Equal(t, int64(1), g[0].id, "guardian of P2 saw %+v", g)
	assert.Equal(t, int64(3), g[1].id, "guardian of P2 saw %+v", g)

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
		assert.Equal(t, int64(5+i), e.id, "resumed stream: event %d: %+v", i, got)
	}
	assert.Equal(t, `{"multi":"line"}`, got[4].data, "multi-line data, want one compact line")
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
	require.NoError(t, err)
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
	assert.Less(t, publishing, time.Second, "publishing 50 events with a stuck client")
	got := readEvents(t, fast, 50)
	assert.Equal(t, int64(50), got[49].id, "fast client's last event %+v", got[49])
	waitClients(t, hub, 1)
	close(slow.release)
	select {
	case err := <-slowDone:
		assert.Error(t, err, "stuck client's stream ended without an error")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "stuck client's stream did not end")
	}
}

// TestSubscribe covers the channel form of a stream (for handlers that encode events themselves):
// replay then live without gaps or repeats, and ErrDropped for a subscriber that stops reading.
func TestSubscribe(t *testing.T) {
	hub, err := notify.NewHub[json.RawMessage](notify.HubOptions{Buffer: 8})
	require.NoError(t, err)
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
	require.Equal(t, []int64{3, 4, 5, 6}, ids)
	require.NoError(t, sub.Err())

	stalled := hub.Subscribe(t.Context(), -1, nil)
	waitClients(t, hub, 1)
	for i := range 20 {
		log.append(hub, "alert", fmt.Sprintf(`{"n":%d}`, 100+i))
	}
	time.Sleep(10 * time.Millisecond)
	for range stalled.C { // drain what was in flight; the channel must close
	}
	assert.ErrorIs(t, stalled.Err(), notify.ErrDropped, "stalled subscriber")
}
