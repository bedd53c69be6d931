package bus

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bus's Prometheus series; register them once per process (NewMetrics) and give the
// same value to the Publisher or the Consumer. A nil *Metrics records nothing.
type Metrics struct {
	published     prometheus.Counter
	duplicates    prometheus.Counter
	publishErrors prometheus.Counter
	outboxRecords prometheus.Gauge
	outboxBytes   prometheus.Gauge
	outboxOldest  prometheus.Gauge
	outboxDropped prometheus.Gauge
	handled       *prometheus.CounterVec
	eventAge      prometheus.Histogram
	consumerLag   *prometheus.GaugeVec
	edgeBacklog   *prometheus.GaugeVec
}

// Handling results, the "result" label of snowlight_bus_events_total.
const (
	resultApplied = "applied"
	resultRetry   = "retry"
	resultRefused = "refused"
	resultDead    = "dead"
)

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_bus_published_total",
			Help: "Events the edge's publisher had acknowledged by JetStream (duplicates included)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_bus_publish_duplicates_total",
			Help: "Publishes JetStream recognised as duplicates of a stored message (resent after a lost ack)."}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "snowlight_bus_publish_errors_total",
			Help: "Publish attempts that failed (no answer, link down, stream full or refused); the outbox resends."}),
		outboxRecords: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_bus_outbox_records",
			Help: "Events in the edge's outbox not yet acknowledged by JetStream."}),
		outboxBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_bus_outbox_bytes",
			Help: "Disk used by the edge's outbox."}),
		outboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_bus_outbox_oldest_seconds",
			Help: "Age of the oldest undelivered event in the outbox (0 when empty)."}),
		outboxDropped: prometheus.NewGauge(prometheus.GaugeOpts{Name: "snowlight_bus_outbox_dropped",
			Help: "Events the outbox dropped unsent to stay within its size since the edge started."}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_bus_events_total",
			Help: "Events the center's consumer handled, by result: applied (or already applied), retry, refused, dead."}, []string{"result"}),
		eventAge: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "snowlight_bus_event_age_seconds",
			Help:    "From an event's production at the edge to the center's handling of it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}),
		consumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "snowlight_bus_consumer_lag",
			Help: "Events in the stream the center's consumer has not yet acknowledged, by state: pending (not delivered) or ack_pending."}, []string{"state"}),
		edgeBacklog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "snowlight_bus_edge_backlog",
			Help: "Events stored in the stream per edge and not yet applied by the center."}, []string{"edge"}),
	}
	reg.MustRegister(m.published, m.duplicates, m.publishErrors, m.outboxRecords, m.outboxBytes, m.outboxOldest,
		m.outboxDropped, m.handled, m.eventAge, m.consumerLag, m.edgeBacklog)
	return m
}
