package retention_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"snowlight/audit"
	"snowlight/retention"
)

func TestHolds(t *testing.T) {
	objs, _ := backends()[0].open(t)
	w := newWorld(t, objs)
	ctx := w.ctx
	w.sighting("a", 80*time.Hour, "", "", w.object("body"))
	w.sighting("b", 79*time.Hour, "", "", w.object("body"))
	w.link("a", "b")
	w.sighting("lone", 80*time.Hour, "", "", w.object("body"))
	al, _ := w.alert(100*day, "", []string{"lone"}, nil, false, "dismissed")
	inv := retention.Actor{Name: "inv1", Role: "investigator"}
	c1 := audit.Case{Number: "C-1", Reason: "robbery on Main Street, 2 May"}
	c2 := audit.Case{Number: "C-2", Reason: "assault near the station"}
	trajB := retention.Item{Kind: retention.HoldTrajectory, ID: "b"}
	lone := retention.Item{Kind: retention.HoldSighting, ID: "lone"}
	alertItem := retention.Item{Kind: retention.HoldAlert, ID: al.ID}

	// Refusals hold nothing and record nothing.
	for _, c := range []struct {
		who   retention.Actor
		c     audit.Case
		items []retention.Item
		want  error
	}{
		{inv, audit.Case{Number: "C-1"}, []retention.Item{lone}, retention.ErrInvalid},
		{inv, audit.Case{Number: "C-1", Reason: "short"}, []retention.Item{lone}, retention.ErrInvalid},
		{retention.Actor{}, c1, []retention.Item{lone}, retention.ErrInvalid},
		{inv, c1, nil, retention.ErrInvalid},
		{inv, c1, []retention.Item{{Kind: "person", ID: "x"}}, retention.ErrInvalid},
		{inv, c1, []retention.Item{{Kind: retention.HoldSighting, ID: "bad\x00id"}}, retention.ErrInvalid},
		{inv, c1, []retention.Item{lone, {Kind: retention.HoldSighting, ID: "nope"}}, retention.ErrNotFound},
		{inv, c1, []retention.Item{{Kind: retention.HoldTrajectory, ID: "nope"}}, retention.ErrNotFound},
		{inv, c1, []retention.Item{{Kind: retention.HoldAlert, ID: "nope"}}, retention.ErrNotFound},
	} {
		if _, err := w.holds.Hold(ctx, c.who, c.c, c.items...); !errors.Is(err, c.want) {
			t.Errorf("hold %+v %+v: %v, want %v", c.c, c.items, err, c.want)
		}
	}
	if hs, _ := w.holds.List(ctx, retention.HoldQuery{All: true}); len(hs) != 0 {
		t.Fatalf("refused requests held %+v", hs)
	}
	if acts := w.auditActions(); acts["case.hold"] != 0 {
		t.Fatalf("refused requests recorded: %v", acts)
	}

	// A trajectory named by any of its sightings is held under its first, with its sightings.
	hs, err := w.holds.Hold(ctx, inv, c1, trajB, lone, lone)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.Item.String()+"<"+h.Via)
		if h.Case != "C-1" || h.By != "inv1" || h.Reason != c1.Reason || !h.At.Equal(t0) || h.Released != nil {
			t.Errorf("hold %+v", h)
		}
	}
	if want := "trajectory/a< sighting/a<trajectory/a sighting/b<trajectory/a sighting/lone<"; strings.Join(got, " ") != want {
		t.Errorf("holds %q, want %q", strings.Join(got, " "), want)
	}
	// Holding again is idempotent; another case holds the same item separately.
	again, err := w.holds.Hold(ctx, inv, c1, lone)
	if err != nil || len(again) != 1 || again[0].ID != hs[3].ID {
		t.Errorf("hold again: %+v (%v)", again, err)
	}
	if _, err := w.holds.Hold(ctx, inv, c2, lone, alertItem); err != nil {
		t.Fatal(err)
	}
	// A sighting the trajectory gains later is held through it.
	w.sighting("c", 78*time.Hour, "", "", w.object("body"))
	w.link("b", "c")

	// Release: naming something the case does not hold fails and releases nothing; a trajectory
	// named by any sighting releases its listed sightings with it.
	if _, err := w.holds.Release(ctx, inv, c1, alertItem); !errors.Is(err, retention.ErrNotFound) {
		t.Errorf("release of an item not held: %v", err)
	}
	if _, err := w.holds.Release(ctx, inv, audit.Case{Number: "C-9", Reason: "no such case at all"}); !errors.Is(err, retention.ErrNotFound) {
		t.Errorf("release of an unknown case: %v", err)
	}
	rel, err := w.holds.Release(ctx, inv, audit.Case{Number: "C-1", Reason: "trajectory cleared by the review"},
		retention.Item{Kind: retention.HoldTrajectory, ID: "c"})
	if err != nil || len(rel) != 3 || rel[0].Released == nil || rel[0].Released.By != "inv1" || rel[0].Released.Reason != "trajectory cleared by the review" {
		t.Fatalf("release: %+v (%v)", rel, err)
	}
	active, _ := w.holds.List(ctx, retention.HoldQuery{})
	all, _ := w.holds.List(ctx, retention.HoldQuery{All: true})
	byItem, _ := w.holds.List(ctx, retention.HoldQuery{Item: lone})
	byCase, _ := w.holds.List(ctx, retention.HoldQuery{Case: "C-2"})
	if len(active) != 3 || len(all) != 6 || len(byItem) != 2 || len(byCase) != 2 {
		t.Errorf("lists: %d active, %d all, %d by item, %d by case", len(active), len(all), len(byItem), len(byCase))
	}
	if _, err := w.holds.List(ctx, retention.HoldQuery{Item: retention.Item{Kind: "x", ID: "y"}}); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("list by a bad item: %v", err)
	}

	// The job: the released trajectory goes (including the sighting it gained), "lone" stays
	// while C-2 holds it even after C-1 lets go, and the held alert keeps it too.
	if _, err := w.holds.Release(ctx, inv, audit.Case{Number: "C-1", Reason: "case closed by the court"}); err != nil {
		t.Fatal(err)
	}
	rep, err := w.job(nil).Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w.hasSighting("a") || w.hasSighting("b") || w.hasSighting("c") || !w.hasSighting("lone") || !w.hasAlert(al.ID) {
		t.Errorf("after release: a %v b %v c %v lone %v alert %v", w.hasSighting("a"), w.hasSighting("b"), w.hasSighting("c"),
			w.hasSighting("lone"), w.hasAlert(al.ID))
	}
	if rep.Held.Alerts != 1 || rep.Deleted.UnlistedSightings != 3 {
		t.Errorf("report %+v held %+v", rep.Deleted, rep.Held)
	}

	// Every hold and release is on record with its case number and reason.
	es, err := w.audit.List(ctx, audit.Filter{Case: "C-1"})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range es {
		acts = append(acts, e.Action+" "+e.Target)
		if e.Actor != "inv1" || e.Role != "investigator" || e.Reason == "" {
			t.Errorf("entry %+v", e)
		}
	}
	// Refused releases are not on record: they released nothing.
	want := "case.hold 2 items|case.hold sighting/lone|case.release trajectory/c|case.release case/C-1"
	if strings.Join(acts, "|") != want {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(acts, "|"), want)
	}
	if es[0].Details["items"] != "trajectory/b sighting/lone" || es[0].Details["sightings_via_trajectories"] != "2" {
		t.Errorf("details %v", es[0].Details)
	}
}

func FuzzParseItem(f *testing.F) {
	for _, s := range []string{"alert/a-17", "sighting/cam1-1714550400000-7", "trajectory/x", "", "alert/", "/x", "person/p1",
		"sighting/a/b", "alert/\x00", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		it, err := retention.ParseItem(s)
		if err != nil {
			if !errors.Is(err, retention.ErrInvalid) {
				t.Fatalf("%q: error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if it.String() != s {
			t.Fatalf("%q parsed as %+v, prints %q", s, it, it.String())
		}
		if again, err := retention.ParseItem(it.String()); err != nil || again != it {
			t.Fatalf("%q: round trip %+v %v", s, again, err)
		}
	})
}
