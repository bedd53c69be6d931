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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
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
	require.NoError(t, err)
	spoolDir := t.TempDir()
	logs := &syncBuffer{}
	open := func() (*objstore.Spool, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		sp, err := objstore.NewSpool(remote, objstore.SpoolOptions{
			Dir: spoolDir, MaxBytes: 256 << 20, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
			AttemptTimeout: 5 * time.Second, Registerer: reg,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		require.NoError(t, err)
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
		if !assert.NoError(t, err, "put clip %d", seed) { // on its own goroutine in part
			return info
		}
		mu.Lock()
		want[info.Key] = data
		mu.Unlock()
		return info
	}

	// MinIO up: uploads go straight through.
	for i := range 3 {
		require.False(t, put(sp, uint64(i)).Pending, "clip %d pending while MinIO is up", i)
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
		require.True(t, info.Pending, "clip %d not pending while MinIO is down", i)
		assert.LessOrEqual(t, time.Since(start), 2*time.Second, "a put while MinIO is down returns at once")
		pendingKey = info.Key
		time.Sleep(100 * time.Millisecond)
	}
	// A pending clip is readable from the spool but has no presigned URL yet.
	_, err = sp.PresignGet(ctx, pendingKey, time.Minute)
	require.ErrorIs(t, err, objstore.ErrPending, "presign of a pending clip")
	rc, info, err := sp.Get(ctx, pendingKey)
	require.NoError(t, err, "get pending clip")
	require.True(t, info.Pending, "get pending clip: %+v", info)
	got, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	require.True(t, bytes.Equal(want[pendingKey], got), "pending clip read back wrong")

	// The process dies (the spool is reopened from disk) and clips keep coming in the new process.
	stopRun()
	<-runDone
	sp, reg := open()
	require.NotZero(t, sp.Status().Objects, "reopened spool is empty")
	runCtx, stopRun = context.WithCancel(ctx)
	defer stopRun()
	go sp.Run(runCtx)
	for i := 100; time.Since(down) < outage(); i++ {
		put(sp, uint64(i))
		time.Sleep(200 * time.Millisecond)
	}
	assert.NotZero(t, gatherValue(t, reg, "snowlight_objstore_spool_objects"), "the metrics show the backlog")
	assert.Zero(t, gatherValue(t, reg, "snowlight_objstore_remote_up"), "the metrics show the outage")

	require.NoError(t, srv.Start())
	back := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, sp.WaitEmpty(wctx))
	t.Logf("outage %v, %d clips, spool drained %v after MinIO returned", outage(), len(want), time.Since(back).Round(time.Millisecond))

	// Every clip exactly once in MinIO, with its content and metadata.
	seen := map[string]bool{}
	for info, err := range remote.List(ctx, "") {
		require.NoError(t, err)
		assert.False(t, seen[info.Key], "%s listed twice", info.Key)
		seen[info.Key] = true
		data, ok := want[info.Key]
		if !assert.True(t, ok, "unexpected object %s", info.Key) {
			continue
		}
		assert.Equal(t, sum(data), info.SHA256, info.Key)
		assert.EqualValues(t, len(data), info.Size, info.Key)
		assert.Equal(t, "cam-1", info.Meta.Camera, info.Key)
	}
	assert.Len(t, seen, len(want), "clips in MinIO, against those stored")
	for key, data := range want {
		rc, _, err := remote.Get(ctx, key)
		if !assert.NoError(t, err, "get %s", key) {
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		assert.NoError(t, err, "read %s", key)
		assert.True(t, bytes.Equal(data, got), "%s: content differs", key)
	}
	assert.Equal(t, 1.0, gatherValue(t, reg, "snowlight_objstore_remote_up"), "the metrics show the recovery")
	assert.Zero(t, gatherValue(t, reg, "snowlight_objstore_spool_bytes"), "the metrics show the recovery")
	assert.Contains(t, logs.String(), "unreachable", "the outage is logged")
	assert.Contains(t, logs.String(), "reachable again", "the recovery is logged")
	u, err := sp.PresignGet(ctx, pendingKey, time.Minute)
	require.NoError(t, err, "presign after upload")
	require.NotEmpty(t, u, "presign after upload")
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
	require.NoError(t, err)
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
	require.NoError(t, err)
	var keys []string
	for i := range 3 {
		info, err := objstore.PutContent(ctx, sp, "clip", "mp4", clipBytes(uint64(i), 3000), "video/mp4", objstore.Meta{})
		require.NoError(t, err, "put %d", i)
		require.True(t, info.Pending, "put %d: %+v", i, info)
		keys = append(keys, info.Key)
	}
	_, err = objstore.PutContent(ctx, sp, "clip", "mp4", clipBytes(99, 3000), "video/mp4", objstore.Meta{})
	require.ErrorIs(t, err, objstore.ErrSpoolFull, "put over budget")
	require.Contains(t, logs.String(), "level=ERROR", "spool overflow logged as an error")
	require.Contains(t, logs.String(), "spool full", "spool overflow logged")
	require.Equal(t, 1.0, gatherValue(t, reg, "snowlight_objstore_spool_full_total"), "spool overflow counted")
	st := sp.Status()
	require.Equal(t, 3, st.Objects, "spool after overflow: %+v", st)
	require.EqualValues(t, 9000, st.Bytes, "spool after overflow: %+v", st)

	remote.down.Store(false)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sp.Run(runCtx)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, sp.WaitEmpty(wctx))
	for _, k := range keys {
		_, err := remote.Store.Stat(ctx, k)
		assert.NoError(t, err, "%s not uploaded", k)
	}
	// With the remote back, an object larger than the spool goes straight through.
	big := clipBytes(5, 20_000)
	info, err := objstore.PutContent(ctx, sp, "clip", "mp4", big, "video/mp4", objstore.Meta{})
	require.NoError(t, err, "put larger than the spool with the remote up")
	require.False(t, info.Pending, "put larger than the spool with the remote up")
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
	require.NoError(t, err)
	data := clipBytes(1, 5000)
	info, err := objstore.PutContent(ctx, sp, "clip", "mp4", data, "video/mp4", objstore.Meta{})
	require.NoError(t, err, "put with the answer lost")
	require.True(t, info.Pending, "put with the answer lost: %+v", info)
	remote.loseAnswer.Store(false)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sp.Run(runCtx)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, sp.WaitEmpty(wctx))
	require.EqualValues(t, 2, remote.puts.Load(), "remote puts: the lost one and the retry that found it")
	require.Equal(t, 1.0, gatherValue(t, reg, "snowlight_objstore_uploads_total", "result", "exists"), "the retry counted as already uploaded")

	// A different object already under the key: the put is refused and nothing is overwritten.
	other := []byte("another object")
	_, err = remote.Store.Put(ctx, "snapshot/x.jpg", bytes.NewReader(other), int64(len(other)), objstore.PutOptions{SHA256: sum(other)})
	require.NoError(t, err)
	mine := []byte("mine")
	_, err = sp.Put(ctx, "snapshot/x.jpg", bytes.NewReader(mine), 4, objstore.PutOptions{SHA256: sum(mine)})
	require.ErrorIs(t, err, objstore.ErrExists, "put over a different remote object")
	got, err := remote.Store.Stat(ctx, "snapshot/x.jpg")
	require.NoError(t, err)
	require.Equal(t, sum(other), got.SHA256, "remote object overwritten")
	require.Zero(t, sp.Status().Objects, "refused put left in the spool")
}
