package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Spool puts objects into a remote Store (MinIO) through a local write-ahead directory, so that evidence
// survives the remote being down and the process being killed.
//
// Put first writes the object to the spool directory (create-only, checksum verified, fsynced), then
// uploads it, and removes the local copy only once the remote has it. While the remote is unreachable
// Put returns at once with Info.Pending set and Run uploads the backlog, oldest first, retrying with
// exponential backoff and jitter until the remote answers again. Retries cannot duplicate anything:
// remote puts are create-only, and an upload that finds its key already there (because an earlier
// attempt succeeded but its answer was lost) is checked against the checksum and counted as done.
//
// The spool never deletes an object that the remote does not hold. When it would exceed its byte
// budget, Put says so: an error wrapping ErrSpoolFull, an error log and a metric.
type Spool struct {
	remote Store
	local  *Dir
	opts   SpoolOptions
	log    *slog.Logger
	m      spoolMetrics

	kick chan struct{}

	mu       sync.Mutex
	bytes    int64 // in the spool, plus reservations of puts being written
	count    int
	inflight map[string]bool
	stuck    map[string]string // key -> why it cannot be uploaded (needs a human)
	down     bool
	lastErr  string
}

// SpoolOptions configure a Spool.
type SpoolOptions struct {
	// Dir is the local spool directory; it must be on a disk that survives restarts.
	Dir string
	// MaxBytes is the spool's budget; required.
	MaxBytes int64
	// MinBackoff and MaxBackoff bound the wait between attempts while the remote is down (default
	// 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one upload (default 30 s), so a remote that accepts connections but never
	// answers cannot stall Put or the backlog.
	AttemptTimeout time.Duration
	Logger         *slog.Logger
	// Registerer receives the spool's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
}

type spoolMetrics struct {
	bytes, objects, budget, up prometheus.Gauge
	uploads                    *prometheus.CounterVec
	full                       prometheus.Counter
}

func newSpoolMetrics(reg prometheus.Registerer) (spoolMetrics, error) {
	m := spoolMetrics{
		bytes:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_objstore_spool_bytes", Help: "Bytes of objects waiting in the local spool for the remote object store."}),
		objects: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_objstore_spool_objects", Help: "Objects waiting in the local spool for the remote object store."}),
		budget:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_objstore_spool_budget_bytes", Help: "The spool's byte budget."}),
		up:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_objstore_remote_up", Help: "1 if the last upload to the remote object store succeeded."}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_objstore_uploads_total", Help: "Upload attempts to the remote object store by result (ok, exists, error)."}, []string{"result"}),
		full:    prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_objstore_spool_full_total", Help: "Objects refused because the remote was down and the spool was full."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.bytes, m.objects, m.budget, m.up, m.uploads, m.full} {
			if err := reg.Register(c); err != nil {
				return m, fmt.Errorf("register spool metrics: %w", err)
			}
		}
	}
	return m, nil
}

// NewSpool opens the spool directory (picking up objects left by an earlier run) in front of remote.
// Call Run to upload in the background.
func NewSpool(remote Store, opts SpoolOptions) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("open spool %s: MaxBytes must be positive", opts.Dir)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	local, err := OpenDir(opts.Dir, DirOptions{})
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	m, err := newSpoolMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Spool{remote: remote, local: local, opts: opts, log: log.With("component", "objstore-spool"), m: m,
		kick: make(chan struct{}, 1), inflight: map[string]bool{}, stuck: map[string]string{}}
	for info, err := range local.List(context.Background(), "") {
		if err != nil {
			return nil, fmt.Errorf("open spool: %w", err)
		}
		s.bytes += info.Size
		s.count++
	}
	m.budget.Set(float64(opts.MaxBytes))
	m.up.Set(1)
	s.updateGauges()
	if s.count > 0 {
		s.log.Warn("objects from an earlier run are waiting for upload", "objects", s.count, "bytes", s.bytes)
		s.kickUploader()
	}
	return s, nil
}

// SpoolStatus is what the spool holds and whether the remote is reachable.
type SpoolStatus struct {
	Objects   int
	Bytes     int64
	MaxBytes  int64
	RemoteUp  bool
	LastError string
	// Stuck lists objects that cannot be uploaded without a human (a different object already holds
	// the key remotely); they stay in the spool.
	Stuck map[string]string
}

// Status reports the spool's state.
func (s *Spool) Status() SpoolStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SpoolStatus{Objects: s.count, Bytes: s.bytes, MaxBytes: s.opts.MaxBytes, RemoteUp: !s.down, LastError: s.lastErr, Stuck: map[string]string{}}
	for k, v := range s.stuck {
		st.Stuck[k] = v
	}
	return st
}

func (s *Spool) updateGauges() {
	s.m.bytes.Set(float64(s.bytes))
	s.m.objects.Set(float64(s.count))
}

func (s *Spool) kickUploader() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Put implements Store; see Spool for what happens when the remote is down.
func (s *Spool) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if err := checkPut(key, size, opts); err != nil {
		return Info{}, err
	}
	if err := dirKey(key); err != nil {
		return Info{}, err
	}
	s.mu.Lock()
	if s.bytes+size > s.opts.MaxBytes {
		down := s.down
		s.mu.Unlock()
		return s.putFull(ctx, key, r, size, opts, down)
	}
	s.bytes += size // reserved until the put ends one way or the other
	s.mu.Unlock()

	info, err := s.local.Put(ctx, key, r, size, opts)
	s.mu.Lock()
	if err != nil {
		s.bytes -= size
		s.mu.Unlock()
		return Info{}, err
	}
	s.count++
	s.updateGauges()
	down := s.down
	if !down {
		s.inflight[key] = true
	}
	s.mu.Unlock()

	if down {
		s.kickUploader()
		info.Pending = true
		return info, nil
	}
	done, err := s.upload(ctx, info)
	s.mu.Lock()
	delete(s.inflight, key)
	s.mu.Unlock()
	switch {
	case done && errors.Is(err, ErrExists):
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	case done:
		info.Pending = false
		return info, nil
	case errors.Is(err, errConflict):
		// Another object holds the key remotely: this put is refused, as create-only demands, and the
		// caller still has its data, so the spooled copy is not evidence anyone else relies on.
		s.mu.Lock()
		delete(s.stuck, key)
		s.mu.Unlock()
		if derr := s.local.Delete(ctx, key); derr == nil {
			s.mu.Lock()
			s.bytes -= size
			s.count--
			s.updateGauges()
			s.mu.Unlock()
		}
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	}
	// The remote failed: the object is safe in the spool and Run will upload it.
	s.kickUploader()
	info.Pending = true
	return info, nil
}

// putFull handles a Put that does not fit in the spool: straight to the remote if it is up, else
// refuse. A refusal is loud (error log, metric, error to the caller), because evidence is at risk.
func (s *Spool) putFull(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions, down bool) (Info, error) {
	st := s.Status()
	attrs := []any{"key", key, "size", size, "spool_bytes", st.Bytes, "spool_budget", st.MaxBytes, "spool_objects", st.Objects}
	if !down {
		s.log.Warn("object spool full; uploading without a local copy", attrs...)
		actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
		info, err := s.remote.Put(actx, key, r, size, opts)
		cancel()
		if err == nil || errors.Is(err, ErrExists) || errors.Is(err, ErrChecksum) {
			return info, err
		}
		s.noteFailure(err)
		s.m.full.Inc()
		s.log.Error("OBJECT NOT STORED: spool full and the remote object store failed", append(attrs, "err", err)...)
		return Info{}, fmt.Errorf("put %s: %w (%d of %d bytes used) and the remote failed: %v", key, ErrSpoolFull, st.Bytes, st.MaxBytes, err)
	}
	s.m.full.Inc()
	s.log.Error("OBJECT NOT STORED: spool full while the remote object store is unreachable", append(attrs, "remote_err", st.LastError)...)
	return Info{}, fmt.Errorf("put %s: %w (%d of %d bytes used) while the remote is down (%s)", key, ErrSpoolFull, st.Bytes, st.MaxBytes, st.LastError)
}

// errConflict means the remote holds a different object under the key.
var errConflict = errors.New("key holds a different object remotely")

// upload copies one spooled object to the remote and, once the remote has it, removes the local copy.
// done reports that the remote holds the object (err is then nil or wraps ErrExists: the remote had it
// already); otherwise err says why it is still spooled.
func (s *Spool) upload(ctx context.Context, info Info) (done bool, err error) {
	rc, _, err := s.local.Get(ctx, info.Key)
	if err != nil {
		return false, err
	}
	actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
	_, perr := s.remote.Put(actx, info.Key, rc, info.Size, PutOptions{SHA256: info.SHA256, ContentType: info.ContentType, Meta: info.Meta})
	rc.Close()
	if errors.Is(perr, ErrExists) {
		// Either an earlier attempt got through and its answer was lost, or another object holds the
		// key. Only the first lets the local copy go.
		have, serr := s.remote.Stat(actx, info.Key)
		cancel()
		if serr != nil {
			s.m.uploads.WithLabelValues("error").Inc()
			s.noteFailure(serr)
			return false, serr
		}
		if have.SHA256 != info.SHA256 || have.Size != info.Size {
			why := fmt.Sprintf("remote object has sha256 %s (%d bytes), spooled one %s (%d bytes)", have.SHA256, have.Size, info.SHA256, info.Size)
			s.mu.Lock()
			s.stuck[info.Key] = why
			s.mu.Unlock()
			s.log.Error("spooled object conflicts with a different remote object; keeping it in the spool", "key", info.Key, "why", why)
			return false, fmt.Errorf("upload %s: %w: %s", info.Key, errConflict, why)
		}
		s.m.uploads.WithLabelValues("exists").Inc()
		s.noteSuccess()
		return true, s.dropLocal(ctx, info)
	}
	cancel()
	if perr != nil {
		s.m.uploads.WithLabelValues("error").Inc()
		s.noteFailure(perr)
		return false, perr
	}
	s.m.uploads.WithLabelValues("ok").Inc()
	s.noteSuccess()
	return true, s.dropLocal(ctx, info)
}

// dropLocal removes the spooled copy of an object the remote now holds. Failing to remove it costs
// spool space but never data, and the next pass will find the remote copy and try again.
func (s *Spool) dropLocal(ctx context.Context, info Info) error {
	if err := s.local.Delete(ctx, info.Key); err != nil {
		s.log.Warn("uploaded object could not be removed from the spool", "key", info.Key, "err", err)
		return nil
	}
	s.mu.Lock()
	s.bytes -= info.Size
	s.count--
	s.updateGauges()
	s.mu.Unlock()
	return nil
}

func (s *Spool) noteFailure(err error) {
	s.mu.Lock()
	was := s.down
	s.down, s.lastErr = true, err.Error()
	s.mu.Unlock()
	s.m.up.Set(0)
	if !was {
		s.log.Warn("remote object store unreachable; spooling uploads locally", "err", err)
	}
}

func (s *Spool) noteSuccess() {
	s.mu.Lock()
	was := s.down
	s.down, s.lastErr = false, ""
	n, b := s.count, s.bytes
	s.mu.Unlock()
	s.m.up.Set(1)
	if was {
		s.log.Info("remote object store reachable again; uploading the spool", "objects", n, "bytes", b)
	}
}

// Run uploads spooled objects until ctx ends. While the remote fails it waits between attempts with
// exponential backoff and jitter, probing with the oldest object.
func (s *Spool) Run(ctx context.Context) error {
	backoff := s.opts.MinBackoff
	for {
		failed := false
		for info, err := range s.backlog(ctx) {
			if err != nil {
				s.log.Error("reading the spool failed", "err", err)
				failed = true
				break
			}
			if !s.claim(info.Key) {
				continue
			}
			done, err := s.upload(ctx, info)
			s.release(info.Key)
			if ctx.Err() != nil {
				return nil
			}
			if !done {
				if _, conflict := s.Status().Stuck[info.Key]; conflict {
					continue
				}
				s.log.Debug("upload failed; will retry", "key", info.Key, "err", err, "backoff", backoff)
				failed = true
				break
			}
			backoff = s.opts.MinBackoff
		}
		var wait <-chan time.Time
		if failed {
			// Full jitter in [backoff/2, backoff): spread out many processes hitting one recovering MinIO.
			d := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
			wait = time.After(d)
			backoff = min(2*backoff, s.opts.MaxBackoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
		case <-s.kick:
			if failed {
				// New work does not cut a backoff short: it would just hammer a remote that is down.
				select {
				case <-ctx.Done():
					return nil
				case <-wait:
				}
			}
		}
	}
}

// backlog lists the spooled objects oldest first, leaving out those that need a human.
func (s *Spool) backlog(ctx context.Context) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		var all []Info
		for info, err := range s.local.List(ctx, "") {
			if err != nil {
				yield(Info{}, err)
				return
			}
			all = append(all, info)
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].Created.Before(all[j].Created) })
		st := s.Status()
		for _, info := range all {
			if _, ok := st.Stuck[info.Key]; ok {
				continue
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

func (s *Spool) claim(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[key] {
		return false
	}
	s.inflight[key] = true
	return true
}

func (s *Spool) release(key string) {
	s.mu.Lock()
	delete(s.inflight, key)
	s.mu.Unlock()
}

// WaitEmpty blocks until every spooled object is uploaded (or needs a human), or ctx ends.
func (s *Spool) WaitEmpty(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		st := s.Status()
		if st.Objects <= len(st.Stuck) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("spool still holds %d objects (%d bytes): %w", st.Objects, st.Bytes, ctx.Err())
		case <-t.C:
		}
	}
}

// Get implements Store, reading the spooled copy while the object is pending.
func (s *Spool) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	rc, info, err := s.local.Get(ctx, key)
	if err == nil {
		info.Pending = true
		return rc, info, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, Info{}, err
	}
	return s.remote.Get(ctx, key)
}

// Stat implements Store.
func (s *Spool) Stat(ctx context.Context, key string) (Info, error) {
	info, err := s.local.Stat(ctx, key)
	if err == nil {
		info.Pending = true
		return info, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Info{}, err
	}
	return s.remote.Stat(ctx, key)
}

// Delete implements Store, removing the object wherever it is. An object being uploaded at that moment
// cannot be deleted (the upload could land after the delete); the caller retries.
func (s *Spool) Delete(ctx context.Context, key string) error {
	if !s.claim(key) {
		return fmt.Errorf("delete %s: upload in progress, try again", key)
	}
	defer s.release(key)
	info, lerr := s.local.Stat(ctx, key)
	if lerr == nil {
		if err := s.local.Delete(ctx, key); err != nil {
			return err
		}
		s.mu.Lock()
		s.bytes -= info.Size
		s.count--
		delete(s.stuck, key)
		s.updateGauges()
		s.mu.Unlock()
	} else if !errors.Is(lerr, ErrNotFound) {
		return lerr
	}
	rerr := s.remote.Delete(ctx, key)
	if errors.Is(rerr, ErrNotFound) && lerr == nil {
		return nil
	}
	return rerr
}

// List implements Store: remote objects and pending ones, merged in key order.
func (s *Spool) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		nextL, stopL := iter.Pull2(s.local.List(ctx, prefix))
		defer stopL()
		nextR, stopR := iter.Pull2(s.remote.List(ctx, prefix))
		defer stopR()
		l, lerr, lok := nextL()
		r, rerr, rok := nextR()
		for lok || rok {
			if lerr != nil && lok {
				yield(Info{}, lerr)
				return
			}
			if rerr != nil && rok {
				yield(Info{}, rerr)
				return
			}
			switch {
			case lok && (!rok || l.Key <= r.Key):
				l.Pending = true
				if !yield(l, nil) {
					return
				}
				if rok && l.Key == r.Key { // uploaded, local copy not removed yet
					r, rerr, rok = nextR()
				}
				l, lerr, lok = nextL()
			default:
				if !yield(r, nil) {
					return
				}
				r, rerr, rok = nextR()
			}
		}
	}
}

// PresignGet implements Store. A pending object has no remote URL yet: the caller gets ErrPending and
// can offer the object through an authorised proxy route (Get works) or try again later.
func (s *Spool) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if _, err := s.local.Stat(ctx, key); err == nil {
		return "", fmt.Errorf("presign %s: %w", key, ErrPending)
	}
	return s.remote.PresignGet(ctx, key, expiry)
}
