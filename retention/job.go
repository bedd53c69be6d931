package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"snowlight/audit"
	"snowlight/objstore"
)

// Options configure a Job.
type Options struct {
	Store   Store
	Objects objstore.Store
	// Audit records every run that deletes (action retention.run) and every watch-list purge
	// (watchlist.purge); required.
	Audit  *audit.Log
	Policy Policy
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer receives the job's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// BatchSize is the number of rows one write transaction deletes at most [500]: small enough
	// that the writer is never held for long (see docs/BENCHMARKS.md).
	BatchSize int
	// Actor names the job in the audit log ["system:retention"].
	Actor string
	// ObjectTimeout bounds each object-store call, so a store that accepts connections and never
	// answers cannot stall the run [30s].
	ObjectTimeout time.Duration
	// GiveUpAfter object failures in a row end the sweep early: the store is down, and the rest
	// stays marked for the next run [3].
	GiveUpAfter int
	// SightingsDeleted, when set, is told the ids of each batch of sightings deleted from the
	// database, for what keeps copies of them elsewhere (the search index), so that they go too. An
	// error ends the run: the copy holder must then remake itself from the database.
	SightingsDeleted func(ctx context.Context, ids []string) error
}

// Job is the retention job. Its methods are safe for concurrent use; runs do not overlap.
type Job struct {
	o      Options
	policy Policy
	log    *slog.Logger
	m      metrics
	mu     sync.Mutex
}

// New checks the options and registers the metrics.
func New(o Options) (*Job, error) {
	if o.Store == nil || o.Objects == nil || o.Audit == nil {
		return nil, errors.New("retention: a database store, an object store and an audit log are required")
	}
	p, err := o.Policy.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Actor == "" {
		o.Actor = "system:retention"
	}
	if o.ObjectTimeout <= 0 {
		o.ObjectTimeout = 30 * time.Second
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 3
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Job{o: o, policy: p, log: o.Logger.With("component", "retention"), m: m}, nil
}

// Policy is the policy in force, defaults filled in.
func (j *Job) Policy() Policy { return j.policy }

// Run runs the job now and then every interval until ctx ends, and returns nil then. A failed run
// is logged and counted in the metrics; what it left is retried by the next.
func (j *Job) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("retention: interval must be positive, got %v", every)
	}
	for {
		j.Once(ctx) // logs and counts its own outcome
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Once runs the job: deletes what is due, sweeps the objects marked by this and any earlier
// interrupted run, and reports. The error wraps ErrIncomplete when objects were left for the next
// run, and is the database's or the context's error when the run stopped early; the report then says
// what was done up to there.
func (j *Job) Once(ctx context.Context) (Report, error) { return j.run(ctx, false) }

// DryRun reports what Once would delete now, changing nothing.
func (j *Job) DryRun(ctx context.Context) (Report, error) { return j.run(ctx, true) }

func (j *Job) run(ctx context.Context, dry bool) (Report, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	start := j.o.Now()
	rep := Report{Started: start, DryRun: dry, Policy: j.policy}
	r := &runner{j: j, cut: j.policy.at(start), rep: &rep, dry: dry, candidates: map[string]map[string]bool{}}
	err := r.do(ctx)
	rep.Finished = j.o.Now()
	if err == nil && rep.ObjectTotal.Failed > 0 {
		err = fmt.Errorf("%w: %d objects could not be deleted and stay marked for the next run", ErrIncomplete, rep.ObjectTotal.Failed)
	}
	if err != nil && !errors.Is(err, ErrIncomplete) {
		rep.fail("%v", err)
	}
	result := "ok"
	switch {
	case errors.Is(err, ErrIncomplete):
		result = "incomplete"
	case err != nil:
		result = "failed"
	}
	if !dry {
		// Every run is recorded, also one that deleted nothing (the record shows the job runs), and
		// also one cancelled part way (what it deleted must be on record).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, aerr := j.o.Audit.Append(actx, audit.Record{Actor: j.o.Actor, Role: "system", Action: "retention.run",
			Target: "result/" + result, Details: rep.details()})
		cancel()
		if aerr != nil {
			rep.fail("record the run in the audit log: %v", aerr)
			if err == nil {
				err = fmt.Errorf("retention: record the run: %w", aerr)
				result = "failed"
			}
		}
	}
	j.m.record(rep, result)
	j.logReport(rep, result, err)
	return rep, err
}

func (j *Job) logReport(rep Report, result string, err error) {
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	j.log.Log(context.Background(), level, "retention run", "result", result, "dry_run", rep.DryRun,
		"unlisted_sightings", rep.Deleted.UnlistedSightings, "listed_sightings", rep.Deleted.ListedSightings,
		"alerts", rep.Deleted.Alerts, "embeddings", rep.Deleted.Embeddings, "notifications", rep.Deleted.Notifications,
		"objects", rep.ObjectTotal.Deleted, "bytes", rep.ObjectTotal.Bytes, "objects_shared", rep.ObjectTotal.Shared,
		"objects_failed", rep.ObjectTotal.Failed, "objects_pending", rep.Pending,
		"held_sightings", rep.Held.UnlistedSightings+rep.Held.ListedSightings, "held_alerts", rep.Held.Alerts,
		"expired_entries", len(rep.Expired), "purged_entries", len(rep.Purged()),
		"batches", rep.Batches, "max_batch", rep.MaxBatch, "duration", rep.Finished.Sub(rep.Started), "err", err)
}

// runner is one run's state.
type runner struct {
	j   *Job
	cut cutoffs
	rep *Report
	dry bool
	// candidates maps, in a dry run, each object key to the rows that would be deleted and name it.
	candidates map[string]map[string]bool
	// alertSightings are the sightings the alerts a dry run would delete name.
	alertSightings []string
}

func (r *runner) do(ctx context.Context) error {
	if err := r.alerts(ctx); err != nil {
		return err
	}
	if err := r.sightings(ctx); err != nil {
		return err
	}
	if err := r.watchlist(ctx); err != nil {
		return err
	}
	if err := r.notifications(ctx); err != nil {
		return err
	}
	if r.dry {
		return r.planObjects(ctx)
	}
	return r.sweep(ctx)
}

// timed runs one write transaction and notes its duration.
func (r *runner) timed(f func() error) error {
	t0 := time.Now()
	err := f()
	d := time.Since(t0)
	r.rep.batch(d)
	r.j.m.batch.Observe(d.Seconds())
	return err
}

func (r *runner) candidate(key, ref string) {
	if !IsObjectKey(key) {
		return
	}
	if r.candidates[key] == nil {
		r.candidates[key] = map[string]bool{}
	}
	r.candidates[key][ref] = true
}

func (r *runner) alerts(ctx context.Context) error {
	st, n := r.j.o.Store, r.j.o.BatchSize
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := st.AlertCandidates(ctx, AlertQuery{FinalBefore: r.cut.alerts, After: after, Limit: n})
		if err != nil {
			return fmt.Errorf("retention: select alerts: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		after = rows[len(rows)-1].ID
		var ids []string
		for _, a := range rows {
			if a.Held {
				r.rep.Held.Alerts++
				continue
			}
			ids = append(ids, a.ID)
			if r.dry {
				for _, k := range a.Keys {
					r.candidate(k, "alert/"+a.ID)
				}
				r.alertSightings = append(r.alertSightings, a.Sightings...)
			}
		}
		if r.dry {
			r.rep.Deleted.Alerts += len(ids)
		} else if len(ids) > 0 {
			var deleted []AlertRow
			err := r.timed(func() (err error) {
				deleted, err = st.DeleteAlerts(ctx, ids, r.cut.alerts, r.cut.now)
				return err
			})
			if err != nil {
				return fmt.Errorf("retention: delete alerts: %w", err)
			}
			// An alert kept between selection and deletion gained a hold or changed again.
			r.rep.Held.Alerts += len(ids) - len(deleted)
			gone := make([]string, len(deleted))
			for i, a := range deleted {
				gone[i] = a.ID
			}
			if err := r.verifyGone(ctx, "alert", gone); err != nil {
				return err
			}
			r.rep.Deleted.Alerts += len(deleted)
		}
		if len(rows) < n {
			return nil
		}
	}
}

func (r *runner) verifyGone(ctx context.Context, kind string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	left, err := r.j.o.Store.Remaining(ctx, kind, ids)
	if err != nil {
		return fmt.Errorf("retention: verify deleted %ss: %w", kind, err)
	}
	if left != 0 {
		return fmt.Errorf("retention: %d of %d deleted %ss are still in the database", left, len(ids), kind)
	}
	return nil
}

func (r *runner) sightings(ctx context.Context) error {
	st, n := r.j.o.Store, r.j.o.BatchSize
	// Alerts govern the sightings they name; read after the alerts went, so those of deleted
	// alerts follow their own rule now.
	refs, err := st.AlertSightings(ctx)
	if err != nil {
		return fmt.Errorf("retention: sightings named by alerts: %w", err)
	}
	for _, id := range r.alertSightings {
		refs[id]-- // a dry run's alerts are still there, but would not be
	}
	q := SightingQuery{Now: r.cut.now, UnlistedBefore: r.cut.unlisted, ListedBefore: r.cut.listed, LiveSince: r.cut.live,
		After: SightingCursor{ExitNS: math.MinInt64, RID: math.MinInt64}, Limit: n}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := st.SightingCandidates(ctx, q)
		if err != nil {
			return fmt.Errorf("retention: select sightings: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		q.After = rows[len(rows)-1].Cursor()
		var rids []int64
		for _, s := range rows {
			switch {
			case refs[s.ID] > 0, s.LiveRoot:
				continue
			case s.Held:
				r.held(s.Listed)
				continue
			}
			rids = append(rids, s.RID)
			if r.dry {
				r.count(s.Listed)
				for _, k := range s.Keys {
					r.candidate(k, "sighting/"+s.ID)
				}
			}
		}
		if !r.dry && len(rids) > 0 {
			var deleted []SightingRow
			err := r.timed(func() (err error) {
				deleted, err = st.DeleteSightings(ctx, rids, q, r.cut.now)
				return err
			})
			if err != nil {
				return fmt.Errorf("retention: delete sightings: %w", err)
			}
			ids := make([]string, len(deleted))
			for i, s := range deleted {
				ids[i] = s.ID
				r.count(s.Listed)
			}
			if err := r.verifyGone(ctx, "sighting", ids); err != nil {
				return err
			}
			if f := r.j.o.SightingsDeleted; f != nil && len(ids) > 0 {
				if err := f(ctx, ids); err != nil {
					return fmt.Errorf("retention: sightings deleted from the database but not from what copies them: %w", err)
				}
			}
			// Rows kept between selection and deletion gained a hold.
			r.rep.Held.UnlistedSightings += len(rids) - len(deleted)
		}
		if len(rows) < n {
			return nil
		}
	}
}

func (r *runner) count(listed bool) {
	if listed {
		r.rep.Deleted.ListedSightings++
	} else {
		r.rep.Deleted.UnlistedSightings++
	}
}

func (r *runner) held(listed bool) {
	if listed {
		r.rep.Held.ListedSightings++
	} else {
		r.rep.Held.UnlistedSightings++
	}
}

func (r *runner) watchlist(ctx context.Context) error {
	st := r.j.o.Store
	entries, err := st.ExpiredEntries(ctx, r.cut.now)
	if err != nil {
		return fmt.Errorf("retention: expired watch-list entries: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		e.PurgeAt = e.Expired.Add(r.j.policy.ExpiredGrace)
		if !e.PurgeAt.After(r.cut.now) {
			if r.dry {
				r.rep.Deleted.Embeddings += e.Embeddings
				for _, k := range e.PhotoKeys {
					r.candidate(k, "person/"+e.ID)
				}
			} else {
				var n int
				err := r.timed(func() (err error) {
					n, err = st.PurgeEntry(ctx, e.ID, r.cut.grace, r.cut.now)
					return err
				})
				if err != nil {
					return fmt.Errorf("retention: purge watch-list entry %s: %w", e.ID, err)
				}
				if n > 0 {
					e.Purged = true
					r.rep.Deleted.Embeddings += n
					if _, err := r.j.o.Audit.Append(ctx, audit.Record{Actor: r.j.o.Actor, Role: "system", Action: "watchlist.purge",
						Target: "person/" + e.ID, Details: map[string]string{"category": string(e.Category), "expired": e.Expired.UTC().Format(time.RFC3339),
							"embeddings": fmt.Sprint(n), "photos": fmt.Sprint(e.Photos)}}); err != nil {
						return fmt.Errorf("retention: record purge of %s: %w", e.ID, err)
					}
				}
			}
		}
		e.PhotoKeys = nil
		r.rep.Expired = append(r.rep.Expired, e)
	}
	return nil
}

func (r *runner) notifications(ctx context.Context) error {
	st, n := r.j.o.Store, r.j.o.BatchSize
	if r.dry {
		c, err := st.DeleteNotifications(ctx, r.cut.notifications, 0, true)
		if err != nil {
			return fmt.Errorf("retention: count notifications: %w", err)
		}
		r.rep.Deleted.Notifications = c
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c int
		err := r.timed(func() (err error) {
			c, err = st.DeleteNotifications(ctx, r.cut.notifications, n, false)
			return err
		})
		if err != nil {
			return fmt.Errorf("retention: delete notifications: %w", err)
		}
		r.rep.Deleted.Notifications += c
		if c < n {
			return nil
		}
	}
}

// sweep deletes the marked objects that no row names any more, verifies they are gone and clears
// their marks. Marks of objects that could not be deleted stay for the next run.
func (r *runner) sweep(ctx context.Context) error {
	st, n := r.j.o.Store, r.j.o.BatchSize
	after, failsInRow := "", 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pend, err := st.PendingObjects(ctx, after, n)
		if err != nil {
			return fmt.Errorf("retention: read marked objects: %w", err)
		}
		if len(pend) == 0 {
			return nil
		}
		after = pend[len(pend)-1].Key
		keys := make([]string, len(pend))
		for i, p := range pend {
			keys[i] = p.Key
		}
		refs, err := st.ObjectReferences(ctx, keys)
		if err != nil {
			return fmt.Errorf("retention: check object references: %w", err)
		}
		var done []string
		for _, p := range pend {
			kind := ObjectKind(p.Key)
			if len(refs[p.Key]) > 0 {
				r.rep.object(kind, ObjectCounts{Shared: 1})
				done = append(done, p.Key)
				continue
			}
			if failsInRow >= r.j.o.GiveUpAfter {
				r.rep.object(kind, ObjectCounts{Failed: 1})
				r.rep.Pending++
				continue
			}
			c, err := r.deleteObject(ctx, p.Key)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				failsInRow++
				r.rep.object(kind, ObjectCounts{Failed: 1})
				r.rep.Pending++
				r.rep.fail("object %s (from %s): %v", p.Key, p.Source, err)
				if ferr := st.PendingFailed(ctx, p.Key, r.cut.now, err.Error()); ferr != nil {
					return fmt.Errorf("retention: note failure of %s: %w", p.Key, ferr)
				}
				if failsInRow == r.j.o.GiveUpAfter {
					r.rep.fail("%d object failures in a row: the object store looks unreachable; the rest stays marked for the next run", failsInRow)
				}
				continue
			}
			failsInRow = 0
			r.rep.object(kind, c)
			done = append(done, p.Key)
		}
		if len(done) > 0 {
			if err := r.timed(func() error { return st.ClearPending(ctx, done) }); err != nil {
				return fmt.Errorf("retention: clear marks: %w", err)
			}
		}
		if len(pend) < n {
			return nil
		}
	}
}

// deleteObject deletes one object and checks that the store no longer has it.
func (r *runner) deleteObject(ctx context.Context, key string) (ObjectCounts, error) {
	objs := r.j.o.Objects
	call := func(f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, r.j.o.ObjectTimeout)
		defer cancel()
		return f(cctx)
	}
	var info objstore.Info
	err := call(func(c context.Context) (err error) { info, err = objs.Stat(c, key); return err })
	if errors.Is(err, objstore.ErrNotFound) {
		return ObjectCounts{AlreadyGone: 1}, nil
	}
	if err != nil {
		return ObjectCounts{}, fmt.Errorf("stat before delete: %w", err)
	}
	err = call(func(c context.Context) error { return objs.Delete(c, key) })
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return ObjectCounts{}, fmt.Errorf("delete: %w", err)
	}
	err = call(func(c context.Context) (err error) { _, err = objs.Stat(c, key); return err })
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		return ObjectCounts{Deleted: 1, Bytes: info.Size}, nil
	case err == nil:
		return ObjectCounts{}, errors.New("still in the object store after delete")
	}
	return ObjectCounts{}, fmt.Errorf("verify deleted: %w", err)
}

// planObjects works out, for a dry run, which objects the rows it would delete leave unreferenced,
// and their sizes; it also counts the marks earlier runs left.
func (r *runner) planObjects(ctx context.Context) error {
	st, objs := r.j.o.Store, r.j.o.Objects
	after := ""
	for {
		pend, err := st.PendingObjects(ctx, after, r.j.o.BatchSize)
		if err != nil {
			return fmt.Errorf("retention: read marked objects: %w", err)
		}
		r.rep.Pending += len(pend)
		if len(pend) < r.j.o.BatchSize {
			break
		}
		after = pend[len(pend)-1].Key
	}
	keys := make([]string, 0, len(r.candidates))
	for k := range r.candidates {
		keys = append(keys, k)
	}
	for start := 0; start < len(keys); start += r.j.o.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := keys[start:min(start+r.j.o.BatchSize, len(keys))]
		refs, err := st.ObjectReferences(ctx, batch)
		if err != nil {
			return fmt.Errorf("retention: check object references: %w", err)
		}
		for _, k := range batch {
			kind := ObjectKind(k)
			kept := false
			for _, ref := range refs[k] {
				if !r.candidates[k][ref.Kind+"/"+ref.ID] {
					kept = true
				}
			}
			if kept {
				r.rep.object(kind, ObjectCounts{Shared: 1})
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, r.j.o.ObjectTimeout)
			info, err := objs.Stat(cctx, k)
			cancel()
			switch {
			case errors.Is(err, objstore.ErrNotFound):
				r.rep.object(kind, ObjectCounts{AlreadyGone: 1})
			case err != nil:
				r.rep.object(kind, ObjectCounts{Failed: 1})
				r.rep.fail("object %s: %v", k, err)
			default:
				r.rep.object(kind, ObjectCounts{Deleted: 1, Bytes: info.Size})
			}
		}
	}
	return nil
}
