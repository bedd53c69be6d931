package retention_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
	dir, err := objstore.OpenDir(objPath, objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kill := &onDelete{Store: dir, after: func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }}
	job, err := retention.New(retention.Options{Store: db, Objects: kill, Audit: audit.New(db, nil), BatchSize: 10,
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	job.Once(context.Background())
	t.Fatal("the job finished: the crash never happened")
}

// TestCrashBetweenDatabaseAndObjects kills a real process running the job after it deleted the rows
// (and marked their objects) and while it deletes objects; the next run finishes the job.
func TestCrashBetweenDatabaseAndObjects(t *testing.T) {
	objPath := filepath.Join(t.TempDir(), "objects")
	dir, err := objstore.OpenDir(objPath, objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed: %v\n%s", err, out)
	}

	// The rows went in committed transactions, with their objects marked; one object is gone
	// but still marked, the rest are still there.
	for i := range 25 {
		if w.hasSighting(fmt.Sprintf("old%d", i)) {
			t.Fatalf("old%d survived the crashed run's database phase", i)
		}
	}
	if p := w.pending(); len(p) != 50 {
		t.Fatalf("%d marks after the crash, want 50", len(p))
	}
	if n := len(w.keys()); n != 50-1+3 {
		t.Fatalf("%d objects after the crash, want 52", n)
	}

	rep, err := w.job(nil).Once(w.ctx)
	if err != nil {
		t.Fatalf("resumed run: %v %v", err, rep.Failures)
	}
	if rep.Deleted.Total() != 0 || rep.ObjectTotal.Deleted != 49 || rep.ObjectTotal.AlreadyGone != 1 || rep.Pending != 0 {
		t.Errorf("resumed run: rows %+v, objects %+v, pending %d", rep.Deleted, rep.ObjectTotal, rep.Pending)
	}
	if got := w.keys(); !slices.Equal(got, kept) {
		t.Errorf("objects left %v, want %v", got, kept)
	}
	if p := w.pending(); len(p) != 0 {
		t.Errorf("marks left %v", p)
	}
	if acts := w.auditActions(); acts["retention.run"] != 1 {
		t.Errorf("audit %v", acts)
	}
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
	if !errors.Is(err, retention.ErrIncomplete) {
		t.Fatalf("run with MinIO down: %v", err)
	}
	// The first object was deleted, but MinIO died before the deletion could be verified: it
	// counts as failed and keeps its mark like the others.
	if rep.Deleted.UnlistedSightings != 10 || rep.ObjectTotal.Deleted != 0 || rep.ObjectTotal.Failed != 20 || rep.Pending != 20 || len(rep.Failures) == 0 {
		t.Errorf("report %+v %+v pending %d failures %v", rep.Deleted, rep.ObjectTotal, rep.Pending, rep.Failures)
	}
	for i := range 2 {
		if !w.hasSighting(fmt.Sprintf("new%d", i)) {
			t.Errorf("new%d lost", i)
		}
	}
	p := w.pending()
	tried := 0
	for _, m := range p {
		if m.Attempts > 0 {
			tried++
			if m.LastError == "" {
				t.Errorf("mark %s: attempt without error", m.Key)
			}
		}
	}
	if len(p) != 20 || tried != 3 {
		t.Errorf("%d marks, %d tried; want 20 and 3 (the sweep gives up after 3 failures in a row)", len(p), tried)
	}
	es, _ := w.audit.List(w.ctx, audit.Filter{Action: "retention.run"})
	if len(es) != 1 || es[0].Target != "result/incomplete" || es[0].Details["objects_failed"] != "20" {
		t.Errorf("audit of the failed run: %+v", es)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	rep, err = job.Once(w.ctx)
	if err != nil || rep.ObjectTotal.Deleted != 19 || rep.ObjectTotal.AlreadyGone != 1 || rep.Pending != 0 || rep.Deleted.Total() != 0 {
		t.Fatalf("run after MinIO came back: %+v %+v (%v)", rep.Deleted, rep.ObjectTotal, err)
	}
	if got := w.keys(); !slices.Equal(got, kept) {
		t.Errorf("bucket holds %v, want %v", got, kept)
	}
	if len(w.pending()) != 0 {
		t.Error("marks left")
	}
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
	if err != nil || len(alertRows) != 1 || len(alertRows[0].Keys) != 1 || alertRows[0].Keys[0] != keys[0] || alertRows[0].Sightings[0] != "s2" {
		t.Fatalf("alert candidates %+v (%v)", alertRows, err)
	}
	q := retention.SightingQuery{Now: t0, UnlistedBefore: t0.Add(-72 * time.Hour), ListedBefore: t0.Add(-90 * day),
		LiveSince: t0.Add(-time.Hour), After: retention.SightingCursor{ExitNS: -1 << 63}, Limit: 10}
	rows, err := w.db.SightingCandidates(ctx, q)
	if err != nil || len(rows) != 2 {
		t.Fatalf("candidates %+v (%v)", rows, err)
	}
	inv := retention.Actor{Name: "inv1", Role: "investigator"}
	c := audit.Case{Number: "C-7", Reason: "hold placed while the job runs"}
	if _, err := w.holds.Hold(ctx, inv, c, retention.Item{Kind: retention.HoldSighting, ID: "s1"},
		retention.Item{Kind: retention.HoldAlert, ID: alertRows[0].ID}); err != nil {
		t.Fatal(err)
	}
	gone, err := w.db.DeleteSightings(ctx, []int64{rows[0].RID, rows[1].RID}, q, t0)
	if err != nil || len(gone) != 1 || gone[0].ID != "s2" {
		t.Fatalf("deleted %+v (%v), want only s2", gone, err)
	}
	if a, err := w.db.DeleteAlerts(ctx, []string{alertRows[0].ID}, t0.Add(-90*day), t0); err != nil || len(a) != 0 {
		t.Fatalf("deleted held alert %+v (%v)", a, err)
	}
	if !w.hasSighting("s1") || !w.hasAlert(alertRows[0].ID) {
		t.Fatal("held rows deleted")
	}
}
