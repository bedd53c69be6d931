package alerts_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/geo"
)

// TestLifecycle walks alerts through the state machine, step by step, checking each step's outcome.
func TestLifecycle(t *testing.T) {
	type step struct {
		do      string // confirm, dispatch, ack, arrive, resolve, dismiss
		actor   string
		wantErr error
		want    alerts.Status
	}
	tests := []struct {
		name    string
		trigger func(f *fixture) alerts.Trigger
		steps   []step
	}{
		{"face match, two-person rule, handled", func(f *fixture) alerts.Trigger { return f.hit(mia, camElm, f.clock.Now(), "s1", 0.71) }, []step{
			{"dispatch", "olga", alerts.ErrTransition, alerts.Open},
			{"resolve", "olga", alerts.ErrTransition, alerts.Open},
			{"ack", "u-near", alerts.ErrTransition, alerts.Open},
			{"confirm", "olga", nil, alerts.Open},
			{"confirm", "olga", alerts.ErrSameConfirmer, alerts.Open},
			{"dispatch", "olga", alerts.ErrTransition, alerts.Open},
			{"confirm", "", alerts.ErrInvalid, alerts.Open},
			{"confirm", "piet", nil, alerts.Confirmed},
			{"arrive", "u-near", alerts.ErrTransition, alerts.Confirmed},
			{"dispatch", "piet", nil, alerts.Dispatched},
			{"arrive", "u-near", alerts.ErrTransition, alerts.Dispatched}, // nobody acknowledged yet
			{"ack", "u-far", dispatch.ErrNotAsked, alerts.Dispatched},
			{"ack", "u-near", nil, alerts.Dispatched},
			{"arrive", "u-near", nil, alerts.OnScene},
			{"resolve", "u-near", nil, alerts.Resolved},
			{"dismiss", "olga", alerts.ErrTransition, alerts.Resolved},
			{"confirm", "zoe", alerts.ErrTransition, alerts.Resolved},
		}},
		{"face match dismissed as a false match", func(f *fixture) alerts.Trigger { return f.hit(rex, camElm, f.clock.Now(), "s2", 0.56) }, []step{
			{"dismiss", "olga", alerts.ErrInvalid, alerts.Open}, // no reason
			{"dismiss", "olga", nil, alerts.Dismissed},
			{"resolve", "olga", alerts.ErrTransition, alerts.Dismissed},
		}},
		{"camera offline needs no confirmation", func(f *fixture) alerts.Trigger {
			return alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camElm, Detail: "no frames for 30 s"}
		}, []step{
			{"resolve", "olga", nil, alerts.Resolved},
		}},
		{"loitering dispatched without confirmation", func(f *fixture) alerts.Trigger {
			return alerts.Trigger{Kind: alerts.Loitering, At: f.clock.Now(), Place: alerts.Place{Camera: "cam-elm", Position: elmPos, Area: "elm-st", Zone: "atm"}}
		}, []step{
			{"dispatch", "olga", nil, alerts.Dispatched},
			{"ack", "u-near", nil, alerts.Dispatched},
			{"dismiss", "u-near", nil, alerts.Dismissed},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "", nil)
			f.addUnit(t, "u-near", 200)
			f.addUnit(t, "u-far", 3000)
			ctx := t.Context()
			a, created, err := f.eng.Raise(ctx, tc.trigger(f))
			if err != nil || !created || a.Status != alerts.Open {
				t.Fatalf("raise: %v %v %+v", err, created, a)
			}
			for i, s := range tc.steps {
				f.clock.Advance(time.Second)
				var err error
				switch s.do {
				case "confirm":
					_, err = f.eng.Confirm(ctx, a.ID, s.actor)
				case "dispatch":
					_, err = f.eng.Dispatch(ctx, a.ID, s.actor)
				case "ack":
					_, err = f.eng.Acknowledge(ctx, a.ID, s.actor)
				case "arrive":
					_, err = f.eng.Arrive(ctx, a.ID, s.actor)
				case "resolve":
					_, err = f.eng.Resolve(ctx, a.ID, s.actor, "brought home")
				case "dismiss":
					reason := "not her: similar coat"
					if i == 0 && strings.Contains(tc.name, "false match") {
						reason = ""
					}
					_, err = f.eng.Dismiss(ctx, a.ID, s.actor, reason)
				}
				if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d %s by %q: error %v, want %v", i, s.do, s.actor, err, s.wantErr)
				}
				got, err := f.eng.Alert(ctx, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != s.want {
					t.Fatalf("step %d %s: status %s, want %s", i, s.do, got.Status, s.want)
				}
			}
			// Every successful step is in the history with who and when, in order.
			got, _ := f.eng.Alert(ctx, a.ID)
			nOK := 1 // raised
			for _, s := range tc.steps {
				if s.wantErr == nil {
					nOK++
				}
			}
			if len(got.History) != nOK {
				t.Fatalf("history has %d events, want %d: %+v", len(got.History), nOK, got.History)
			}
			for i, ev := range got.History {
				if ev.Actor == "" || ev.At.IsZero() || ev.AlertID != a.ID || i > 0 && ev.Seq <= got.History[i-1].Seq {
					t.Errorf("history[%d] = %+v", i, ev)
				}
			}
		})
	}
}

func TestUnitStatusFollowsTheDispatch(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	f.addUnit(t, "u1", 100)
	ctx := t.Context()
	a, _, _ := f.eng.Raise(ctx, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	f.eng.Confirm(ctx, a.ID, "olga")
	if _, err := f.eng.Dispatch(ctx, a.ID, "olga"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Acknowledge(ctx, a.ID, "u1"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.reg.Unit(ctx, "u1"); u.Status != dispatch.Busy {
		t.Fatalf("unit is %s after acknowledging, want busy", u.Status)
	}
	// A second incident now cannot get u1: only the supervisors are left.
	b, _, _ := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camOak})
	b, err := f.eng.Dispatch(ctx, b.ID, "olga")
	if err != nil || b.Dispatch.Asking().Kind != dispatch.SupervisorTarget {
		t.Fatalf("second dispatch: %v %+v", err, b.Dispatch)
	}
	if _, err := f.eng.Resolve(ctx, a.ID, "u1", "home"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.reg.Unit(ctx, "u1"); u.Status != dispatch.Available {
		t.Fatalf("unit is %s after resolving, want available", u.Status)
	}
}

// TestFolding: repeated triggers for the same person and rule within the cooldown go into the open
// alert (moving its place, adding evidence), and open a new one only after the cooldown or once the
// alert is closed.
func TestFolding(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.Cooldown = 5 * time.Minute })
	ctx := t.Context()
	t0 := f.clock.Now()
	a, created, err := f.eng.Raise(ctx, f.hit(mia, camElm, t0, "s1", 0.62))
	if err != nil || !created {
		t.Fatal(err, created)
	}
	for i, tc := range []struct {
		trigger alerts.Trigger
		created bool
	}{
		{f.hit(mia, camOak, t0.Add(2*time.Minute), "s2", 0.74), false},                        // same person, another camera
		{f.hit(mia, camOak, t0.Add(2*time.Minute), "s2", 0.74), false},                        // the same sighting again
		{f.hit(otto, camElm, t0.Add(3*time.Minute), "s3", 0.70), true},                        // another person
		{alerts.Trigger{Kind: alerts.SafeZoneExit, At: t0, Person: mia, Place: camOak}, true}, // another rule
		{f.hit(mia, camElm, t0.Add(6*time.Minute), "s4", 0.66), false},                        // within 5 min of the last (2 min)
		{f.hit(mia, camElm, t0.Add(20*time.Minute), "s5", 0.66), true},                        // 14 min later: new alert
	} {
		got, created, err := f.eng.Raise(ctx, tc.trigger)
		if err != nil || created != tc.created {
			t.Fatalf("trigger %d: created %v (%v), want %v", i, created, err, tc.created)
		}
		if !created && got.ID != a.ID {
			t.Fatalf("trigger %d folded into %s, want %s", i, got.ID, a.ID)
		}
	}
	a, _ = f.eng.Alert(ctx, a.ID)
	if a.Triggers != 4 || !a.LastSeen.Equal(t0.Add(6*time.Minute)) || a.Place.Camera != "cam-elm" || a.FirstPlace.Camera != "cam-elm" {
		t.Fatalf("folded alert: triggers %d, last seen %v, place %s", a.Triggers, a.LastSeen, a.Place.Camera)
	}
	if strings.Join(a.Evidence.Sightings, ",") != "s1,s2,s4" || len(a.Evidence.Scores) != 3 || a.Evidence.BestScore() != 0.74 {
		t.Fatalf("folded evidence %+v", a.Evidence)
	}

	// Once closed, the next trigger opens a new alert even within the cooldown.
	all, _ := f.eng.Alerts(ctx, alerts.Query{PersonID: "p-mia", Kinds: []alerts.Kind{alerts.WatchlistHit}, Statuses: []alerts.Status{alerts.Open}})
	for _, x := range all {
		if _, err := f.eng.Dismiss(ctx, x.ID, "olga", "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, created, _ := f.eng.Raise(ctx, f.hit(mia, camElm, t0.Add(21*time.Minute), "s6", 0.7)); !created {
		t.Fatal("trigger after dismissal folded into the dismissed alert")
	}
	if _, _, err := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.WatchlistHit, At: t0, Place: camElm}); !errors.Is(err, alerts.ErrInvalid) {
		t.Fatalf("watch-list hit without a person: %v", err)
	}
	if _, _, err := f.eng.Raise(ctx, alerts.Trigger{Kind: "fire", At: t0, Place: camElm}); !errors.Is(err, alerts.ErrInvalid) {
		t.Fatalf("unknown kind: %v", err)
	}
}

// TestEscalation drives a dispatch with the clock: nobody acknowledges, so the next nearest unit is
// asked after the timeout, then the street's centre, the district, the city; each step is recorded
// and each target gets its notification.
func TestEscalation(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) {
		o.TwoPersonRule = false
		o.Plan = dispatch.PlanOptions{MaxUnits: 2}
	})
	f.addUnit(t, "u-500", 500)
	f.addUnit(t, "u-150", 150)
	f.addUnit(t, "u-900", 900) // third nearest: beyond MaxUnits
	ctx := t.Context()
	a, _, _ := f.eng.Raise(ctx, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	f.eng.Confirm(ctx, a.ID, "olga")
	a, err := f.eng.Dispatch(ctx, a.ID, "olga")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"u-150", "u-500", "elm-st", "north", "city"}
	for i, id := range want {
		if a.Dispatch.Asking().ID != id {
			t.Fatalf("step %d: asking %s, want %s", i, a.Dispatch.Asking().ID, id)
		}
		f.clock.Advance(59 * time.Second)
		if n, _ := f.eng.Escalate(ctx); n != 0 {
			t.Fatalf("escalated before the deadline")
		}
		f.clock.Advance(time.Second)
		if n, err := f.eng.Escalate(ctx); err != nil || n != 1 {
			t.Fatalf("step %d: escalate %d, %v", i, n, err)
		}
		a, _ = f.eng.Alert(ctx, a.ID)
	}
	if !a.Dispatch.Exhausted || a.Status != alerts.Dispatched {
		t.Fatalf("after the city: %+v", a.Dispatch)
	}
	var steps []string
	for _, ev := range a.History {
		if ev.Action == alerts.ActDispatched || ev.Action == alerts.ActEscalated || ev.Action == alerts.ActExhausted {
			steps = append(steps, string(ev.Action)+":"+ev.Target)
		}
	}
	if got := strings.Join(steps, " "); got != "dispatched:u-150 escalated:u-500 escalated:elm-st escalated:north escalated:city escalation_exhausted:city" {
		t.Fatalf("recorded steps: %s", got)
	}
	var receivers []string
	for _, m := range f.outbox(t) {
		if strings.HasPrefix(m.Topic, "dispatch.") {
			receivers = append(receivers, m.Topic+"@"+m.Receiver)
			if n := notice(t, m); n.AckDeadline.IsZero() || n.Target == nil || n.Where.Camera != "cam-elm" {
				t.Errorf("%s: notice %+v", m.Receiver, n)
			}
		}
	}
	if got := strings.Join(receivers, " "); got != "dispatch.request@app-u-150 dispatch.request@app-u-500 dispatch.escalation@cmd-elm dispatch.escalation@cmd-north dispatch.escalation@cmd-city" {
		t.Fatalf("notifications: %s", got)
	}
	// Nobody answered: the operator dispatches again, and the first unit (now answering) is asked anew.
	a, err = f.eng.Dispatch(ctx, a.ID, "olga")
	if err != nil || a.Dispatch.Asking().ID != "u-150" || a.Dispatch.Exhausted {
		t.Fatalf("re-dispatch: %v %+v", err, a.Dispatch)
	}
	// A late acknowledgement stops escalation.
	f.clock.Advance(30 * time.Second)
	if _, err := f.eng.Acknowledge(ctx, a.ID, "u-150"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	if n, _ := f.eng.Escalate(ctx); n != 0 {
		t.Fatal("acknowledged dispatch escalated")
	}
}

// TestGuardianNotices: confirming an at-risk person's alert notifies that person's guardians, and only
// them; the notice names only that person and carries no matching scores; suspects' "guardians" hear
// nothing.
func TestGuardianNotices(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	ctx := t.Context()
	am, _, _ := f.eng.Raise(ctx, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	ao, _, _ := f.eng.Raise(ctx, f.hit(otto, camOak, f.clock.Now(), "s2", 0.7))
	ar, _, _ := f.eng.Raise(ctx, f.hit(rex, camOak, f.clock.Now(), "s3", 0.7))
	if len(f.outbox(t)) != 0 {
		t.Fatal("notifications before anyone confirmed")
	}
	f.eng.AttachEvidence(ctx, am.ID, alerts.Evidence{Snapshot: "snapshot/abc.jpg"})
	for _, id := range []string{am.ID, ar.ID} {
		if _, err := f.eng.Confirm(ctx, id, "olga"); err != nil {
			t.Fatal(err)
		}
	}
	msgs := f.outbox(t)
	if len(msgs) != 1 || msgs[0].Receiver != "guardian-mia" || msgs[0].Topic != "guardian.notice" {
		t.Fatalf("notifications %+v", msgs)
	}
	n := notice(t, msgs[0])
	if n.Person == nil || n.Person.ID != "p-mia" || n.Person.Category != "" || n.Where.Name != "Elm St / 5th" || !n.When.Equal(am.LastSeen) ||
		n.AlertURL != "https://console.example/alerts/"+am.ID || n.SnapshotURL != "https://console.example/api/v1/alerts/"+am.ID+"/snapshot" {
		t.Fatalf("guardian notice %+v", n)
	}
	for _, leak := range []string{"p-otto", "Otto", "0.7", "score", ao.ID, "face/"} {
		if strings.Contains(string(msgs[0].Payload), leak) {
			t.Errorf("guardian notice contains %q: %s", leak, msgs[0].Payload)
		}
	}
	// Confirming again cannot queue a second notice (the alert is no longer open, and keys are unique).
	if _, err := f.eng.Confirm(ctx, am.ID, "piet"); !errors.Is(err, alerts.ErrTransition) {
		t.Fatalf("second confirm: %v", err)
	}
}

func TestDismissFeedsMatching(t *testing.T) {
	f := newFixture(t, "", nil)
	ctx := t.Context()
	a, _, _ := f.eng.Raise(ctx, f.hit(rex, camElm, f.clock.Now(), "s1", 0.57))
	c, _, _ := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.CameraTampered, At: f.clock.Now(), Place: camElm})
	f.eng.Dismiss(ctx, a.ID, "olga", "different person: glasses")
	f.eng.Dismiss(ctx, c.ID, "olga", "cleaning crew")
	if len(f.dismissed) != 1 || f.dismissed[0].ID != a.ID || f.dismissed[0].Closed.Reason != "different person: glasses" ||
		f.dismissed[0].Evidence.FaceCrops[0] != "face/s1.jpg" {
		t.Fatalf("matching feedback got %+v", f.dismissed)
	}
}

// TestStreamEvents: every committed step is published in order with its Seq as the stream id, and
// Replay returns the same events after a given id, so a console that reconnects misses nothing.
func TestStreamEvents(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	ctx := t.Context()
	a, _, _ := f.eng.Raise(ctx, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	f.eng.Raise(ctx, f.hit(mia, camOak, f.clock.Now(), "s2", 0.7))
	f.eng.Confirm(ctx, a.ID, "olga")
	f.eng.AttachEvidence(ctx, a.ID, alerts.Evidence{Clip: "clip/x.mp4"})
	if len(f.published) != 4 {
		t.Fatalf("published %d events, want 4", len(f.published))
	}
	for i, ev := range f.published {
		se := alerts.StreamEvent(ev)
		if se.Type != alerts.StreamType || se.ID != ev.Seq || i > 0 && ev.Seq <= f.published[i-1].Seq || ev.Alert == nil || ev.Alert.ID != a.ID {
			t.Fatalf("published[%d] = %+v", i, ev)
		}
	}
	last := f.published[3]
	if last.Alert.Evidence.Clip != "clip/x.mp4" || last.Alert.Status != alerts.Confirmed {
		t.Fatalf("last snapshot %+v", last.Alert)
	}
	replayed, err := f.eng.Replay(ctx, f.published[1].Seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	// What a console receives on resume is what it would have received live.
	asJSON := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	if len(replayed) != 2 || replayed[0].ID != f.published[2].Seq || asJSON(replayed[1].Data) != asJSON(f.published[3]) {
		t.Fatalf("replay after %d: %+v", f.published[1].Seq, replayed)
	}
}

func TestDispatchChosenUnit(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	f.addUnit(t, "u1", 100)
	f.addUnit(t, "u2", 500)
	f.addUnit(t, "u3", 50)
	ctx := t.Context()
	f.reg.SetStatus(ctx, "u3", dispatch.Busy)
	a, _, _ := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.Loitering, At: f.clock.Now(), Place: camElm})
	if _, err := f.eng.DispatchUnit(ctx, a.ID, "olga", "u3"); !errors.Is(err, alerts.ErrInvalid) {
		t.Fatalf("dispatch to a busy unit: %v", err)
	}
	if _, err := f.eng.DispatchUnit(ctx, a.ID, "olga", "ghost"); !errors.Is(err, dispatch.ErrUnknownUnit) {
		t.Fatalf("dispatch to an unknown unit: %v", err)
	}
	a, err := f.eng.DispatchUnit(ctx, a.ID, "olga", "u2")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tg := range a.Dispatch.Targets {
		ids = append(ids, tg.ID)
	}
	if got := strings.Join(ids, " "); got != "u2 u1 elm-st north city" {
		t.Fatalf("targets %s", got)
	}
}

// doubling is a router that measures every way as twice the straight line.
type doubling struct{}

func (doubling) Travel(_ context.Context, to geo.LatLon, from []geo.LatLon) ([]dispatch.Travel, error) {
	out := make([]dispatch.Travel, len(from))
	for i, p := range from {
		out[i] = dispatch.Travel{Metres: 2 * geo.Distance(p, to), Route: dispatch.RoadRoute}
	}
	return out, nil
}

func TestDispatchChosenUnitByRoad(t *testing.T) {
	// The chosen unit is beyond the plan's one unit; the router still measures it.
	f := newFixture(t, "", func(o *alerts.Options) {
		o.TwoPersonRule = false
		o.Plan = dispatch.PlanOptions{MaxUnits: 1, Router: doubling{}}
	})
	f.addUnit(t, "u1", 100)
	f.addUnit(t, "u2", 500)
	ctx := t.Context()
	a, _, _ := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.Loitering, At: f.clock.Now(), Place: camElm})
	a, err := f.eng.DispatchUnit(ctx, a.ID, "olga", "u2")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{500, 100} {
		tg := a.Dispatch.Targets[i]
		if d := 2 * geo.Distance(elmPos, metresNorth(want)); tg.Route != dispatch.RoadRoute || math.Abs(tg.Distance-d) > 0.01 {
			t.Errorf("target %d: %s %.1f m by %q, want %.1f m by road", i, tg.ID, tg.Distance, tg.Route, d)
		}
	}
}
