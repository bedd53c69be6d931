package alerts_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			require.NoError(t, err, "raise")
			require.True(t, created, "raise folded into an alert: %+v", a)
			require.Equal(t, alerts.Open, a.Status, "raised")
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
				if s.wantErr == nil {
					require.NoError(t, err, "step %d %s by %q", i, s.do, s.actor)
				} else {
					require.ErrorIs(t, err, s.wantErr, "step %d %s by %q", i, s.do, s.actor)
				}
				got, err := f.eng.Alert(ctx, a.ID)
				require.NoError(t, err)
				require.Equal(t, s.want, got.Status, "step %d %s: status", i, s.do)
			}
			// Every successful step is in the history with who and when, in order.
			got, err := f.eng.Alert(ctx, a.ID)
			require.NoError(t, err)
			nOK := 1 // raised
			for _, s := range tc.steps {
				if s.wantErr == nil {
					nOK++
				}
			}
			require.Len(t, got.History, nOK, "history: %+v", got.History)
			for i, ev := range got.History {
				assert.NotEmpty(t, ev.Actor, "history[%d] = %+v", i, ev)
				assert.False(t, ev.At.IsZero(), "history[%d] = %+v", i, ev)
				assert.Equal(t, a.ID, ev.AlertID, "history[%d]", i)
				if i > 0 {
					assert.Greater(t, ev.Seq, got.History[i-1].Seq, "history[%d] out of order", i)
				}
			}
		})
	}
}

func TestUnitStatusFollowsTheDispatch(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	f.addUnit(t, "u1", 100)
	ctx := t.Context()
	a := f.raise(t, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	_, err := f.eng.Confirm(ctx, a.ID, "olga")
	require.NoError(t, err)
	_, err = f.eng.Dispatch(ctx, a.ID, "olga")
	require.NoError(t, err)
	_, err = f.eng.Acknowledge(ctx, a.ID, "u1")
	require.NoError(t, err)
	u, err := f.reg.Unit(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, dispatch.Busy, u.Status, "unit after acknowledging")
	// A second incident now cannot get u1: only the supervisors are left.
	b := f.raise(t, alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camOak})
	b, err = f.eng.Dispatch(ctx, b.ID, "olga")
	require.NoError(t, err, "second dispatch")
	require.Equal(t, dispatch.SupervisorTarget, b.Dispatch.Asking().Kind, "second dispatch: %+v", b.Dispatch)
	_, err = f.eng.Resolve(ctx, a.ID, "u1", "home")
	require.NoError(t, err)
	u, err = f.reg.Unit(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, dispatch.Available, u.Status, "unit after resolving")
}

// TestFolding: repeated triggers for the same person and rule within the cooldown go into the open
// alert (moving its place, adding evidence), and open a new one only after the cooldown or once the
// alert is closed.
func TestFolding(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.Cooldown = 5 * time.Minute })
	ctx := t.Context()
	t0 := f.clock.Now()
	a, created, err := f.eng.Raise(ctx, f.hit(mia, camElm, t0, "s1", 0.62))
	require.NoError(t, err)
	require.True(t, created, "first trigger folded")
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
		require.NoError(t, err, "trigger %d", i)
		require.Equal(t, tc.created, created, "trigger %d opened a new alert", i)
		if !created {
			require.Equal(t, a.ID, got.ID, "trigger %d folded into", i)
		}
	}
	a, err = f.eng.Alert(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 4, a.Triggers, "folded alert's triggers")
	assert.WithinDuration(t, t0.Add(6*time.Minute), a.LastSeen, 0, "folded alert last seen")
	assert.Equal(t, "cam-elm", a.Place.Camera, "folded alert's place")
	assert.Equal(t, "cam-elm", a.FirstPlace.Camera, "folded alert's first place")
	assert.Equal(t, []string{"s1", "s2", "s4"}, a.Evidence.Sightings, "folded evidence")
	assert.Len(t, a.Evidence.Scores, 3, "folded evidence")
	assert.Equal(t, float32(0.74), a.Evidence.BestScore(), "folded evidence's best score")

	// Once closed, the next trigger opens a new alert even within the cooldown.
	all, err := f.eng.Alerts(ctx, alerts.Query{PersonID: "p-mia", Kinds: []alerts.Kind{alerts.WatchlistHit}, Statuses: []alerts.Status{alerts.Open}})
	require.NoError(t, err)
	for _, x := range all {
		_, err := f.eng.Dismiss(ctx, x.ID, "olga", "test")
		require.NoError(t, err)
	}
	_, created, err = f.eng.Raise(ctx, f.hit(mia, camElm, t0.Add(21*time.Minute), "s6", 0.7))
	require.NoError(t, err)
	assert.True(t, created, "trigger after dismissal folded into the dismissed alert")
	_, _, err = f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.WatchlistHit, At: t0, Place: camElm})
	assert.ErrorIs(t, err, alerts.ErrInvalid, "watch-list hit without a person")
	_, _, err = f.eng.Raise(ctx, alerts.Trigger{Kind: "fire", At: t0, Place: camElm})
	assert.ErrorIs(t, err, alerts.ErrInvalid, "unknown kind")
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
	a := f.raise(t, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	_, err := f.eng.Confirm(ctx, a.ID, "olga")
	require.NoError(t, err)
	a, err = f.eng.Dispatch(ctx, a.ID, "olga")
	require.NoError(t, err)
	want := []string{"u-150", "u-500", "elm-st", "north", "city"}
	for i, id := range want {
		require.Equal(t, id, a.Dispatch.Asking().ID, "step %d: asking", i)
		f.clock.Advance(59 * time.Second)
		n, err := f.eng.Escalate(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "step %d: escalated before the deadline", i)
		f.clock.Advance(time.Second)
		n, err = f.eng.Escalate(ctx)
		require.NoError(t, err, "step %d: escalate", i)
		require.Equal(t, 1, n, "step %d: alerts escalated", i)
		a, err = f.eng.Alert(ctx, a.ID)
		require.NoError(t, err)
	}
	assert.True(t, a.Dispatch.Exhausted, "after the city: %+v", a.Dispatch)
	assert.Equal(t, alerts.Dispatched, a.Status, "after the city")
	var steps []string
	for _, ev := range a.History {
		if ev.Action == alerts.ActDispatched || ev.Action == alerts.ActEscalated || ev.Action == alerts.ActExhausted {
			steps = append(steps, string(ev.Action)+":"+ev.Target)
		}
	}
	assert.Equal(t, []string{"dispatched:u-150", "escalated:u-500", "escalated:elm-st", "escalated:north", "escalated:city", "escalation_exhausted:city"},
		steps, "recorded steps")
	var receivers []string
	for _, m := range f.outbox(t) {
		if strings.HasPrefix(m.Topic, "dispatch.") {
			receivers = append(receivers, m.Topic+"@"+m.Receiver)
			n := notice(t, m)
			assert.False(t, n.AckDeadline.IsZero(), "%s: notice without a deadline", m.Receiver)
			assert.NotNil(t, n.Target, "%s: notice without a target", m.Receiver)
			assert.Equal(t, "cam-elm", n.Where.Camera, "%s: notice's camera", m.Receiver)
		}
	}
	assert.Equal(t, []string{"dispatch.request@app-u-150", "dispatch.request@app-u-500", "dispatch.escalation@cmd-elm",
		"dispatch.escalation@cmd-north", "dispatch.escalation@cmd-city"}, receivers, "notifications")
	// Nobody answered: the operator dispatches again, and the first unit (now answering) is asked anew.
	a, err = f.eng.Dispatch(ctx, a.ID, "olga")
	require.NoError(t, err, "re-dispatch")
	require.Equal(t, "u-150", a.Dispatch.Asking().ID, "re-dispatch asks")
	require.False(t, a.Dispatch.Exhausted, "re-dispatch exhausted: %+v", a.Dispatch)
	// A late acknowledgement stops escalation.
	f.clock.Advance(30 * time.Second)
	_, err = f.eng.Acknowledge(ctx, a.ID, "u-150")
	require.NoError(t, err)
	f.clock.Advance(10 * time.Minute)
	n, err := f.eng.Escalate(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "acknowledged dispatch escalated")
}

// TestGuardianNotices: confirming an at-risk person's alert notifies that person's guardians, and only
// them; the notice names only that person and carries no matching scores; suspects' "guardians" hear
// nothing.
func TestGuardianNotices(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	ctx := t.Context()
	am := f.raise(t, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	ao := f.raise(t, f.hit(otto, camOak, f.clock.Now(), "s2", 0.7))
	ar := f.raise(t, f.hit(rex, camOak, f.clock.Now(), "s3", 0.7))
	require.Empty(t, f.outbox(t), "notifications before anyone confirmed")
	_, err := f.eng.AttachEvidence(ctx, am.ID, alerts.Evidence{Snapshot: "snapshot/abc.jpg"})
	require.NoError(t, err)
	for _, id := range []string{am.ID, ar.ID} {
		_, err := f.eng.Confirm(ctx, id, "olga")
		require.NoError(t, err)
	}
	msgs := f.outbox(t)
	require.Len(t, msgs, 1, "notifications %+v", msgs)
	assert.Equal(t, "guardian-mia", msgs[0].Receiver)
	assert.Equal(t, "guardian.notice", msgs[0].Topic)
	n := notice(t, msgs[0])
	if assert.NotNil(t, n.Person, "guardian notice names nobody") {
		assert.Equal(t, "p-mia", n.Person.ID, "guardian notice's person")
		assert.Empty(t, n.Person.Category, "guardian notice tells the watch-list category")
	}
	assert.Equal(t, "Elm St / 5th", n.Where.Name, "guardian notice's place")
	assert.WithinDuration(t, am.LastSeen, n.When, 0, "guardian notice's time")
	assert.Equal(t, "https://console.example/alerts/"+am.ID, n.AlertURL)
	assert.Equal(t, "https://console.example/api/v1/alerts/"+am.ID+"/snapshot", n.SnapshotURL)
	for _, leak := range []string{"p-otto", "Otto", "0.7", "score", ao.ID, "face/"} {
		assert.NotContains(t, string(msgs[0].Payload), leak, "guardian notice leaks")
	}
	// Confirming again cannot queue a second notice (the alert is no longer open, and keys are unique).
	_, err = f.eng.Confirm(ctx, am.ID, "piet")
	assert.ErrorIs(t, err, alerts.ErrTransition, "second confirm")
}

func TestDismissFeedsMatching(t *testing.T) {
	f := newFixture(t, "", nil)
	ctx := t.Context()
	a := f.raise(t, f.hit(rex, camElm, f.clock.Now(), "s1", 0.57))
	c := f.raise(t, alerts.Trigger{Kind: alerts.CameraTampered, At: f.clock.Now(), Place: camElm})
	_, err := f.eng.Dismiss(ctx, a.ID, "olga", "different person: glasses")
	require.NoError(t, err)
	_, err = f.eng.Dismiss(ctx, c.ID, "olga", "cleaning crew")
	require.NoError(t, err)
	require.Len(t, f.dismissed, 1, "matching feedback got %+v", f.dismissed)
	d := f.dismissed[0]
	assert.Equal(t, a.ID, d.ID, "matching feedback")
	if assert.NotNil(t, d.Closed, "matching feedback of an open alert") {
		assert.Equal(t, "different person: glasses", d.Closed.Reason, "matching feedback")
	}
	if assert.NotEmpty(t, d.Evidence.FaceCrops, "matching feedback without face crops") {
		assert.Equal(t, "face/s1.jpg", d.Evidence.FaceCrops[0], "matching feedback")
	}
}

// TestStreamEvents: every committed step is published in order with its Seq as the stream id, and
// Replay returns the same events after a given id, so a console that reconnects misses nothing.
func TestStreamEvents(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	ctx := t.Context()
	a := f.raise(t, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	f.raise(t, f.hit(mia, camOak, f.clock.Now(), "s2", 0.7))
	_, err := f.eng.Confirm(ctx, a.ID, "olga")
	require.NoError(t, err)
	_, err = f.eng.AttachEvidence(ctx, a.ID, alerts.Evidence{Clip: "clip/x.mp4"})
	require.NoError(t, err)
	require.Len(t, f.published, 4, "published events")
	for i, ev := range f.published {
		se := alerts.StreamEvent(ev)
		assert.Equal(t, alerts.StreamType, se.Type, "published[%d]", i)
		assert.Equal(t, ev.Seq, se.ID, "published[%d]: stream id", i)
		if i > 0 {
			assert.Greater(t, ev.Seq, f.published[i-1].Seq, "published[%d] out of order", i)
		}
		require.NotNil(t, ev.Alert, "published[%d] = %+v", i, ev)
		assert.Equal(t, a.ID, ev.Alert.ID, "published[%d]", i)
	}
	last := f.published[3]
	assert.Equal(t, "clip/x.mp4", last.Alert.Evidence.Clip, "last snapshot")
	assert.Equal(t, alerts.Confirmed, last.Alert.Status, "last snapshot")
	replayed, err := f.eng.Replay(ctx, f.published[1].Seq, 100)
	require.NoError(t, err)
	// What a console receives on resume is what it would have received live.
	asJSON := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	require.Len(t, replayed, 2, "replay after %d: %+v", f.published[1].Seq, replayed)
	assert.Equal(t, f.published[2].Seq, replayed[0].ID, "replay after %d", f.published[1].Seq)
	assert.Equal(t, asJSON(f.published[3]), asJSON(replayed[1].Data), "replay after %d", f.published[1].Seq)
}

func TestDispatchChosenUnit(t *testing.T) {
	f := newFixture(t, "", func(o *alerts.Options) { o.TwoPersonRule = false })
	f.addUnit(t, "u1", 100)
	f.addUnit(t, "u2", 500)
	f.addUnit(t, "u3", 50)
	ctx := t.Context()
	_, err := f.reg.SetStatus(ctx, "u3", dispatch.Busy)
	require.NoError(t, err)
	a := f.raise(t, alerts.Trigger{Kind: alerts.Loitering, At: f.clock.Now(), Place: camElm})
	_, err = f.eng.DispatchUnit(ctx, a.ID, "olga", "u3")
	assert.ErrorIs(t, err, alerts.ErrInvalid, "dispatch to a busy unit")
	_, err = f.eng.DispatchUnit(ctx, a.ID, "olga", "ghost")
	assert.ErrorIs(t, err, dispatch.ErrUnknownUnit, "dispatch to an unknown unit")
	a, err = f.eng.DispatchUnit(ctx, a.ID, "olga", "u2")
	require.NoError(t, err)
	var ids []string
	for _, tg := range a.Dispatch.Targets {
		ids = append(ids, tg.ID)
	}
	assert.Equal(t, []string{"u2", "u1", "elm-st", "north", "city"}, ids, "targets")
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
	a := f.raise(t, alerts.Trigger{Kind: alerts.Loitering, At: f.clock.Now(), Place: camElm})
	a, err := f.eng.DispatchUnit(ctx, a.ID, "olga", "u2")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(a.Dispatch.Targets), 2, "targets %+v", a.Dispatch.Targets)
	for i, want := range []float64{500, 100} {
		tg := a.Dispatch.Targets[i]
		assert.Equal(t, dispatch.RoadRoute, tg.Route, "target %d (%s)", i, tg.ID)
		assert.InDelta(t, 2*geo.Distance(elmPos, metresNorth(want)), tg.Distance, 0.01, "target %d (%s) metres", i, tg.ID)
	}
}
