package dispatch_test

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"snowlight/alerts/dispatch"
	"snowlight/geo"
	"snowlight/store"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b geo.LatLon
		want float64 // metres
		tol  float64
	}{
		{"same point", geo.LatLon{Lat: 48.2, Lon: 16.37}, geo.LatLon{Lat: 48.2, Lon: 16.37}, 0, 1e-9},
		{"one degree of latitude", geo.LatLon{Lat: 0, Lon: 0}, geo.LatLon{Lat: 1, Lon: 0}, 111195, 1},
		{"one degree of longitude at 60N is half", geo.LatLon{Lat: 60, Lon: 0}, geo.LatLon{Lat: 60, Lon: 1}, 55597, 10},
		{"Paris to London", geo.LatLon{Lat: 48.8566, Lon: 2.3522}, geo.LatLon{Lat: 51.5074, Lon: -0.1278}, 343_556, 500},
		{"antipodes", geo.LatLon{Lat: 0, Lon: 0}, geo.LatLon{Lat: 0, Lon: 180}, math.Pi * 6371008.8, 1},
		{"across the date line", geo.LatLon{Lat: 0, Lon: 179.999}, geo.LatLon{Lat: 0, Lon: -179.999}, 222.4, 0.5},
	}
	for _, tc := range tests {
		if got := geo.Distance(tc.a, tc.b); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: %.1f m, want %.1f ± %.1f", tc.name, got, tc.want, tc.tol)
		}
	}
}

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
	if err := grid().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]dispatch.Areas{
		"unknown level":    {"a": {ID: "a", Level: "block"}},
		"missing parent":   {"a": {ID: "a", Level: dispatch.Street, Parent: "nowhere"}},
		"parent not above": {"a": {ID: "a", Level: dispatch.District, Parent: "b"}, "b": {ID: "b", Level: dispatch.Street, Parent: "a"}},
		"city with parent": {"c": {ID: "c", Level: dispatch.City, Parent: "c"}},
		"id mismatch":      {"a": {ID: "b", Level: dispatch.City}},
	}
	for name, as := range bad {
		if err := as.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	chain := grid().Chain("elm-st")
	if len(chain) != 3 || chain[0].ID != "elm-st" || chain[1].ID != "north" || chain[2].ID != "city" {
		t.Fatalf("chain %v", chain)
	}
}

func newRegistry(t *testing.T, now *time.Time) *dispatch.Registry {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := dispatch.NewRegistry(db, grid(), func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
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
		if err := r.Register(ctx, dispatch.Unit{ID: u.id, Name: "Unit " + u.id, Area: "elm-st", Receiver: "app-" + u.id}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(-u.age)
		if _, err := r.UpdatePosition(ctx, u.id, north(u.at)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(u.age)
		if _, err := r.SetStatus(ctx, u.id, u.status); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := r.Plan(ctx, dispatch.Incident{Position: elm, Area: "elm-st"}, dispatch.PlanOptions{MaxUnits: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"u-near", "u-mid", "u-next", "elm-st", "north", "city"}
	if len(plan) != len(want) {
		t.Fatalf("plan %+v", plan)
	}
	for i, id := range want {
		if plan[i].ID != id {
			t.Fatalf("plan[%d] = %s, want %s (plan %+v)", i, plan[i].ID, id, plan)
		}
	}
	if d := plan[0].Distance; math.Abs(d-300) > 1 {
		t.Errorf("nearest unit at %.1f m, want 300", d)
	}
	if plan[3].Kind != dispatch.SupervisorTarget || plan[3].Level != dispatch.Street || plan[5].Level != dispatch.City || plan[5].Receiver != "cmd-city" {
		t.Errorf("supervisor chain %+v", plan[3:])
	}

	// A street with nobody on duty escalates straight to its district; a camera outside the grid to the city.
	plan, _ = r.Plan(ctx, dispatch.Incident{Position: elm, Area: "quiet-st"}, dispatch.PlanOptions{MaxUnits: 1})
	if len(plan) != 3 || plan[1].ID != "north" {
		t.Errorf("quiet street plan %+v", plan)
	}
	plan, _ = r.Plan(ctx, dispatch.Incident{Position: elm, Area: "unmapped"}, dispatch.PlanOptions{MaxUnits: 1})
	if len(plan) != 2 || plan[1].ID != "city" {
		t.Errorf("unmapped camera plan %+v", plan)
	}
	if _, err := r.Plan(ctx, dispatch.Incident{Position: geo.LatLon{Lat: 91}}, dispatch.PlanOptions{}); err == nil {
		t.Error("planned for a position off the globe")
	}
}

func TestRegistryValidation(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := newRegistry(t, &now)
	if err := r.Register(ctx, dispatch.Unit{ID: "u1", Area: "elm-st"}); err != nil {
		t.Fatal(err)
	}
	u, _ := r.Unit(ctx, "u1")
	if u.Status != dispatch.Offline {
		t.Errorf("new unit is %s, want offline until it reports", u.Status)
	}
	bad := []dispatch.Unit{{ID: "", Area: "elm-st"}, {ID: "u2", Area: "atlantis"}, {ID: "north", Area: "elm-st"}, {ID: "u3", Area: "elm-st", Status: "asleep"}}
	for _, b := range bad {
		if err := r.Register(ctx, b); err == nil {
			t.Errorf("registered %+v", b)
		}
	}
	if _, err := r.UpdatePosition(ctx, "u1", geo.LatLon{Lat: math.NaN()}); err == nil {
		t.Error("NaN position accepted")
	}
	if _, err := r.UpdatePosition(ctx, "ghost", elm); !errors.Is(err, dispatch.ErrUnknownUnit) {
		t.Errorf("position of unknown unit: %v", err)
	}
	if _, err := r.SetStatus(ctx, "u1", "sleeping"); err == nil {
		t.Error("bad status accepted")
	}
	// A late, older report does not move the unit back.
	r.UpdatePosition(ctx, "u1", north(100))
	now = now.Add(-time.Minute)
	r.UpdatePosition(ctx, "u1", north(5000))
	if u, _ := r.Unit(ctx, "u1"); math.Abs(geo.Distance(u.Position, north(100))) > 1 {
		t.Errorf("older report moved the unit to %+v", u.Position)
	}
}

func TestAssignmentEscalation(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	targets := []dispatch.Target{{Kind: dispatch.UnitTarget, ID: "u1"}, {Kind: dispatch.UnitTarget, ID: "u2"}, {Kind: dispatch.SupervisorTarget, ID: "elm-st"}}
	a, err := dispatch.NewAssignment(targets, t0, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
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
		if ok != s.escaped || a.Asking().ID != s.wantID {
			t.Fatalf("at %v: escalated %v, asking %s; want %v, %s", s.at, ok, a.Asking().ID, s.escaped, s.wantID)
		}
	}
	if _, err := a.Acknowledge("u9", t0.Add(95*time.Second)); !errors.Is(err, dispatch.ErrNotAsked) {
		t.Fatalf("ack by a unit never asked: %v", err)
	}
	// u1 answers late, after the supervisor was asked: still accepted (nearest help).
	if tg, err := a.Acknowledge("u1", t0.Add(95*time.Second)); err != nil || tg.ID != "u1" {
		t.Fatalf("late ack: %v %+v", err, tg)
	}
	if a.Due(t0.Add(time.Hour)) {
		t.Fatal("acknowledged assignment still due")
	}
	if _, err := a.Acknowledge("u2", t0.Add(96*time.Second)); err == nil {
		t.Fatal("second acknowledgement accepted")
	}

	b, _ := dispatch.NewAssignment(targets[:1], t0, time.Second)
	if _, ok := b.Escalate(t0.Add(time.Second)); ok || !b.Exhausted || b.Due(t0.Add(time.Hour)) {
		t.Fatalf("single-target assignment after its deadline: %+v", b)
	}
	if _, err := dispatch.NewAssignment(nil, t0, time.Second); !errors.Is(err, dispatch.ErrNobody) {
		t.Fatalf("empty assignment: %v", err)
	}
}
