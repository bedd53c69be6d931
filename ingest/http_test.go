package ingest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/ingest/camsim"
	"snowlight/testvideos"
)

// /metrics and /healthz over HTTP for a live camera and a dead one, as the running binary serves them.
func TestMetricsAndHealthOverHTTP(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.Quiet)})
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	live := runWorker(t, Config{Camera: "live", URL: srv.URL("cam"), Metrics: m, Decode: DecodeKeyframes})
	dead := runWorker(t, Config{Camera: "dead", URL: "rtsp://admin:Canary-h@127.0.0.1:1/x", Metrics: m, Decode: DecodeNone,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", HealthHandler(func() []*Worker { return []*Worker{live.w, dead.w} }))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	waitFor(t, 20*time.Second, "live camera online", func() bool { return live.w.State() == StateOnline })

	get := func(path string) string {
		res, err := http.Get(hs.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		return string(b)
	}
	metrics := get("/metrics")
	for _, want := range []string{
		`snowlight_ingest_state{camera="live",state="online"} 1`,
		`snowlight_ingest_state{camera="dead",state="online"} 0`,
		`snowlight_ingest_frames_received_total{camera="live"}`,
		`snowlight_ingest_frames_decoded_total{camera="live"}`,
		`snowlight_ingest_frames_dropped_total{camera="live",reason="consumer"}`,
		`snowlight_ingest_bytes_received_total{camera="live"}`,
		`snowlight_ingest_reconnects_total{camera="dead"}`,
		`snowlight_ingest_decode_errors_total{camera="live"} 0`,
		`snowlight_ingest_last_frame_age_seconds{camera="live"}`,
		`snowlight_ingest_last_frame_age_seconds{camera="dead"} -1`,
	} {
		assert.Contains(t, metrics, want, "/metrics")
	}
	assert.NotContains(t, metrics, "Canary", "/metrics shows a password")
	var health struct {
		Status  string `json:"status"`
		Cameras []struct {
			Camera, State, URL string
		} `json:"cameras"`
	}
	body := get("/healthz")
	require.NoError(t, json.Unmarshal([]byte(body), &health))
	assert.Equal(t, "degraded", health.Status, "/healthz: %s", body)
	if assert.Len(t, health.Cameras, 2, "/healthz: %s", body) {
		assert.Equal(t, "online", health.Cameras[0].State, "/healthz: %s", body)
	}
	assert.NotContains(t, body, "Canary", "/healthz shows a password")
	line := StatusLine(live.w.Status())
	assert.Contains(t, line, "online", "status line")
	assert.Contains(t, line, "768x576", "status line")
}
