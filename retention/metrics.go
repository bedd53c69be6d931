package retention

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	runs                     *prometheus.CounterVec
	rows, held               *prometheus.CounterVec
	objects, bytes, failures *prometheus.CounterVec
	pending, expired         prometheus.Gauge
	lastRun, lastSuccess     prometheus.Gauge
	batch                    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_retention_runs_total",
			Help: "Retention runs by result (ok, incomplete: some objects left for the next run, failed)."}, []string{"result"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_retention_deleted_rows_total",
			Help: "Database rows the retention job deleted, by kind."}, []string{"kind"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_retention_held_rows_total",
			Help: "Rows past their retention period that were kept because a case holds them, counted per run, by kind."}, []string{"kind"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_retention_deleted_objects_total",
			Help: "Evidence objects the retention job deleted and verified gone, by kind."}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_retention_deleted_bytes_total",
			Help: "Bytes of the evidence objects the retention job deleted, by kind."}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_retention_object_failures_total",
			Help: "Objects the retention job could not delete or verify gone (retried next run), by kind."}, []string{"kind"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_retention_pending_objects",
			Help: "Object keys marked for deletion and not yet verified gone after the last run."}),
		expired: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_retention_expired_watchlist_entries",
			Help: "Expired watch-list entries that still held embeddings at the last run."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_retention_last_run_timestamp_seconds",
			Help: "When the last retention run finished."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_retention_last_success_timestamp_seconds",
			Help: "When the last retention run that left nothing behind finished."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "snowlight_retention_batch_seconds",
			Help:    "Duration of the retention job's write transactions (each holds the database writer).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.rows, m.held, m.objects, m.bytes, m.failures, m.pending, m.expired, m.lastRun, m.lastSuccess, m.batch} {
			if err := reg.Register(c); err != nil {
				return m, fmt.Errorf("register retention metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m metrics) record(r Report, result string) {
	m.runs.WithLabelValues(result).Inc()
	if r.DryRun {
		return
	}
	for kind, n := range map[string]int{"sighting_unlisted": r.Deleted.UnlistedSightings, "sighting_listed": r.Deleted.ListedSightings,
		"alert": r.Deleted.Alerts, "embedding": r.Deleted.Embeddings, "notification": r.Deleted.Notifications} {
		m.rows.WithLabelValues(kind).Add(float64(n))
	}
	m.held.WithLabelValues("sighting").Add(float64(r.Held.UnlistedSightings + r.Held.ListedSightings))
	m.held.WithLabelValues("alert").Add(float64(r.Held.Alerts))
	for kind, c := range r.Objects {
		m.objects.WithLabelValues(kind).Add(float64(c.Deleted))
		m.bytes.WithLabelValues(kind).Add(float64(c.Bytes))
		m.failures.WithLabelValues(kind).Add(float64(c.Failed))
	}
	m.pending.Set(float64(r.Pending))
	m.expired.Set(float64(len(r.Expired) - len(r.Purged())))
	m.lastRun.Set(float64(r.Finished.UnixNano()) / 1e9)
	if result == "ok" {
		m.lastSuccess.Set(float64(r.Finished.UnixNano()) / 1e9)
	}
}
