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
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Confirm(ctx, a.ID, "olga"); err != nil { // queues the guardian's notice
			t.Fatal(err)
		}
		if _, err := f.eng.Dispatch(ctx, a.ID, "olga"); err != nil { // queues the unit's request
			t.Fatal(err)
		}
		fmt.Printf("COMMITTED %s\n", a.ID)
	case "deliver":
		w, err := notify.NewWorker(f.db, receivers(os.Getenv(childHook)), notify.WorkerOptions{Idle: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("DELIVERING")
		go w.Run(ctx)
	}
	time.Sleep(time.Minute) // until the parent kills us
	t.Fatal("parent did not kill the child")
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
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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
	t.Fatalf("child ended without printing %q", prefix)
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
	if len(recv.requests) != 0 {
		t.Fatal("delivered before the crash")
	}

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
		t.Fatal("the restarted process never delivered")
	}

	// 3: this process delivers what is left (including the one the receiver never answered).
	f := newFixture(t, db, nil)
	w, err := notify.NewWorker(f.db, receivers(srv.URL), notify.WorkerOptions{MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := w.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, pending, _ := f.db.NextOutboxDue(t.Context()); !pending {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, pending, _ := f.db.NextOutboxDue(t.Context()); pending {
		t.Fatal("notifications still pending")
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	wantKeys := []string{id + "/guardian.notice/guardian-mia"}
	if len(recv.acted) != 2 || recv.acted[wantKeys[0]] != 1 {
		t.Fatalf("receiver acted on %v, want the guardian notice and the dispatch request once each", recv.acted)
	}
	for key, n := range recv.acted {
		if n != 1 {
			t.Errorf("%s acted on %d times", key, n)
		}
	}
	if recv.requests[firstKey] != 2 {
		t.Errorf("%s requested %d times, want 2 (unanswered, then redelivered with the same key)", firstKey, recv.requests[firstKey])
	}
	if recv.bad != 0 {
		t.Errorf("%d requests failed verification", recv.bad)
	}
	msgs, _ := f.db.OutboxMessages(t.Context(), "", 10)
	for _, m := range msgs {
		if m.Delivered.IsZero() {
			t.Errorf("%s not marked delivered", m.Key)
		}
	}
	a, err := f.eng.Alert(t.Context(), id)
	if err != nil || a.Status != alerts.Dispatched {
		t.Fatalf("alert after the crashes: %v %+v", err, a.Status)
	}
}
