package alerts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"snowlight/alerts"
)

// TestLifecycleTable is the table of which step may follow which, for every status and step.
func TestLifecycleTable(t *testing.T) {
	const no = alerts.Status("") // the step is refused
	open, bio := alerts.Lifecycle{Status: alerts.Open}, alerts.Lifecycle{Status: alerts.Open, Biometric: true}
	confirmed := alerts.Lifecycle{Status: alerts.Confirmed, Biometric: true}
	dispatched := alerts.Lifecycle{Status: alerts.Dispatched}
	acked := alerts.Lifecycle{Status: alerts.Dispatched, Acked: true}
	exhausted := alerts.Lifecycle{Status: alerts.Dispatched, Exhausted: true}
	onScene := alerts.Lifecycle{Status: alerts.OnScene, Acked: true}
	resolved, dismissed := alerts.Lifecycle{Status: alerts.Resolved}, alerts.Lifecycle{Status: alerts.Dismissed}
	steps := []alerts.Action{alerts.ActConfirmed, alerts.ActDispatched, alerts.ActAcknowledged, alerts.ActOnScene, alerts.ActResolved, alerts.ActDismissed}
	tests := []struct {
		name string
		from alerts.Lifecycle
		to   []alerts.Status // per step, in the order of steps
	}{
		{"open", open, []alerts.Status{alerts.Confirmed, alerts.Dispatched, no, no, alerts.Resolved, alerts.Dismissed}},
		{"open face match", bio, []alerts.Status{alerts.Confirmed, no, no, no, no, alerts.Dismissed}},
		{"confirmed", confirmed, []alerts.Status{no, alerts.Dispatched, no, no, alerts.Resolved, alerts.Dismissed}},
		{"dispatched", dispatched, []alerts.Status{no, no, alerts.Dispatched, no, alerts.Resolved, alerts.Dismissed}},
		{"acknowledged", acked, []alerts.Status{no, no, alerts.Dispatched, alerts.OnScene, alerts.Resolved, alerts.Dismissed}},
		{"nobody answered", exhausted, []alerts.Status{no, alerts.Dispatched, alerts.Dispatched, no, alerts.Resolved, alerts.Dismissed}},
		{"on scene", onScene, []alerts.Status{no, no, no, no, alerts.Resolved, alerts.Dismissed}},
		{"resolved", resolved, []alerts.Status{no, no, no, no, no, no}},
		{"dismissed", dismissed, []alerts.Status{no, no, no, no, no, no}},
	}
	for _, tc := range tests {
		for i, act := range steps {
			got, err := tc.from.Next(act)
			if tc.to[i] == no {
				assert.ErrorIs(t, err, alerts.ErrTransition, "%s: %s", tc.name, act)
				assert.Equal(t, tc.from.Status, got, "%s: a refused %s changes nothing", tc.name, act)
				continue
			}
			if assert.NoError(t, err, "%s: %s", tc.name, act) {
				assert.Equal(t, tc.to[i], got, "%s: %s", tc.name, act)
			}
		}
	}
	_, err := open.Next(alerts.ActEscalated)
	assert.ErrorIs(t, err, alerts.ErrInvalid, "escalation is the clock's, not a step anybody takes")
}
