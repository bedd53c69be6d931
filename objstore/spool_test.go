package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"snowlight/objstore"
	"snowlight/objstore/miniotest"
)

// outage is how long MinIO stays down in TestSpoolSurvivesMinIOOutage: a few seconds normally, the
// issue's full 60 s with SNOWLIGHT_LONG=1.
func outage() time.Duration {
	if os.Getenv("SNOWLIGHT_LONG") == "1" {
		return 60 * time.Second
	}
	return 3 * time.Second
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func gatherValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.Gauge != nil:
				total += m.GetGauge().GetValue()
			case m.Counter != nil:
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// clipBytes is pseudo-random content standing in for an MP4 (incompressible, like video).
func clipBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// TestSpoolSurvivesMinIOOutage takes a real MinIO server away while clips are being uploaded (killed
// with uploads in flight), keeps storing clips during the outage, restarts the process's spool as a
// crash would, brings MinIO back and checks that every clip arrives exactly once, byte for byte.
func TestSpoolSurvivesMinIOOutage(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := t.Context()
	remote, err := objstore.OpenMinIO(ctx, srv.Config("evidence"))
	if err != nil {
		t.Fatal(err)
	}
	spoolDir := t.TempDir()
	logs := &syncBuffer{}
	open := func() (*objstore.Spool, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		sp, err := objstore.NewSpool(remote, objstore.SpoolOptions{
			Dir: spoolDir, MaxBytes: 256 << 20, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
			AttemptTimeout: 5 * time.Second, Registerer: reg,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		return sp, reg
	}
	sp, _ := open()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { sp.Run(runCtx); close(runDone) }()

	var mu sync.Mutex
	want := map[string][]byte{} // every clip a Put accepted
	put := func(sp *objstore.Spool, seed uint64) objstore.Info {
		data := clipBytes(seed, 1<<20+int(seed)*1000)
		info, err := objstore.PutContent(ctx, sp, "clip", "mp4", data, "video/mp4", objstore.Meta{AlertID: fmt.Sprintf("A%d", seed), Camera: "cam-1"})
		if err != nil {
			t.Errorf("put clip %d: %v", seed, err)
			return info
		}
		mu.Lock()
		want[info.Key] = data
		mu.Unlock()
		return info
	}

	// MinIO up: uploads go straight through.
	for i := range 3 {
		if info := put(sp, uint64(i)); info.Pending {
			t.Fatalf("clip %d pending while MinIO is up", i)
		}
	}

	// Uploads in flight when MinIO dies.
	var wg sync.WaitGroup
	for i := 3; i < 9; i++ {
		wg.Go(func() { put(sp, uint64(i)) })
	}
	time.Sleep(20 * time.Millisecond)
	srv.Kill()
	wg.Wait()
	down := time.Now()

	// During the outage clips keep coming; each Put returns at once with the clip pending.
	var pendingKey string
	for i := 9; time.Since(down) < outage()/2 || i < 14; i++ {
		start := time.Now()
		info := put(sp, uint64(i))
		if !info.Pending {
			t.Fatalf("clip %d not pending while MinIO is down", i)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("put while MinIO is down took %v", d)
		}
		pendingKey = info.Key
		time.Sleep(100 * time.Millisecond)
	}
	// A pending clip is readable from the spool but has no presigned URL yet.
	if _, err := sp.PresignGet(ctx, pendingKey, time.Minute); !errors.Is(err, objstore.ErrPending) {
		t.Fatalf("presign of a pending clip: %v, want ErrPending", err)
	}
	rc, info, err := sp.Get(ctx, pendingKey)
	if err != nil || !info.Pending {
		t.Fatalf("get pending clip: %v %+v", err, info)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want[pendingKey]) {
		t.Fatal("pending clip read back wrong")
	}

	// The process dies (the spool is reopened from disk) and clips keep coming in the new process.
	stopRun()
	<-runDone
	sp, reg := open()
	if st := sp.Status(); st.Objects == 0 {
		t.Fatal("reopened spool is empty")
	}
	runCtx, stopRun = context.WithCancel(ctx)
	defer stopRun()
	go sp.Run(runCtx)
	for i := 100; time.Since(down) < outage(); i++ {
		put(sp, uint64(i))
		time.Sleep(200 * time.Millisecond)
	}
	if gatherValue(t, reg, "snowlight_objstore_spool_objects") == 0 || gatherValue(t, reg, "snowlight_objstore_remote_up") != 0 {
		t.Error("metrics do not show the backlog and the outage")
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sp.WaitEmpty(wctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("outage %v, %d clips, spool drained %v after MinIO returned", outage(), len(want), time.Since(back).Round(time.Millisecond))

	// Every clip exactly once in MinIO, with its content and metadata.
	seen := map[string]bool{}
	for info, err := range remote.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if seen[info.Key] {
			t.Errorf("%s listed twice", info.Key)
		}
		seen[info.Key] = true
		data, ok := want[info.Key]
		if !ok {
			t.Errorf("unexpected object %s", info.Key)
			continue
		}
		if info.SHA256 != sum(data) || info.Size != int64(len(data)) || info.Meta.Camera != "cam-1" {
			t.Errorf("%s: %+v", info.Key, info)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("MinIO holds %d clips, %d were stored", len(seen), len(want))
	}
	for key, data := range want {
		rc, _, err := remote.Get(ctx, key)
		if err != nil {
			t.Errorf("get %s: %v", key, err)
			continue
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("%s: content differs", key)
		}
	}
	if gatherValue(t, reg, "snowlight_objstore_remote_up") != 1 || gatherValue(t, reg, "snowlight_objstore_spool_bytes") != 0 {
		t.Error("metrics do not show the recovery")
	}
	if !strings.Contains(logs.String(), "unreachable") || !strings.Contains(logs.String(), "reachable again") {
		t.Errorf("outage and recovery not logged:\n%s", logs.String())
	}
	if u, err := sp.PresignGet(ctx, pendingKey, time.Minute); err != nil || u == "" {
		t.Fatalf("presign after upload: %v", err)
	}
}

// flaky is a remote store that can be taken down, or made to lose the answer to a successful put.
type flaky struct {
	objstore.Store
	down       atomic.Bool
	loseAnswer atomic.Bool
	puts       atomic.Int64
}

var errDown = errors.New("connection refused")

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if f.down.Load() {
		return objstore.Info{}, errDown
	}
	f.puts.Add(1)
	info, err := f.Store.Put(ctx, key, r, size, opts)
	if err == nil && f.loseAnswer.Load() {
		return objstore.Info{}, errors.New("connection reset by peer")
	}
	return info, err
}

func (f *flaky) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if f.down.Load() {
		return objstore.Info{}, errDown
	}
	return f.Store.Stat(ctx, key)
}

func newFlaky(t *testing.T) *flaky {
	d, err := objstore.OpenDir(t.TempDir(), objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &flaky{Store: d}
}

// TestSpoolFullNeverDropsEvidence fills the spool while the remote is down: the put that does not fit
// is refused loudly, nothing already spooled is touched, and everything uploads when the remote returns.
func TestSpoolFullNeverDropsEvidence(t *testing.T) {
	ctx := t.Context()
	remote := newFlaky(t)
	remote.down.Store(true)
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	sp, err := objstore.NewSpool(remote, objstore.SpoolOptions{Dir: t.TempDir(), MaxBytes: 10_000, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, Registerer: reg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 3 {
		info, err := objstore.PutContent(ctx, sp, "clip", "mp4", clipBytes(uint64(i), 3000), "video/mp4", objstore.Meta{})
		if err != nil || !info.Pending {
			t.Fatalf("put %d: %v %+v", i, err, info)
		}
		keys = append(keys, info.Key)
	}
	_, err = objstore.PutContent(ctx, sp, "clip", "mp4", clipBytes(99, 3000), "video/mp4", objstore.Meta{})
	if !errors.Is(err, objstore.ErrSpoolFull) {
		t.Fatalf("put over budget: %v, want ErrSpoolFull", err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "spool full") {
		t.Fatalf("spool overflow not logged as an error:\n%s", logs.String())
	}
	if gatherValue(t, reg, "snowlight_objstore_spool_full_total") != 1 {
		t.Fatal("spool overflow not counted")
	}
	if st := sp.Status(); st.Objects != 3 || st.Bytes != 9000 {
		t.Fatalf("spool after overflow: %+v", st)
	}

	remote.down.Store(false)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sp.Run(runCtx)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sp.WaitEmpty(wctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := remote.Store.Stat(ctx, k); err != nil {
			t.Errorf("%s not uploaded: %v", k, err)
		}
	}
	// With the remote back, an object larger than the spool goes straight through.
	big := clipBytes(5, 20_000)
	if info, err := objstore.PutContent(ctx, sp, "clip", "mp4", big, "video/mp4", objstore.Meta{}); err != nil || info.Pending {
		t.Fatalf("put larger than the spool with the remote up: %v %+v", err, info)
	}
}

// TestSpoolRetryAfterLostAnswer: an upload whose answer was lost is found in the remote on retry,
// checked, and counted as done, not uploaded again; a different object under the key is never
// overwritten.
func TestSpoolRetryAfterLostAnswer(t *testing.T) {
	ctx := t.Context()
	remote := newFlaky(t)
	remote.loseAnswer.Store(true)
	reg := prometheus.NewRegistry()
	sp, err := objstore.NewSpool(remote, objstore.SpoolOptions{Dir: t.TempDir(), MaxBytes: 1 << 20, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	data := clipBytes(1, 5000)
	info, err := objstore.PutContent(ctx, sp, "clip", "mp4", data, "video/mp4", objstore.Meta{})
	if err != nil || !info.Pending {
		t.Fatalf("put with the answer lost: %v %+v", err, info)
	}
	remote.loseAnswer.Store(false)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sp.Run(runCtx)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sp.WaitEmpty(wctx); err != nil {
		t.Fatal(err)
	}
	if n := remote.puts.Load(); n != 2 {
		t.Fatalf("%d remote puts, want 2 (the lost one and the retry that found it)", n)
	}
	if gatherValue(t, reg, "snowlight_objstore_uploads_total", "result", "exists") != 1 {
		t.Fatal("retry not counted as already uploaded")
	}

	// A different object already under the key: the put is refused and nothing is overwritten.
	other := []byte("another object")
	if _, err := remote.Store.Put(ctx, "snapshot/x.jpg", bytes.NewReader(other), int64(len(other)), objstore.PutOptions{SHA256: sum(other)}); err != nil {
		t.Fatal(err)
	}
	mine := []byte("mine")
	if _, err := sp.Put(ctx, "snapshot/x.jpg", bytes.NewReader(mine), 4, objstore.PutOptions{SHA256: sum(mine)}); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("put over a different remote object: %v, want ErrExists", err)
	}
	if got, _ := remote.Store.Stat(ctx, "snapshot/x.jpg"); got.SHA256 != sum(other) {
		t.Fatal("remote object overwritten")
	}
	if st := sp.Status(); st.Objects != 0 {
		t.Fatalf("refused put left in the spool: %+v", st)
	}
}
