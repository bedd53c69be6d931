package retention_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		_, err := w.holds.Hold(ctx, c.who, c.c, c.items...)
		assert.ErrorIs(t, err, c.want, "hold %+v %+v", c.c, c.items)
	}
	held, err := w.holds.List(ctx, retention.HoldQuery{All: true})
	require.NoError(t, err)
	require.Empty(t, held, "refused requests held")
	acts := w.auditActions()
	require.Zero(t, acts["case.hold"], "refused requests recorded: %v", acts)

	// A trajectory named by any of its sightings is held under its first, with its sightings.
	hs, err := w.holds.Hold(ctx, inv, c1, trajB, lone, lone)
	require.NoError(t, err)
	var got []string
	for _, h := range hs {
		got = append(got, h.Item.String()+"<"+h.Via)
		assert.Equal(t, "C-1", h.Case, "hold %+v", h)
		assert.Equal(t, "inv1", h.By, "hold %+v", h)
		assert.Equal(t, c1.Reason, h.Reason, "hold %+v", h)
		assert.WithinDuration(t, t0, h.At, 0, "hold %+v", h)
		assert.Nil(t, h.Released, "hold %+v", h)
	}
	require.Equal(t, []string{"trajectory/a<", "sighting/a<trajectory/a", "sighting/b<trajectory/a", "sighting/lone<"}, got, "holds")
	// Holding again is idempotent; another case holds the same item separately.
	again, err := w.holds.Hold(ctx, inv, c1, lone)
	require.NoError(t, err, "hold again")
	require.Len(t, again, 1, "hold again: %+v", again)
	assert.Equal(t, hs[3].ID, again[0].ID, "hold again made a new hold")
	_, err = w.holds.Hold(ctx, inv, c2, lone, alertItem)
	require.NoError(t, err)
	// A sighting the trajectory gains later is held through it.
	w.sighting("c", 78*time.Hour, "", "", w.object("body"))
	w.link("b", "c")

	// Release: naming something the case does not hold fails and releases nothing; a trajectory
	// named by any sighting releases its listed sightings with it.
	_, err = w.holds.Release(ctx, inv, c1, alertItem)
	assert.ErrorIs(t, err, retention.ErrNotFound, "release of an item not held")
	_, err = w.holds.Release(ctx, inv, audit.Case{Number: "C-9", Reason: "no such case at all"})
	assert.ErrorIs(t, err, retention.ErrNotFound, "release of an unknown case")
	rel, err := w.holds.Release(ctx, inv, audit.Case{Number: "C-1", Reason: "trajectory cleared by the review"},
		retention.Item{Kind: retention.HoldTrajectory, ID: "c"})
	require.NoError(t, err, "release")
	require.Len(t, rel, 3, "release: %+v", rel)
	require.NotNil(t, rel[0].Released, "release: %+v", rel)
	assert.Equal(t, "inv1", rel[0].Released.By, "released by")
	assert.Equal(t, "trajectory cleared by the review", rel[0].Released.Reason, "release reason")
	for _, l := range []struct {
		name string
		q    retention.HoldQuery
		want int
	}{
		{"active", retention.HoldQuery{}, 3},
		{"all", retention.HoldQuery{All: true}, 6},
		{"by item", retention.HoldQuery{Item: lone}, 2},
		{"by case", retention.HoldQuery{Case: "C-2"}, 2},
	} {
		hs, err := w.holds.List(ctx, l.q)
		require.NoError(t, err, "list %s", l.name)
		assert.Len(t, hs, l.want, "list %s", l.name)
	}
	_, err = w.holds.List(ctx, retention.HoldQuery{Item: retention.Item{Kind: "x", ID: "y"}})
	assert.ErrorIs(t, err, retention.ErrInvalid, "list by a bad item")

	// The job: the released trajectory goes (including the sighting it gained), "lone" stays
	// while C-2 holds it even after C-1 lets go, and the held alert keeps it too.
	_, err = w.holds.Release(ctx, inv, audit.Case{Number: "C-1", Reason: "case closed by the court"})
	require.NoError(t, err)
	rep, err := w.job(nil).Once(ctx)
	require.NoError(t, err)
	for _, id := range []string{"a", "b", "c"} {
		assert.False(t, w.hasSighting(id), "released sighting %s kept", id)
	}
	assert.True(t, w.hasSighting("lone"), "sighting held by another case deleted")
	assert.True(t, w.hasAlert(al.ID), "held alert deleted")
	assert.Equal(t, 1, rep.Held.Alerts, "report: held %+v", rep.Held)
	assert.Equal(t, 3, rep.Deleted.UnlistedSightings, "report: deleted %+v", rep.Deleted)

	// Every hold and release is on record with its case number and reason.
	es, err := w.audit.List(ctx, audit.Filter{Case: "C-1"})
	require.NoError(t, err)
	var entries []string
	for _, e := range es {
		entries = append(entries, e.Action+" "+e.Target)
		assert.Equal(t, "inv1", e.Actor, "entry %+v", e)
		assert.Equal(t, "investigator", e.Role, "entry %+v", e)
		assert.NotEmpty(t, e.Reason, "entry %+v", e)
	}
	// Refused releases are not on record: they released nothing.
	require.Equal(t, []string{"case.hold 2 items", "case.hold sighting/lone", "case.release trajectory/c", "case.release case/C-1"}, entries, "audit")
	assert.Equal(t, "trajectory/b sighting/lone", es[0].Details["items"], "details %v", es[0].Details)
	assert.Equal(t, "2", es[0].Details["sightings_via_trajectories"], "details %v", es[0].Details)
}

func FuzzParseItem(f *testing.F) {
	for _, s := range []string{"alert/a-17", "sighting/cam1-1714550400000-7", "trajectory/x", "", "alert/", "/x", "person/p1",
		"sighting/a/b", "alert/\x00", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		it, err := retention.ParseItem(s)
		if err != nil {
			require.ErrorIs(t, err, retention.ErrInvalid, "%q", s)
			return
		}
		require.Equal(t, s, it.String(), "%q parsed as %+v", s, it)
		again, err := retention.ParseItem(it.String())
		require.NoError(t, err, "%q: round trip", s)
		require.Equal(t, it, again, "%q: round trip", s)
	})
}
