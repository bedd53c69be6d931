package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts/notify"
	"snowlight/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "snowlight.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

var secret = bytes.Repeat([]byte("webhook-secret!"), 3)

// receiver is a webhook endpoint as a patrol or guardian app would run it: it verifies signatures and
// acts once per idempotency key. failFirst makes its first requests fail, as a receiver being deployed
// or restarted would.
type receiver struct {
	failFirst atomic.Int64
	requests  atomic.Int64
	mu        sync.Mutex
	seen      map[string]int    // accepted deliveries per idempotency key
	bodies    map[string]string // key -> body
	badSig    int
}

func newReceiver() *receiver { return &receiver{seen: map[string]int{}, bodies: map[string]string{}} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if err := notify.Verify(secret, body, r.Header.Get(notify.SignatureHeader), time.Now(), 5*time.Minute); err != nil {
		rc.mu.Lock()
		rc.badSig++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.failFirst.Add(-1) >= 0 {
		http.Error(w, "deploying", http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get(notify.IdempotencyKeyHeader)
	rc.mu.Lock()
	rc.seen[key]++
	rc.bodies[key] = string(body)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) counts() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.seen {
		out[k] = v
	}
	return out
}

// TestWebhookReceiverFailsThenRecovers: one receiver answers 503 to its first requests; the worker
// retries it with backoff while the other receiver gets its messages at once, and in the end each
// message has reached its receiver exactly once, signed, and is marked delivered.
func TestWebhookReceiverFailsThenRecovers(t *testing.T) {
	ctx := t.Context()
	db := openStore(t)
	flaky, steady := newReceiver(), newReceiver()
	flaky.failFirst.Store(4)
	fsrv, ssrv := httptest.NewServer(flaky), httptest.NewServer(steady)
	defer fsrv.Close()
	defer ssrv.Close()
	recv := notify.StaticReceivers{"patrol-7": {URL: fsrv.URL + "/hook", Secret: secret}, "guardian-1": {URL: ssrv.URL, Secret: secret}}
	for id, e := range recv {
		require.NoError(t, notify.ValidateEndpoint(e), "%s", id)
	}
	reg := prometheus.NewRegistry()
	w, err := notify.NewWorker(db, recv, notify.WorkerOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Idle: 50 * time.Millisecond, Registerer: reg})
	require.NoError(t, err)
	now := time.Now()
	var msgs []notify.Message
	for i := range 3 {
		for _, r := range []string{"patrol-7", "guardian-1"} {
			msgs = append(msgs, notify.Message{Receiver: r, Key: fmt.Sprintf("A%d/%s", i, r), Topic: "dispatch.request",
				Payload: fmt.Appendf(nil, `{"alert":"A%d"}`, i), Created: now})
		}
	}
	require.NoError(t, db.EnqueueOutbox(ctx, msgs...))
	require.NoError(t, db.EnqueueOutbox(ctx, msgs[0])) // queueing again is a no-op
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	assert.Eventually(t, func() bool { return len(flaky.counts())+len(steady.counts()) >= len(msgs) }, 10*time.Second, 10*time.Millisecond,
		"not every message reached its receiver")
	time.Sleep(100 * time.Millisecond) // a few more passes: nothing may be sent again
	stop()
	<-done

	for _, rc := range []*receiver{flaky, steady} {
		c := rc.counts()
		assert.Len(t, c, 3, "distinct messages received: %v", c)
		for k, n := range c {
			assert.Equal(t, 1, n, "%s accepted that many times", k)
		}
		rc.mu.Lock()
		assert.Zero(t, rc.badSig, "requests with bad signatures")
		rc.mu.Unlock()
	}
	assert.GreaterOrEqual(t, flaky.requests.Load(), int64(4+3), "flaky receiver's requests (4 failures, 3 deliveries)")
	all, err := db.OutboxMessages(ctx, "", 100)
	require.NoError(t, err)
	require.Len(t, all, len(msgs), "outbox")
	retried := 0
	for _, m := range all {
		assert.False(t, m.Delivered.IsZero(), "%s not marked delivered", m.Key)
		if m.Receiver == "patrol-7" && m.Attempts > 1 {
			retried++
		}
	}
	assert.NotZero(t, retried, "no message records its failed attempts")
	next, ok, err := db.NextOutboxDue(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "messages still pending (next %v)", next)
}

// TestHungReceiverDelaysOnlyItself: a guardian's app that takes the request and never answers must not
// hold up a dispatch request to a patrol unit queued after it; the patrol gets its request while the
// guardian's is still hanging.
func TestHungReceiverDelaysOnlyItself(t *testing.T) {
	ctx := t.Context()
	db := openStore(t)
	hung, answered := make(chan struct{}, 1), make(chan struct{})
	release := make(chan struct{})
	hsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		<-release
	}))
	steady := newReceiver()
	ssrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		steady.ServeHTTP(w, r)
		close(answered)
	}))
	defer ssrv.Close()
	defer hsrv.Close()
	defer close(release)
	w, err := notify.NewWorker(db, notify.StaticReceivers{"guardian:g": {URL: hsrv.URL, Secret: secret}, "patrol:p": {URL: ssrv.URL, Secret: secret}},
		notify.WorkerOptions{Client: &http.Client{Timeout: time.Minute}, Idle: time.Minute})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	enqueue := func(m notify.Message) {
		m.Payload, m.Created = []byte(`{}`), time.Now()
		require.NoError(t, db.EnqueueOutbox(ctx, m))
		w.Kick()
	}
	enqueue(notify.Message{Receiver: "guardian:g", Key: "a/guardian", Topic: "guardian.notice"})
	<-hung
	enqueue(notify.Message{Receiver: "patrol:p", Key: "a/dispatch", Topic: "dispatch.request"})
	select {
	case <-answered:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the patrol's dispatch request waited for the guardian's hung webhook")
	}
	c := steady.counts()
	assert.Equal(t, 1, c["a/dispatch"], "patrol received %v", c)
}

// TestWebhookGivesUpAfterMaxAge drives the worker with a clock: a receiver that never recovers is
// retried with growing waits and abandoned after MaxAge with the last error recorded.
func TestWebhookGivesUpAfterMaxAge(t *testing.T) {
	ctx := t.Context()
	db := openStore(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	clock := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	w, err := notify.NewWorker(db, notify.StaticReceivers{"g": {URL: srv.URL, Secret: secret}}, notify.WorkerOptions{
		Now: func() time.Time { return clock }, MinBackoff: time.Second, MaxBackoff: time.Minute, MaxAge: time.Hour, Registerer: reg})
	require.NoError(t, err)
	start := clock
	require.NoError(t, db.EnqueueOutbox(ctx, notify.Message{Receiver: "g", Key: "k1", Topic: "guardian.notice", Payload: []byte(`{}`), Created: clock}))
	var waits []time.Duration
	for range 100 {
		_, err := w.RunOnce(ctx)
		require.NoError(t, err)
		next, ok, err := db.NextOutboxDue(ctx)
		require.NoError(t, err)
		if !ok {
			break
		}
		waits = append(waits, next.Sub(clock))
		clock = next
	}
	msgs, err := db.OutboxMessages(ctx, "g", 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.False(t, m.Failed.IsZero(), "message not abandoned: %+v", m)
	require.True(t, m.Delivered.IsZero(), "abandoned message marked delivered: %+v", m)
	age := m.Failed.Sub(start)
	assert.GreaterOrEqual(t, age, time.Hour, "abandoned before MaxAge (1h)")
	assert.LessOrEqual(t, age, time.Hour+time.Minute, "abandoned long after MaxAge (1h)")
	assert.Contains(t, m.LastError, "503", "the last error does not say what the receiver answered")
	// Waits grow from about MinBackoff to MaxBackoff (each jittered into [d/2, d]).
	require.GreaterOrEqual(t, len(waits), 5, "backoff waits %v", waits)
	assert.LessOrEqual(t, waits[0], time.Second, "first backoff wait: %v", waits)
	assert.GreaterOrEqual(t, waits[len(waits)-1], 30*time.Second, "last backoff wait: %v", waits)
	assert.LessOrEqual(t, waits[len(waits)-1], time.Minute, "last backoff wait: %v", waits)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	counted := false
	for _, mf := range mfs {
		if mf.GetName() == "snowlight_notify_failed_total" {
			counted = true
			assert.Equal(t, 1.0, mf.GetMetric()[0].GetCounter().GetValue(), "abandoned messages counted")
		}
	}
	assert.True(t, counted, "snowlight_notify_failed_total not registered")
}

func TestMessageValidation(t *testing.T) {
	db := openStore(t)
	bad := []notify.Message{
		{Key: "k", Topic: "t"},
		{Receiver: "r", Topic: "t"},
		{Receiver: "r", Key: "k"},
		{Receiver: "r", Key: strings.Repeat("k", 201), Topic: "t"},
	}
	for _, m := range bad {
		assert.Error(t, db.EnqueueOutbox(t.Context(), m), "queued invalid message %+v", m)
	}
	for _, e := range []notify.Endpoint{
		{URL: "ftp://x/y", Secret: secret},
		{URL: "https://user:pw@x/y", Secret: secret},
		{URL: "https://x/y", Secret: []byte("short")},
		{URL: "/relative", Secret: secret},
	} {
		err := notify.ValidateEndpoint(e)
		if assert.Error(t, err, "endpoint %q accepted", e.URL) {
			assert.NotContains(t, err.Error(), "pw", "error leaks the URL's password")
		}
	}
}
