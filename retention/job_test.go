package retention_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"snowlight/alerts"
	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/retention"
	"snowlight/watchlist"
)

const day = 24 * time.Hour

// scenario is a database and object store holding data on both sides of every limit.
type scenario struct {
	*world
	keep, gone []string // object keys that must stay / go
	alertOld   alerts.Alert
	alertNew   alerts.Alert
	alertOpen  alerts.Alert
	alertHeld  alerts.Alert
}

func (s *scenario) obj(kind string, stays bool) string {
	k := s.object(kind)
	if stays {
		s.keep = append(s.keep, k)
	} else {
		s.gone = append(s.gone, k)
	}
	return k
}

func newScenario(t *testing.T, w *world) *scenario {
	s := &scenario{world: w}
	// Watch list: ann is active, bob and dora expired a month ago (past the grace period), carl two
	// days ago (within it). bob's photos are in the object store, dora's in the database; carl's
	// photo reference is a file name, not an object.
	s.person("ann", t0.Add(30*day), s.obj("photo", true))
	s.person("bob", t0.Add(-30*day), s.obj("photo", false), s.obj("photo", false))
	s.person("carl", t0.Add(-2*day), "photo-1.jpg")
	s.person("dora", t0.Add(-30*day), "", "")

	// Unlisted people: older than 72 h go, newer stay. Two sightings share a body snapshot.
	s.sighting("u-old", 80*time.Hour, "", s.obj("face", false), s.obj("body", false))
	s.sighting("u-new", 10*time.Hour, "", s.obj("face", true), s.obj("body", true))
	shared := s.obj("body", true)
	s.sighting("u-share-old", 90*time.Hour, "", s.obj("face", false), shared)
	s.sighting("u-share-new", 5*time.Hour, "", "", shared)
	// Listed people are kept for the alert period; an expired entry lists nobody.
	s.sighting("ann-old", 80*time.Hour, "ann", s.obj("face", true), "")
	s.sighting("ann-ancient", 100*day, "ann", s.obj("face", false), "")
	s.sighting("bob-old", 80*time.Hour, "bob", "", s.obj("body", false))
	// A trajectory carrying ann lists its unlisted sightings too.
	s.sighting("tr-a", 80*time.Hour, "", "", s.obj("body", true))
	s.sighting("tr-b", 70*time.Hour, "ann", "", s.obj("body", true))
	s.link("tr-a", "tr-b")
	// A trajectory losing its first sighting is renamed after the next one.
	s.sighting("rr-a", 80*time.Hour, "", "", s.obj("body", false))
	s.sighting("rr-b", 30*time.Hour, "", "", s.obj("body", true))
	s.link("rr-a", "rr-b")
	// ... unless it is still growing: the stitcher names it after its first sighting.
	s.sighting("lv-a", 80*time.Hour, "", "", s.obj("body", true))
	s.sighting("lv-b", 10*time.Minute, "", "", s.obj("body", true))
	s.link("lv-a", "lv-b")
	// Held by a case: a whole trajectory (named by its second sighting), and one sighting.
	s.sighting("h-a", 80*time.Hour, "", "", s.obj("body", true))
	s.sighting("h-b", 79*time.Hour, "", "", s.obj("body", true))
	s.link("h-a", "h-b")
	s.sighting("hs", 80*time.Hour, "", "", s.obj("body", true)) // released in the test, then goes

	// Alerts: a final one past 90 days goes with its evidence and sightings; a final recent one, an
	// open old one and a held old one stay with theirs.
	alS1Face := s.obj("face", false)
	s.sighting("al-s1", 100*day, "ann", alS1Face, "")
	var keys []string
	s.alertOld, keys = s.alert(100*day, "ann", []string{"al-s1"}, []string{alS1Face}, true, alerts.Resolved)
	s.gone = append(s.gone, keys...)
	s.sighting("al-s2", 10*day, "", "", s.obj("body", true))
	s.alertNew, keys = s.alert(10*day, "", []string{"al-s2"}, nil, false, alerts.Resolved)
	s.keep = append(s.keep, keys...)
	s.sighting("al-s3", 200*day, "", "", s.obj("body", true))
	s.alertOpen, keys = s.alert(200*day, "", []string{"al-s3"}, nil, false, "")
	s.keep = append(s.keep, keys...)
	s.sighting("al-s4", 100*day, "", "", s.obj("body", true))
	s.alertHeld, keys = s.alert(100*day, "ann", []string{"al-s4"}, nil, true, alerts.Dismissed)
	s.keep = append(s.keep, keys...)

	s.notification("old", 100*day)
	s.notification("recent", day)

	inv := retention.Actor{Name: "inv1", Role: "investigator"}
	for _, h := range []struct {
		c    string
		item retention.Item
	}{
		{"C-1", retention.Item{Kind: retention.HoldTrajectory, ID: "h-b"}},
		{"C-2", retention.Item{Kind: retention.HoldSighting, ID: "hs"}},
		{"C-3", retention.Item{Kind: retention.HoldAlert, ID: s.alertHeld.ID}},
	} {
		if _, err := s.holds.Hold(s.ctx, inv, audit.Case{Number: h.c, Reason: "burglary at the depot, 3 May"}, h.item); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *scenario) bytesGone() int64 {
	var n int64
	for _, k := range s.gone {
		n += s.sizes[k]
	}
	return n
}

// TestRetention runs the job over data on both sides of every limit, with the local directory store
// and with a real MinIO server, and checks rows and objects (listing the bucket) after each run.
func TestRetention(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			objs, _ := b.open(t)
			s := newScenario(t, newWorld(t, objs))
			ctx := s.ctx
			reg := prometheus.NewRegistry()
			job := s.job(reg)
			before := s.keys()

			// A dry run says what a run will do and changes nothing.
			dry, err := job.DryRun(ctx)
			if err != nil {
				t.Fatalf("dry run: %v (%v)", err, dry.Failures)
			}
			if got := s.keys(); !slices.Equal(got, before) || !s.hasSighting("u-old") || !s.hasAlert(s.alertOld.ID) {
				t.Fatal("the dry run changed something")
			}

			rep, err := job.Once(ctx)
			if err != nil {
				t.Fatalf("run: %v (%v)", err, rep.Failures)
			}
			wantDeleted := retention.Counts{UnlistedSightings: 4, ListedSightings: 2, Alerts: 1, Embeddings: 4, Notifications: 1}
			if rep.Deleted != wantDeleted {
				t.Errorf("deleted %+v, want %+v", rep.Deleted, wantDeleted)
			}
			if want := (retention.Counts{UnlistedSightings: 3, Alerts: 1}); rep.Held != want {
				t.Errorf("held %+v, want %+v", rep.Held, want)
			}
			if o := rep.ObjectTotal; o.Deleted != len(s.gone) || o.Bytes != s.bytesGone() || o.Shared != 1 || o.Failed != 0 || rep.Pending != 0 {
				t.Errorf("objects %+v pending %d, want %d deleted (%d bytes), 1 shared", o, rep.Pending, len(s.gone), s.bytesGone())
			}
			if rep.Objects["photo"].Deleted != 2 || rep.Objects["clip"].Deleted != 1 || rep.Objects["snapshot"].Deleted != 1 {
				t.Errorf("objects by kind %+v", rep.Objects)
			}
			if dry.Deleted != rep.Deleted || dry.Held != rep.Held || dry.ObjectTotal != rep.ObjectTotal {
				t.Errorf("dry run %+v / %+v / %+v differs from the run %+v / %+v / %+v",
					dry.Deleted, dry.Held, dry.ObjectTotal, rep.Deleted, rep.Held, rep.ObjectTotal)
			}
			if rep.MaxBatch <= 0 || rep.Batches < 4 {
				t.Errorf("%d batches, longest %v", rep.Batches, rep.MaxBatch)
			}

			// Rows.
			for id, want := range map[string]bool{
				"u-old": false, "u-new": true, "u-share-old": false, "u-share-new": true, "ann-old": true, "ann-ancient": false,
				"bob-old": false, "tr-a": true, "tr-b": true, "rr-a": false, "rr-b": true, "lv-a": true, "lv-b": true,
				"h-a": true, "h-b": true, "hs": true, "al-s1": false, "al-s2": true, "al-s3": true, "al-s4": true,
			} {
				if got := s.hasSighting(id); got != want {
					t.Errorf("sighting %s kept %v, want %v", id, got, want)
				}
			}
			for _, a := range []struct {
				a    alerts.Alert
				want bool
			}{{s.alertOld, false}, {s.alertNew, true}, {s.alertOpen, true}, {s.alertHeld, true}} {
				if got := s.hasAlert(a.a.ID); got != a.want {
					t.Errorf("alert %s (%s) kept %v, want %v", a.a.ID, a.a.Status, got, a.want)
				}
			}
			evs, err := s.db.AlertEventsAfter(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.AlertID == s.alertOld.ID {
					t.Errorf("event %d of the deleted alert is still there", ev.Seq)
				}
			}
			wl := s.db.Watchlist()
			for _, id := range []string{"bob", "dora"} {
				p, err := wl.Get(ctx, id)
				if err != nil || len(p.Embeddings) != 0 || len(p.Photos) != 0 || p.LegalBasis == "" {
					t.Errorf("%s after purge: %d embeddings, %d photos, legal basis %q (%v)", id, len(p.Embeddings), len(p.Photos), p.LegalBasis, err)
				}
			}
			if _, err := wl.Photo(ctx, "dora", 0); !errors.Is(err, watchlist.ErrNotFound) {
				t.Errorf("dora's photo after purge: %v", err)
			}
			if carl, err := wl.Get(ctx, "carl"); err != nil || len(carl.Embeddings) != 1 || len(carl.Photos) != 1 {
				t.Errorf("carl within the grace period lost embeddings or photos (%v)", err)
			}
			if len(rep.Expired) != 3 || !rep.Expired[0].Purged || rep.Expired[0].ID != "bob" || rep.Expired[1].Purged ||
				!rep.Expired[1].PurgeAt.Equal(t0.Add(5*day)) || !rep.Expired[2].Purged || rep.Expired[2].Photos != 2 {
				t.Errorf("expired entries %+v", rep.Expired)
			}

			// Objects: exactly the kept ones are left (the bucket listed), and each deleted one is
			// not found.
			want := slices.Clone(s.keep)
			slices.Sort(want)
			if got := s.keys(); !slices.Equal(got, want) {
				t.Errorf("objects left:\n%v\nwant\n%v", got, want)
			}
			for _, k := range s.gone {
				if _, err := s.objs.Stat(ctx, k); !errors.Is(err, objstore.ErrNotFound) {
					t.Errorf("deleted object %s: stat %v", k, err)
				}
			}
			if p := s.pending(); len(p) != 0 {
				t.Errorf("marks left: %+v", p)
			}

			// Trajectories still answer: ann's keeps its unlisted first sighting, the one that lost
			// its first sighting is named after the next.
			trs, err := s.db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var annSteps []string
			for _, tr := range trs {
				for _, st := range tr.Steps {
					annSteps = append(annSteps, st.Sighting)
				}
			}
			if !slices.Contains(annSteps, "tr-a") || !slices.Contains(annSteps, "tr-b") || slices.Contains(annSteps, "ann-ancient") {
				t.Errorf("ann's trajectories: %v", annSteps)
			}
			rr, err := s.db.Follow(ctx, "rr-b", time.Time{}, time.Time{})
			if err != nil || rr.ID != "rr-b" || len(rr.Steps) != 1 || rr.Steps[0].Link != nil {
				t.Errorf("renamed trajectory: %+v (%v)", rr, err)
			}

			// Metrics and audit.
			if v := metric(t, reg, "snowlight_retention_deleted_rows_total", "kind", "sighting_unlisted"); v != 4 {
				t.Errorf("rows metric %v", v)
			}
			if v := metric(t, reg, "snowlight_retention_deleted_bytes_total", "kind", "clip"); v <= 0 {
				t.Errorf("bytes metric %v", v)
			}
			if v := metric(t, reg, "snowlight_retention_runs_total", "result", "ok"); v != 2 { // the dry run counts too
				t.Errorf("runs metric %v", v)
			}
			acts := s.auditActions()
			if acts["retention.run"] != 1 || acts["watchlist.purge"] != 2 || acts["case.hold"] != 3 {
				t.Errorf("audit actions %v", acts)
			}
			es, _ := s.audit.List(ctx, audit.Filter{Action: "retention.run"})
			if d := es[0].Details; d["unlisted_sightings"] != "4" || d["alerts"] != "1" || d["objects"] != fmt.Sprint(len(s.gone)) || es[0].Actor != "system:retention" {
				t.Errorf("audit entry %+v", es[0])
			}

			// Idempotent: the next run finds nothing more.
			again, err := job.Once(ctx)
			if err != nil || again.Deleted.Total() != 0 || again.ObjectTotal != (retention.ObjectCounts{}) || again.Held != rep.Held {
				t.Errorf("second run: %+v %+v held %+v (%v)", again.Deleted, again.ObjectTotal, again.Held, err)
			}

			// Released, the held sighting goes on the next run; the other cases still hold theirs.
			if _, err := s.holds.Release(ctx, retention.Actor{Name: "inv1", Role: "investigator"},
				audit.Case{Number: "C-2", Reason: "case closed, evidence not needed"}); err != nil {
				t.Fatal(err)
			}
			third, err := job.Once(ctx)
			if err != nil || third.Deleted.UnlistedSightings != 1 || third.ObjectTotal.Deleted != 1 || s.hasSighting("hs") || !s.hasSighting("h-a") {
				t.Errorf("after release: %+v %+v (%v)", third.Deleted, third.ObjectTotal, err)
			}
		})
	}
}

// TestRunStopsOnCancel runs the loop while holds are placed and sightings written, under the race
// detector in make test, and checks that it returns when cancelled.
func TestRunStopsOnCancel(t *testing.T) {
	objs, _ := backends()[0].open(t)
	w := newWorld(t, objs)
	for i := range 20 {
		w.sighting(fmt.Sprintf("s%d", i), 80*time.Hour, "", "", w.object("body"))
	}
	reg := prometheus.NewRegistry()
	job := w.job(reg)
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx, 5*time.Millisecond) }()
	for i := 20; i < 40; i++ {
		w.sighting(fmt.Sprintf("s%d", i), 80*time.Hour, "", "", w.object("body"))
		if i%5 == 0 {
			if _, err := w.holds.Hold(w.ctx, retention.Actor{Name: "inv"}, audit.Case{Number: "C-9", Reason: "keep these for the file"},
				retention.Item{Kind: retention.HoldSighting, ID: fmt.Sprintf("s%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, reg, "snowlight_retention_runs_total", "result", "ok") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
	// One more run settles the writes that raced the loop.
	if _, err := job.Once(w.ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		held := i >= 20 && i%5 == 0
		if got := w.hasSighting(fmt.Sprintf("s%d", i)); got != held {
			t.Errorf("s%d kept %v, held %v", i, got, held)
		}
	}
	if len(w.keys()) != 4 {
		t.Errorf("objects left %v, want the 4 held sightings'", w.keys())
	}
	if _, err := retention.New(retention.Options{Store: w.db, Objects: objs, Audit: w.audit}); err != nil {
		t.Fatal(err)
	}
	if err := job.Run(w.ctx, 0); err == nil {
		t.Error("Run accepted a zero interval")
	}
}
