package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/camevent"
	"snowlight/ingest/camsim"
	"snowlight/testvideos"
)

// testVideo returns the path of a generated camera-like stream, generating it if needed.
func testVideo(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths, err := testvideos.Ensure(ctx, name)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable (install opencv-doc and ffmpeg, or run make testvideos): %v", err)
	}
	require.NoError(t, err)
	return paths[name]
}

// shortClip cuts the first seconds of a test video (at keyframes, no re-encoding) into a temp file.
func shortClip(t testing.TB, name string, seconds int, ext string) string {
	t.Helper()
	src := testVideo(t, name)
	out := filepath.Join(t.TempDir(), name+ext)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src,
		"-t", strconv.Itoa(seconds),
		"-c", "copy", out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "cut %s: %s", name, b)
	return out
}

// startCamsim serves files (path name -> file) on a free loopback port until the test ends.
func startCamsim(t testing.TB, o camsim.Options, files map[string]string) *camsim.Server {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Log == nil {
		o.Log = testLogger(t)
	}
	srv := camsim.New(o)
	for name, f := range files {
		require.NoError(t, srv.AddFile(name, f))
	}
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(srv.Close)
	return srv
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// running is a worker under test with the frames and events it produced.
type running struct {
	w      *Worker
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	frames []Frame // Mats already closed
	events []Event
}

// runWorker starts a worker that keeps every frame's metadata and every event until the test ends.
func runWorker(t testing.TB, cfg Config) *running {
	t.Helper()
	r := &running{done: make(chan error, 1)}
	if cfg.Log == nil {
		cfg.Log = testLogger(t)
	}
	cfg.OnEvent = func(e Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}
	w, err := NewWorker(cfg)
	require.NoError(t, err)
	r.w = w
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- w.Run(ctx) }()
	var wg sync.WaitGroup
	if ch := w.Frames(); ch != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				assert.False(t, f.Mat.Empty() || f.Mat.Rows() == 0, "frame %d has an empty Mat", f.Seq)
				f.Close() // keep the metadata only
				r.mu.Lock()
				r.frames = append(r.frames, f)
				r.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		r.stop(t)
		wg.Wait()
	})
	return r
}

func (r *running) stop(t testing.TB) {
	r.cancel()
	select {
	case err := <-r.done:
		assert.ErrorIs(t, err, context.Canceled, "Run's error")
		r.done <- err // let a second stop see it
	case <-time.After(10 * time.Second):
		require.Fail(t, "the worker did not stop within 10 s of cancellation")
	}
}

func (r *running) snapshot() ([]Frame, []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Frame(nil), r.frames...), append([]Event(nil), r.events...)
}

func (r *running) count(kind camevent.Kind) int {
	_, evs := r.snapshot()
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds, failing the test after timeout. cond runs on another goroutine.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, timeout, 20*time.Millisecond, "timed out after %v waiting for %s", timeout, what)
}

// checkMonotonic fails if frame times, PTS or sequence numbers ever go back.
func checkMonotonic(t testing.TB, frames []Frame) {
	t.Helper()
	for i := 1; i < len(frames); i++ {
		a, b := frames[i-1], frames[i]
		assert.Equal(t, a.Seq+1, b.Seq, "the frame after %d", a.Seq)
		require.True(t, b.Time.After(a.Time), "frame %d goes back: time %v after %v", b.Seq, b.Time, a.Time)
		require.Greater(t, b.PTS, a.PTS, "frame %d goes back", b.Seq)
	}
}
