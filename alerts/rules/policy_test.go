package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"snowlight/alerts"
	"snowlight/watchlist"
)

// TestRulesFromYAML: rules read from a deployment's YAML as an operator writes them.
func TestRulesFromYAML(t *testing.T) {
	const doc = `
- kind: loitering
  cameras: [cam-school]
  schedule: "22:00-06:00 @Europe/Vienna"
- kind: watchlist_hit
  categories: [suspect]
  cameras: [cam-home]
- kind: watchlist_hit
  categories: [suspect, At-Risk]
  off: true
- cameras: [cam-far]
  schedule: "Mon-Fri 08:00-18:00"
`
	var rs []Rule
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&rs))
	e, err := New(Options{Alerts: noAlerts{}, Persons: listed, Cameras: cameras, Rules: rs})
	require.NoError(t, err)
	p := e.policy
	require.Len(t, p, 4, "rules %+v", p)
	assert.Equal(t, alerts.Loitering, p[0].Kind)
	assert.Equal(t, "Europe/Vienna", p[0].Schedule.Location.String())
	assert.Len(t, p[0].Schedule.Windows, 1)
	assert.Equal(t, []watchlist.Category{watchlist.Suspect}, p[1].Categories)
	assert.True(t, p[2].Off, "rules[2] not off")
	assert.Equal(t, []watchlist.Category{watchlist.Suspect, watchlist.AtRisk}, p[2].Categories)
	assert.Empty(t, p[3].Kind)
	assert.Same(t, time.UTC, p[3].Schedule.Location)
	// 23:00 in Vienna on Saturday 1 March 2025 is 22:00 UTC.
	night := time.Date(2025, 3, 1, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		s    scope
		want bool
		rule int
	}{
		{scope{kind: alerts.Loitering, camera: "cam-school", zone: "gate", at: night}, true, 0},
		{scope{kind: alerts.Loitering, camera: "cam-school", zone: "gate", at: t0}, false, 0},
		{scope{kind: alerts.Loitering, camera: "cam-atm", zone: "atm", at: t0}, true, -1},
		{scope{kind: alerts.WatchlistHit, category: watchlist.Suspect, camera: "cam-home", at: t0}, true, 1},
		{scope{kind: alerts.WatchlistHit, category: watchlist.Suspect, camera: "cam-atm", at: t0}, false, 2},
		{scope{kind: alerts.WatchlistHit, category: watchlist.Missing, camera: "cam-atm", at: t0}, true, -1},
		// Any kind at cam-far, office hours only: 1 March 2025 is a Saturday.
		{scope{kind: alerts.CameraOffline, camera: "cam-far", at: t0}, false, 3},
		{scope{kind: alerts.CameraOffline, camera: "cam-far", at: t0.Add(48 * time.Hour)}, true, 3},
	}
	for _, tc := range tests {
		got, rule := p.allows(tc.s)
		assert.Equal(t, tc.want, got, "%+v: allows", tc.s)
		assert.Equal(t, tc.rule, rule, "%+v: by rule", tc.s)
	}

	for _, bad := range []string{"- kind: loitering\n  schedule: \"25:00-26:00\"\n", "- kind: loitering\n  when: night\n"} {
		var rs []Rule
		dec := yaml.NewDecoder(strings.NewReader(bad))
		dec.KnownFields(true)
		assert.Error(t, dec.Decode(&rs), "%q", bad)
	}
}
