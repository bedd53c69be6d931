package dispatch_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts/dispatch"
	"snowlight/geo"
	"snowlight/store"
)

func grid() dispatch.Areas {
	return dispatch.Areas{
		"city":      {ID: "city", Name: "City", Level: dispatch.City, Supervisor: "City command centre", Receiver: "cmd-city"},
		"north":     {ID: "north", Name: "North district", Level: dispatch.District, Parent: "city", Supervisor: "North duty officer", Receiver: "cmd-north"},
		"elm-st":    {ID: "elm-st", Name: "Elm Street", Level: dispatch.Street, Parent: "north", Supervisor: "Elm Street centre", Receiver: "cmd-elm"},
		"quiet-st":  {ID: "quiet-st", Name: "Quiet Street", Level: dispatch.Street, Parent: "north"}, // nobody on duty
		"south":     {ID: "south", Name: "South district", Level: dispatch.District, Parent: "city"},
		"harbour-s": {ID: "harbour-s", Name: "Harbour", Level: dispatch.Street, Parent: "city"}, // skips a level: allowed
	}
}

func TestAreasValidate(t *testing.T) {
	require.NoError(t, grid().Validate())
	bad := map[string]dispatch.Areas{
		"unknown level":    {"a": {ID: "a", Level: "block"}},
		"missing parent":   {"a": {ID: "a", Level: dispatch.Street, Parent: "nowhere"}},
		"parent not above": {"a": {ID: "a", Level: dispatch.District, Parent: "b"}, "b": {ID: "b", Level: dispatch.Street, Parent: "a"}},
		"city with parent": {"c": {ID: "c", Level: dispatch.City, Parent: "c"}},
		"id mismatch":      {"a": {ID: "b", Level: dispatch.City}},
	}
	for name, as := range bad {
		assert.Error(t, as.Validate(), "%s: accepted", name)
	}
	var chain []string
	for _, a := range grid().Chain("elm-st") {
		chain = append(chain, a.ID)
	}
	assert.Equal(t, []string{"elm-st", "north", "city"}, chain, "chain of elm-st")
}

// ids lists the targets of a plan.
func ids(plan []dispatch.Target) []string {
	var out []string
	for _, p := range plan {
		out = append(out, p.ID)
	}
	return out
}

func newRegistry(t *testing.T, now *time.Time) *dispatch.Registry {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	r, err := dispatch.NewRegistry(db, grid(), func() time.Time { return *now })
	require.NoError(t, err)
	return r
}

// elm is the incident position: a camera on Elm Street. Units are placed at known distances north of it
// (0.001 degrees of latitude is 111 m).
var elm = geo.LatLon{Lat: 48.2000, Lon: 16.3700}

func north(m float64) geo.LatLon { return geo.LatLon{Lat: elm.Lat + m/111195, Lon: elm.Lon} }

func TestPlanNearestAvailableThenUpTheGrid(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := newRegistry(t, &now)
	units := []struct {
		id     string
		at     float64 // metres from the incident
		status dispatch.Status
		age    time.Duration // of its position
	}{
		{"u-far", 2000, dispatch.Available, 0},
		{"u-near", 300, dispatch.Available, 0},
		{"u-busy", 50, dispatch.Busy, 0},
		{"u-off", 10, dispatch.Offline, 0},
		{"u-stale", 100, dispatch.Available, time.Hour},
		{"u-mid", 900, dispatch.Available, time.Minute},
		{"u-next", 1500, dispatch.Available, 0},
	}
	for _, u := range units {
		require.NoError(t, r.Register(ctx, dispatch.Unit{ID: u.id, Name: "Unit " + u.id, Area: "elm-st", Receiver: "app-" + u.id}))
		now = now.Add(-u.age)
		_, err := r.UpdatePosition(ctx, u.id, north(u.at))
		require.NoError(t, err)
		now = now.Add(u.age)
		_, err = r.SetStatus(ctx, u.id, u.status)
		require.NoError(t, err)
	}
	plan, err := r.Plan(ctx, dispatch.Incident{Position: elm, Area: "elm-st"}, dispatch.PlanOptions{MaxUnits: 3})
	require.NoError(t, err)
	require.Equal(t, []string{"u-near", "u-mid", "u-next", "elm-st", "north", "city"}, ids(plan), "plan %+v", plan)
	assert.InDelta(t, 300, plan[0].Distance, 1, "metres to the nearest unit")
	assert.Equal(t, dispatch.SupervisorTarget, plan[3].Kind, "supervisor chain %+v", plan[3:])
	assert.Equal(t, dispatch.Street, plan[3].Level, "supervisor chain %+v", plan[3:])
	assert.Equal(t, dispatch.City, plan[5].Level, "supervisor chain %+v", plan[3:])
	assert.Equal(t, "cmd-city", plan[5].Receiver, "supervisor chain %+v", plan[3:])

	// A street with nobody on duty escalates straight to its district; a camera outside the grid to the city.
	plan, err = r.Plan(ctx, dispatch.Incident{Position: elm, Area: "quiet-st"}, dispatch.PlanOptions{MaxUnits: 1})
	require.NoError(t, err)
	if assert.Len(t, plan, 3, "quiet street plan %+v", plan) {
		assert.Equal(t, "north", plan[1].ID, "quiet street plan %+v", plan)
	}
	plan, err = r.Plan(ctx, dispatch.Incident{Position: elm, Area: "unmapped"}, dispatch.PlanOptions{MaxUnits: 1})
	require.NoError(t, err)
	if assert.Len(t, plan, 2, "unmapped camera plan %+v", plan) {
		assert.Equal(t, "city", plan[1].ID, "unmapped camera plan %+v", plan)
	}
	_, err = r.Plan(ctx, dispatch.Incident{Position: geo.LatLon{Lat: 91}}, dispatch.PlanOptions{})
	assert.Error(t, err, "planned for a position off the globe")
}

func TestRegistryValidation(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := newRegistry(t, &now)
	require.NoError(t, r.Register(ctx, dispatch.Unit{ID: "u1", Area: "elm-st"}))
	u, err := r.Unit(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, dispatch.Offline, u.Status, "a new unit is offline until it reports")
	bad := []dispatch.Unit{{ID: "", Area: "elm-st"}, {ID: "u2", Area: "atlantis"}, {ID: "north", Area: "elm-st"}, {ID: "u3", Area: "elm-st", Status: "asleep"}}
	for _, b := range bad {
		assert.Error(t, r.Register(ctx, b), "registered %+v", b)
	}
	_, err = r.UpdatePosition(ctx, "u1", geo.LatLon{Lat: math.NaN()})
	assert.Error(t, err, "NaN position accepted")
	_, err = r.UpdatePosition(ctx, "ghost", elm)
	assert.ErrorIs(t, err, dispatch.ErrUnknownUnit, "position of unknown unit")
	_, err = r.SetStatus(ctx, "u1", "sleeping")
	assert.Error(t, err, "bad status accepted")
	// A late, older report does not move the unit back.
	_, err = r.UpdatePosition(ctx, "u1", north(100))
	require.NoError(t, err)
	now = now.Add(-time.Minute)
	r.UpdatePosition(ctx, "u1", north(5000))
	u, err = r.Unit(ctx, "u1")
	require.NoError(t, err)
	assert.InDelta(t, 0, geo.Distance(u.Position, north(100)), 1, "older report moved the unit to %+v", u.Position)
}

func TestAssignmentEscalation(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	targets := []dispatch.Target{{Kind: dispatch.UnitTarget, ID: "u1"}, {Kind: dispatch.UnitTarget, ID: "u2"}, {Kind: dispatch.SupervisorTarget, ID: "elm-st"}}
	a, err := dispatch.NewAssignment(targets, t0, 30*time.Second)
	require.NoError(t, err)
	steps := []struct {
		at      time.Duration
		wantID  string // who is asked after Escalate at this time
		escaped bool
	}{
		{29 * time.Second, "u1", false},
		{30 * time.Second, "u2", true},
		{59 * time.Second, "u2", false},
		{60 * time.Second, "elm-st", true},
		{89 * time.Second, "elm-st", false},
	}
	for _, s := range steps {
		_, ok := a.Escalate(t0.Add(s.at))
		require.Equal(t, s.escaped, ok, "at %v: escalated", s.at)
		require.Equal(t, s.wantID, a.Asking().ID, "at %v: asking", s.at)
	}
	_, err = a.Acknowledge("u9", t0.Add(95*time.Second))
	require.ErrorIs(t, err, dispatch.ErrNotAsked, "ack by a unit never asked")
	// u1 answers late, after the supervisor was asked: still accepted (nearest help).
	tg, err := a.Acknowledge("u1", t0.Add(95*time.Second))
	require.NoError(t, err, "late ack")
	require.Equal(t, "u1", tg.ID, "late ack")
	require.False(t, a.Due(t0.Add(time.Hour)), "acknowledged assignment still due")
	_, err = a.Acknowledge("u2", t0.Add(96*time.Second))
	require.Error(t, err, "second acknowledgement accepted")

	b, err := dispatch.NewAssignment(targets[:1], t0, time.Second)
	require.NoError(t, err)
	_, ok := b.Escalate(t0.Add(time.Second))
	assert.False(t, ok, "single-target assignment escalated after its deadline")
	assert.True(t, b.Exhausted, "single-target assignment after its deadline: %+v", b)
	assert.False(t, b.Due(t0.Add(time.Hour)), "single-target assignment still due after its deadline")
	_, err = dispatch.NewAssignment(nil, t0, time.Second)
	assert.ErrorIs(t, err, dispatch.ErrNobody, "empty assignment")
}
