package tamper

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/camevent"
)

// TestResultEvent: only changes become camera events, an alarm as tampered with the numbers that made
// it, the return to normal as picture normal.
func TestResultEvent(t *testing.T) {
	at := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	base := Measures{Contrast: 41, Sharpness: 0.8}
	tests := []struct {
		r      Result
		kind   camevent.Kind
		detail string
	}{
		{Result{State: Covered, Changed: true, From: OK, Measures: Measures{Contrast: 2.1}, Baseline: base}, camevent.Tampered,
			"picture covered: contrast 2.1 grey levels (normally 41.0)"},
		{Result{State: Defocused, Changed: true, From: OK, Measures: Measures{Sharpness: 0.1}, Baseline: base}, camevent.Tampered,
			"picture defocused: sharpness 0.10 (normally 0.80)"},
		{Result{State: Moved, Changed: true, From: Covered, Measures: Measures{Correlation: 0.21}}, camevent.Tampered,
			"camera moved: the scene's structure correlates 0.21 with its usual view"},
		{Result{State: OK, Changed: true, From: Moved}, camevent.PictureNormal, "picture normal again after moved"},
	}
	for _, tc := range tests {
		tc.r.Time = at
		ev, ok := tc.r.Event("gate")
		require.True(t, ok, "%+v", tc.r)
		assert.Equal(t, camevent.Event{Camera: "gate", Kind: tc.kind, Time: at, Detail: tc.detail}, ev)
		assert.NoError(t, ev.Validate())
	}
	_, ok := Result{Time: at, State: Covered}.Event("gate")
	assert.False(t, ok, "a result that changed nothing is no event")
}
