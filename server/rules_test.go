package server

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/camevent"
	"snowlight/config"
)

// TestConfiguredRulesApply: the server decodes the configuration's alert rules itself, so serve, demo
// and every test that builds a server from a configuration alert alike (demo used to run without them:
// only serve decoded the rules).
func TestConfiguredRulesApply(t *testing.T) {
	tests := []struct {
		name, rules string
		alerts      int
	}{
		{"no rules: every trigger alerts", "", 1},
		{"offline silenced for the camera", "{kind: camera_offline, cameras: [gate], off: true}", 0},
		{"offline silenced for another camera", "{kind: camera_offline, cameras: [yard], off: true}", 1},
		{"offline only at night", "{kind: camera_offline, schedule: \"22:00-06:00 @UTC\"}", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\ncameras:\n"+
				"  - {id: gate, url: rtsp://127.0.0.1:9/gate}\n  - {id: yard, url: rtsp://127.0.0.1:9/yard}\n", t.TempDir())
			if tc.rules != "" {
				text += "alerts:\n  rules:\n    - " + tc.rules + "\n"
			}
			cfg, err := config.Parse(strings.NewReader(text), func(string) string { return "" })
			require.NoError(t, err)
			s, err := New(t.Context(), Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			defer s.Close()

			noon := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
			require.NoError(t, s.rules.CameraEvent(t.Context(), camevent.Event{Camera: "gate", Kind: camevent.Offline, Time: noon}))
			got, err := s.engine.Alerts(t.Context(), alerts.Query{Kinds: []alerts.Kind{alerts.CameraOffline}})
			require.NoError(t, err)
			assert.Len(t, got, tc.alerts)
		})
	}
}
