package retention_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/retention"
	"snowlight/store"
)

// onDelete wraps a store and calls after once the first Delete has gone through.
type onDelete struct {
	objstore.Store
	once  sync.Once
	after func()
}

func (o *onDelete) Delete(ctx context.Context, key string) error {
	err := o.Store.Delete(ctx, key)
	if err == nil {
		o.once.Do(o.after)
	}
	return err
}

const (
	crashDBEnv      = "SNOWLIGHT_RETENTION_CRASH_DB"
	crashObjectsEnv = "SNOWLIGHT_RETENTION_CRASH_OBJECTS"
)

// TestCrashHelper is the process TestCrashBetweenDatabaseAndObjects kills: it runs the job and
// SIGKILLs itself right after the first object is deleted, before that deletion is verified or its
// mark cleared.
func TestCrashHelper(t *testing.T) {
	dbPath, objPath := os.Getenv(crashDBEnv), os.Getenv(crashObjectsEnv)
	if dbPath == "" {
		t.Skip("run by TestCrashBetweenDatabaseAndObjects")
	}
	db, err := store.Open(context.Background(), dbPath)
	require.NoError(t, err)
	dir, err := objstore.OpenDir(objPath, objstore.DirOptions{})
	require.NoError(t, err)
	kill := &onDelete{Store: dir, after: func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }}
	job, err := retention.New(retention.Options{Store: db, Objects: kill, Audit: audit.New(db, nil), BatchSize: 10,
		Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	job.Once(context.Background())
	require.FailNow(t, "the job finished: the crash never happened")
}

// TestCrashBetweenDatabaseAndObjects kills a real process running the job after it deleted the rows
// (and marked their objects) and while it deletes objects; the next run finishes the job.
func TestCrashBetweenDatabaseAndObjects(t *testing.T) {
	objPath := filepath.Join(t.TempDir(), "objects")
	dir, err := objstore.OpenDir(objPath, objstore.DirOptions{})
	require.NoError(t, err)
	w := newWorld(t, dir)
	var kept []string
	for i := range 25 {
		w.sighting(fmt.Sprintf("old%d", i), 80*time.Hour, "", w.object("face"), w.object("body"))
	}
	for i := range 3 {
		k := w.object("body")
		kept = append(kept, k)
		w.sighting(fmt.Sprintf("new%d", i), time.Hour, "", "", k)
	}
	slices.Sort(kept)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+w.db.Path(), crashObjectsEnv+"="+objPath)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "helper was not killed:\n%s", out)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "helper was not killed:\n%s", out)

	// The rows went in committed transactions, with their objects marked; one object is gone
	// but still marked, the rest are still there.
	for i := range 25 {
		require.False(t, w.hasSighting(fmt.Sprintf("old%d", i)), "old%d survived the crashed run's database phase", i)
	}
	require.Len(t, w.pending(), 50, "marks after the crash")
	require.Len(t, w.keys(), 50-1+3, "objects after the crash")

	rep, err := w.job(nil).Once(w.ctx)
	require.NoError(t, err, "resumed run: %v", rep.Failures)
	assert.Zero(t, rep.Deleted.Total(), "resumed run: rows deleted %+v", rep.Deleted)
	assert.Equal(t, 49, rep.ObjectTotal.Deleted, "resumed run: objects %+v", rep.ObjectTotal)
	assert.Equal(t, 1, rep.ObjectTotal.AlreadyGone, "resumed run: objects %+v", rep.ObjectTotal)
	assert.Zero(t, rep.Pending, "resumed run: pending")
	assert.Equal(t, kept, w.keys(), "objects left")
	assert.Empty(t, w.pending(), "marks left")
	acts := w.auditActions()
	assert.Equal(t, 1, acts["retention.run"], "audit %v", acts)
}

// TestMinIODownDuringRun takes MinIO away (SIGKILL) right after the first object of a run is
// deleted: the run reports the failures and keeps the marks; the rows that should stay stay; after MinIO is
// back the next run deletes the rest, and the bucket listing shows only what must be kept.
func TestMinIODownDuringRun(t *testing.T) {
	objs, srv := backends()[1].open(t)
	w := newWorld(t, objs)
	var kept []string
	for i := range 10 {
		w.sighting(fmt.Sprintf("old%d", i), 80*time.Hour, "", w.object("face"), w.object("body"))
	}
	for i := range 2 {
		f, b := w.object("face"), w.object("body")
		kept = append(kept, f, b)
		w.sighting(fmt.Sprintf("new%d", i), time.Hour, "", f, b)
	}
	slices.Sort(kept)
	down := &onDelete{Store: objs, after: srv.Kill}
	job := w.job(nil, func(o *retention.Options) { o.Objects = down; o.BatchSize = 100 })

	rep, err := job.Once(w.ctx)
	require.ErrorIs(t, err, retention.ErrIncomplete, "run with MinIO down")
	// The first object was deleted, but MinIO died before the deletion could be verified: it
	// counts as failed and keeps its mark like the others.
	assert.Equal(t, 10, rep.Deleted.UnlistedSightings, "rows deleted %+v", rep.Deleted)
	assert.Zero(t, rep.ObjectTotal.Deleted, "objects %+v", rep.ObjectTotal)
	assert.Equal(t, 20, rep.ObjectTotal.Failed, "objects %+v", rep.ObjectTotal)
	assert.Equal(t, 20, rep.Pending, "pending")
	assert.NotEmpty(t, rep.Failures, "no failures reported")
	for i := range 2 {
		assert.True(t, w.hasSighting(fmt.Sprintf("new%d", i)), "new%d lost", i)
	}
	p := w.pending()
	tried := 0
	for _, m := range p {
		if m.Attempts > 0 {
			tried++
			assert.NotEmpty(t, m.LastError, "mark %s: attempt without error", m.Key)
		}
	}
	assert.Len(t, p, 20, "marks")
	assert.Equal(t, 3, tried, "marks tried (the sweep gives up after 3 failures in a row)")
	es, err := w.audit.List(w.ctx, audit.Filter{Action: "retention.run"})
	require.NoError(t, err)
	if assert.Len(t, es, 1, "audit of the failed run: %+v", es) {
		assert.Equal(t, "result/incomplete", es[0].Target, "audit of the failed run")
		assert.Equal(t, "20", es[0].Details["objects_failed"], "audit of the failed run")
	}

	require.NoError(t, srv.Start())
	rep, err = job.Once(w.ctx)
	require.NoError(t, err, "run after MinIO came back")
	assert.Equal(t, 19, rep.ObjectTotal.Deleted, "run after MinIO came back: objects %+v", rep.ObjectTotal)
	assert.Equal(t, 1, rep.ObjectTotal.AlreadyGone, "run after MinIO came back: objects %+v", rep.ObjectTotal)
	assert.Zero(t, rep.Pending, "run after MinIO came back: pending")
	assert.Zero(t, rep.Deleted.Total(), "run after MinIO came back: rows %+v", rep.Deleted)
	assert.Equal(t, kept, w.keys(), "bucket holds")
	assert.Empty(t, w.pending(), "marks left")
}

// TestHoldPlacedDuringRunWins places a hold between the job's selection and its deletion: the
// transaction that deletes reads the holds again and keeps the row.
func TestHoldPlacedDuringRunWins(t *testing.T) {
	objs, _ := backends()[0].open(t)
	w := newWorld(t, objs)
	w.sighting("s1", 80*time.Hour, "", "", w.object("body"))
	w.sighting("s2", 81*time.Hour, "", "", w.object("body"))
	_, keys := w.alert(100*day, "", []string{"s2"}, nil, false, "resolved")
	ctx := w.ctx
	alertRows, err := w.db.AlertCandidates(ctx, retention.AlertQuery{FinalBefore: t0.Add(-90 * day), Limit: 10})
	require.NoError(t, err, "alert candidates")
	require.Len(t, alertRows, 1, "alert candidates %+v", alertRows)
	require.Equal(t, []string{keys[0]}, alertRows[0].Keys, "alert candidate's objects")
	require.NotEmpty(t, alertRows[0].Sightings, "alert candidate's sightings")
	require.Equal(t, "s2", alertRows[0].Sightings[0], "alert candidate's sightings")
	q := retention.SightingQuery{Now: t0, UnlistedBefore: t0.Add(-72 * time.Hour), ListedBefore: t0.Add(-90 * day),
		LiveSince: t0.Add(-time.Hour), After: retention.SightingCursor{ExitNS: -1 << 63}, Limit: 10}
	rows, err := w.db.SightingCandidates(ctx, q)
	require.NoError(t, err, "candidates")
	require.Len(t, rows, 2, "candidates %+v", rows)
	inv := retention.Actor{Name: "inv1", Role: "investigator"}
	c := audit.Case{Number: "C-7", Reason: "hold placed while the job runs"}
	_, err = w.holds.Hold(ctx, inv, c, retention.Item{Kind: retention.HoldSighting, ID: "s1"},
		retention.Item{Kind: retention.HoldAlert, ID: alertRows[0].ID})
	require.NoError(t, err)
	gone, err := w.db.DeleteSightings(ctx, []int64{rows[0].RID, rows[1].RID}, q, t0)
	require.NoError(t, err, "deleting sightings")
	require.Len(t, gone, 1, "deleted %+v, want only s2", gone)
	require.Equal(t, "s2", gone[0].ID, "deleted")
	a, err := w.db.DeleteAlerts(ctx, []string{alertRows[0].ID}, t0.Add(-90*day), t0)
	require.NoError(t, err, "deleting alerts")
	require.Empty(t, a, "deleted held alert")
	assert.True(t, w.hasSighting("s1"), "held sighting deleted")
	assert.True(t, w.hasAlert(alertRows[0].ID), "held alert deleted")
}
