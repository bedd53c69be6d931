package ingest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"snowlight/ingest/camsim"
	"snowlight/testvideos"
)

// /metrics and /healthz over HTTP for a live camera and a dead one, as the running binary serves them.
func TestMetricsAndHealthOverHTTP(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.Quiet)})
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
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
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "Canary") {
		t.Error("/metrics shows a password")
	}
	var health struct {
		Status  string `json:"status"`
		Cameras []struct {
			Camera, State, URL string
		} `json:"cameras"`
	}
	body := get("/healthz")
	if err := json.Unmarshal([]byte(body), &health); err != nil {
		t.Fatal(err)
	}
	if health.Status != "degraded" || len(health.Cameras) != 2 || health.Cameras[0].State != "online" {
		t.Errorf("/healthz: %s", body)
	}
	if strings.Contains(body, "Canary") {
		t.Error("/healthz shows a password")
	}
	if line := StatusLine(live.w.Status()); !strings.Contains(line, "online") || !strings.Contains(line, "768x576") {
		t.Errorf("status line %q", line)
	}
}
