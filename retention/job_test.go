package retention_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		_, err := s.holds.Hold(s.ctx, inv, audit.Case{Number: h.c, Reason: "burglary at the depot, 3 May"}, h.item)
		require.NoError(t, err)
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
			var told []string // what the job says it deleted, for copies of sightings elsewhere
			job := s.job(reg, func(o *retention.Options) {
				o.SightingsDeleted = func(_ context.Context, ids []string) error {
					told = append(told, ids...)
					return nil
				}
			})
			before := s.keys()

			// A dry run says what a run will do and changes nothing.
			dry, err := job.DryRun(ctx)
			require.NoError(t, err, "dry run: %v", dry.Failures)
			require.Equal(t, before, s.keys(), "the dry run changed the objects")
			require.True(t, s.hasSighting("u-old"), "the dry run deleted a sighting")
			require.True(t, s.hasAlert(s.alertOld.ID), "the dry run deleted an alert")

			rep, err := job.Once(ctx)
			require.NoError(t, err, "run: %v", rep.Failures)
			assert.Equal(t, retention.Counts{UnlistedSightings: 4, ListedSightings: 2, Alerts: 1, Embeddings: 4, Notifications: 1}, rep.Deleted, "deleted")
			assert.Equal(t, retention.Counts{UnlistedSightings: 3, Alerts: 1}, rep.Held, "held")
			o := rep.ObjectTotal
			assert.Equal(t, len(s.gone), o.Deleted, "objects deleted")
			assert.Equal(t, s.bytesGone(), o.Bytes, "bytes deleted")
			assert.Equal(t, 1, o.Shared, "objects shared")
			assert.Zero(t, o.Failed, "objects failed")
			assert.Zero(t, rep.Pending, "objects pending")
			assert.Equal(t, 2, rep.Objects["photo"].Deleted, "photos deleted")
			assert.Equal(t, 1, rep.Objects["clip"].Deleted, "clips deleted")
			assert.Equal(t, 1, rep.Objects["snapshot"].Deleted, "snapshots deleted")
			assert.Equal(t, rep.Deleted, dry.Deleted, "the dry run's deleted rows differ from the run's")
			assert.Equal(t, rep.Held, dry.Held, "the dry run's held rows differ from the run's")
			assert.Equal(t, rep.ObjectTotal, dry.ObjectTotal, "the dry run's objects differ from the run's")
			assert.Positive(t, rep.MaxBatch, "longest batch")
			assert.GreaterOrEqual(t, rep.Batches, 4, "batches")

			// Rows; those deleted are the ones the job told of.
			slices.Sort(told)
			var gone []string
			for id, want := range map[string]bool{
				"u-old": false, "u-new": true, "u-share-old": false, "u-share-new": true, "ann-old": true, "ann-ancient": false,
				"bob-old": false, "tr-a": true, "tr-b": true, "rr-a": false, "rr-b": true, "lv-a": true, "lv-b": true,
				"h-a": true, "h-b": true, "hs": true, "al-s1": false, "al-s2": true, "al-s3": true, "al-s4": true,
			} {
				assert.Equal(t, want, s.hasSighting(id), "sighting %s kept", id)
				if !want {
					gone = append(gone, id)
				}
			}
			slices.Sort(gone)
			assert.Equal(t, gone, told, "the sightings the job told of deleting")
			for _, a := range []struct {
				a    alerts.Alert
				want bool
			}{{s.alertOld, false}, {s.alertNew, true}, {s.alertOpen, true}, {s.alertHeld, true}} {
				assert.Equal(t, a.want, s.hasAlert(a.a.ID), "alert %s (%s) kept", a.a.ID, a.a.Status)
			}
			evs, err := s.db.AlertEventsAfter(ctx, 0, 1000)
			require.NoError(t, err)
			for _, ev := range evs {
				assert.NotEqual(t, s.alertOld.ID, ev.AlertID, "event %d of the deleted alert is still there", ev.Seq)
			}
			wl := s.db.Watchlist()
			for _, id := range []string{"bob", "dora"} {
				p, err := wl.Get(ctx, id)
				if assert.NoError(t, err, "%s after purge", id) {
					assert.Empty(t, p.Embeddings, "%s after purge: embeddings", id)
					assert.Empty(t, p.Photos, "%s after purge: photos", id)
					assert.NotEmpty(t, p.LegalBasis, "%s after purge: legal basis", id)
				}
			}
			_, err = wl.Photo(ctx, "dora", 0)
			assert.ErrorIs(t, err, watchlist.ErrNotFound, "dora's photo after purge")
			carl, err := wl.Get(ctx, "carl")
			if assert.NoError(t, err, "carl within the grace period") {
				assert.Len(t, carl.Embeddings, 1, "carl within the grace period lost embeddings")
				assert.Len(t, carl.Photos, 1, "carl within the grace period lost photos")
			}
			if assert.Len(t, rep.Expired, 3, "expired entries %+v", rep.Expired) {
				e := rep.Expired
				assert.Equal(t, "bob", e[0].ID, "expired entries %+v", e)
				assert.True(t, e[0].Purged, "bob not purged")
				assert.False(t, e[1].Purged, "%s purged within the grace period", e[1].ID)
				assert.WithinDuration(t, t0.Add(5*day), e[1].PurgeAt, 0, "%s's purge time", e[1].ID)
				assert.True(t, e[2].Purged, "%s not purged", e[2].ID)
				assert.Equal(t, 2, e[2].Photos, "%s's photos", e[2].ID)
			}

			// Objects: exactly the kept ones are left (the bucket listed), and each deleted one is
			// not found.
			want := slices.Clone(s.keep)
			slices.Sort(want)
			assert.Equal(t, want, s.keys(), "objects left")
			for _, k := range s.gone {
				_, err := s.objs.Stat(ctx, k)
				assert.ErrorIs(t, err, objstore.ErrNotFound, "deleted object %s: stat", k)
			}
			assert.Empty(t, s.pending(), "marks left")

			// Trajectories still answer: ann's keeps its unlisted first sighting, the one that lost
			// its first sighting is named after the next.
			trs, err := s.db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
			require.NoError(t, err)
			var annSteps []string
			for _, tr := range trs {
				for _, st := range tr.Steps {
					annSteps = append(annSteps, st.Sighting)
				}
			}
			assert.Contains(t, annSteps, "tr-a", "ann's trajectories")
			assert.Contains(t, annSteps, "tr-b", "ann's trajectories")
			assert.NotContains(t, annSteps, "ann-ancient", "ann's trajectories")
			rr, err := s.db.Follow(ctx, "rr-b", time.Time{}, time.Time{})
			if assert.NoError(t, err, "renamed trajectory") {
				assert.Equal(t, "rr-b", rr.ID, "renamed trajectory")
				if assert.Len(t, rr.Steps, 1, "renamed trajectory: %+v", rr) {
					assert.Nil(t, rr.Steps[0].Link, "renamed trajectory starts with a link")
				}
			}

			// Metrics and audit.
			assert.Equal(t, 4.0, metric(t, reg, "snowlight_retention_deleted_rows_total", "kind", "sighting_unlisted"), "rows metric")
			assert.Positive(t, metric(t, reg, "snowlight_retention_deleted_bytes_total", "kind", "clip"), "bytes metric")
			assert.Equal(t, 2.0, metric(t, reg, "snowlight_retention_runs_total", "result", "ok"), "runs metric (the dry run counts too)")
			acts := s.auditActions()
			assert.Equal(t, 1, acts["retention.run"], "audit actions %v", acts)
			assert.Equal(t, 2, acts["watchlist.purge"], "audit actions %v", acts)
			assert.Equal(t, 3, acts["case.hold"], "audit actions %v", acts)
			es, err := s.audit.List(ctx, audit.Filter{Action: "retention.run"})
			require.NoError(t, err)
			require.NotEmpty(t, es, "no retention.run audit entry")
			d := es[0].Details
			assert.Equal(t, "4", d["unlisted_sightings"], "audit entry %+v", es[0])
			assert.Equal(t, "1", d["alerts"], "audit entry %+v", es[0])
			assert.Equal(t, fmt.Sprint(len(s.gone)), d["objects"], "audit entry %+v", es[0])
			assert.Equal(t, "system:retention", es[0].Actor, "audit entry's actor")

			// Idempotent: the next run finds nothing more.
			again, err := job.Once(ctx)
			require.NoError(t, err, "second run")
			assert.Zero(t, again.Deleted.Total(), "second run: deleted %+v", again.Deleted)
			assert.Equal(t, retention.ObjectCounts{}, again.ObjectTotal, "second run: objects")
			assert.Equal(t, rep.Held, again.Held, "second run: held")

			// Released, the held sighting goes on the next run; the other cases still hold theirs.
			_, err = s.holds.Release(ctx, retention.Actor{Name: "inv1", Role: "investigator"},
				audit.Case{Number: "C-2", Reason: "case closed, evidence not needed"})
			require.NoError(t, err)
			third, err := job.Once(ctx)
			require.NoError(t, err, "run after release")
			assert.Equal(t, 1, third.Deleted.UnlistedSightings, "after release: deleted %+v", third.Deleted)
			assert.Equal(t, 1, third.ObjectTotal.Deleted, "after release: objects %+v", third.ObjectTotal)
			assert.False(t, s.hasSighting("hs"), "released sighting kept")
			assert.True(t, s.hasSighting("h-a"), "sighting still held deleted")
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
			_, err := w.holds.Hold(w.ctx, retention.Actor{Name: "inv"}, audit.Case{Number: "C-9", Reason: "keep these for the file"},
				retention.Item{Kind: retention.HoldSighting, ID: fmt.Sprintf("s%d", i)})
			require.NoError(t, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, reg, "snowlight_retention_runs_total", "result", "ok") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run returned")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Run did not stop on cancel")
	}
	// One more run settles the writes that raced the loop.
	_, err := job.Once(w.ctx)
	require.NoError(t, err)
	for i := range 40 {
		held := i >= 20 && i%5 == 0
		assert.Equal(t, held, w.hasSighting(fmt.Sprintf("s%d", i)), "s%d kept", i)
	}
	assert.Len(t, w.keys(), 4, "objects left, want the 4 held sightings'")
	_, err = retention.New(retention.Options{Store: w.db, Objects: objs, Audit: w.audit})
	require.NoError(t, err)
	assert.Error(t, job.Run(w.ctx, 0), "Run accepted a zero interval")
}
