package alerts_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/alerts/notify"
)

// The crash test re-runs this test binary as a child process that plays the server; these variables
// tell the child what to do.
const (
	childMode = "SNOWLIGHT_ALERTS_CRASH_CHILD" // "write" or "deliver"
	childDB   = "SNOWLIGHT_ALERTS_CRASH_DB"
	childHook = "SNOWLIGHT_ALERTS_CRASH_HOOK" // receiver base URL
)

var hookSecret = bytes.Repeat([]byte("crash-test-secret"), 2)

func receivers(base string) notify.StaticReceivers {
	r := notify.StaticReceivers{}
	for _, id := range []string{"guardian-mia", "app-u1", "cmd-elm", "cmd-north", "cmd-city"} {
		r[id] = notify.Endpoint{URL: base + "/" + id, Secret: hookSecret}
	}
	return r
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(childMode)
	if mode == "" {
		t.Skip("child process of TestOutboxSurvivesKill")
	}
	ctx := context.Background()
	f := newFixture(t, os.Getenv(childDB), func(o *alerts.Options) { o.TwoPersonRule = false; o.Now = time.Now })
	switch mode {
	case "write":
		f.addUnit(t, "u1", 100)
		a, _, err := f.eng.Raise(ctx, f.hit(mia, camElm, time.Now(), "s1", 0.71))
		require.NoError(t, err)
		_, err = f.eng.Confirm(ctx, a.ID, "olga") // queues the guardian's notice
		require.NoError(t, err)
		_, err = f.eng.Dispatch(ctx, a.ID, "olga") // queues the unit's request
		require.NoError(t, err)
		fmt.Printf("COMMITTED %s\n", a.ID)
	case "deliver":
		w, err := notify.NewWorker(f.db, receivers(os.Getenv(childHook)), notify.WorkerOptions{Idle: 20 * time.Millisecond})
		require.NoError(t, err)
		fmt.Println("DELIVERING")
		go w.Run(ctx)
	}
	time.Sleep(time.Minute) // until the parent kills us
	require.FailNow(t, "parent did not kill the child")
}

// hookReceiver acts once per idempotency key, as the guardian and patrol apps must. Its kill hook lets
// the test kill the sender after the receiver acted but before it answered.
type hookReceiver struct {
	mu       sync.Mutex
	acted    map[string]int // key -> times acted on
	requests map[string]int // key -> requests received
	bad      int
	onFirst  func(key string) // called on the first request of all, before answering
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Header.Get(notify.IdempotencyKeyHeader)
	h.mu.Lock()
	if err := notify.Verify(hookSecret, body, r.Header.Get(notify.SignatureHeader), time.Now(), time.Minute); err != nil || key == "" {
		h.bad++
		h.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h.requests[key]++
	first := len(h.requests) == 1 && h.requests[key] == 1
	if h.acted[key] == 0 {
		h.acted[key]++ // act (notify the guardian's phone, open the patrol's job) exactly once
	}
	hook := h.onFirst
	h.mu.Unlock()
	if first && hook != nil {
		hook(key)
	}
	w.WriteHeader(http.StatusOK)
}

func startChild(t *testing.T, mode, db, hook string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childMode+"="+mode, childDB+"="+db, childHook+"="+hook)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func waitLine(t *testing.T, sc *bufio.Scanner, prefix string) string {
	t.Helper()
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	require.FailNow(t, "child ended without printing its line", "%q", prefix)
	return ""
}

// TestOutboxSurvivesKill: a process commits an alert whose steps queue notifications and is killed
// with SIGKILL before delivering any; a second process starts delivering and is killed after the
// receiver acted on the first notification but before it answered; a third delivers the rest. Every
// notification reaches its receiver and is acted on exactly once.
func TestOutboxSurvivesKill(t *testing.T) {
	if os.Getenv(childMode) != "" {
		t.Skip("in the child")
	}
	db := filepath.Join(t.TempDir(), "snowlight.db")
	recv := &hookReceiver{acted: map[string]int{}, requests: map[string]int{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)

	// 1: commit, then die before any delivery.
	child, out := startChild(t, "write", db, srv.URL)
	id := strings.TrimPrefix(waitLine(t, out, "COMMITTED "), "COMMITTED ")
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	recv.mu.Lock()
	require.Empty(t, recv.requests, "delivered before the crash")
	recv.mu.Unlock()

	// 2: a restarted process delivers; it dies between the receiver acting and answering.
	var killed sync.WaitGroup
	killed.Add(1)
	var deliverer *exec.Cmd
	var firstKey string
	recv.mu.Lock()
	recv.onFirst = func(key string) {
		recv.mu.Lock()
		p := deliverer
		recv.mu.Unlock()
		firstKey = key
		p.Process.Signal(syscall.SIGKILL)
		p.Wait()
		killed.Done()
	}
	recv.mu.Unlock()
	d, out := startChild(t, "deliver", db, srv.URL)
	recv.mu.Lock()
	deliverer = d
	recv.mu.Unlock()
	waitLine(t, out, "DELIVERING")
	done := make(chan struct{})
	go func() { killed.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the restarted process never delivered")
	}

	// 3: this process delivers what is left (including the one the receiver never answered).
	f := newFixture(t, db, nil)
	w, err := notify.NewWorker(f.db, receivers(srv.URL), notify.WorkerOptions{MinBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	for range 50 {
		_, err := w.RunOnce(t.Context())
		require.NoError(t, err)
		if _, pending, _ := f.db.NextOutboxDue(t.Context()); !pending {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, pending, err := f.db.NextOutboxDue(t.Context())
	require.NoError(t, err)
	require.False(t, pending, "notifications still pending")

	recv.mu.Lock()
	defer recv.mu.Unlock()
	wantKeys := []string{id + "/guardian.notice/guardian-mia"}
	require.Len(t, recv.acted, 2, "receiver acted on %v, want the guardian notice and the dispatch request once each", recv.acted)
	require.Contains(t, recv.acted, wantKeys[0], "receiver never acted on the guardian notice")
	for key, n := range recv.acted {
		assert.Equal(t, 1, n, "%s acted on that many times", key)
	}
	assert.Equal(t, 2, recv.requests[firstKey], "%s requests (unanswered, then redelivered with the same key)", firstKey)
	assert.Zero(t, recv.bad, "requests that failed verification")
	msgs, err := f.db.OutboxMessages(t.Context(), "", 10)
	require.NoError(t, err)
	for _, m := range msgs {
		assert.False(t, m.Delivered.IsZero(), "%s not marked delivered", m.Key)
	}
	a, err := f.eng.Alert(t.Context(), id)
	require.NoError(t, err, "alert after the crashes")
	assert.Equal(t, alerts.Dispatched, a.Status, "alert after the crashes")
}
