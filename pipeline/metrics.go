package pipeline

import (
	"fmt"
	"snowlight/tracks"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the edge's Prometheus metrics (the center has its own). A nil *Metrics records nothing.
type Metrics struct {
	frames    *prometheus.CounterVec
	sightings *prometheus.CounterVec
	latency   prometheus.Histogram
}

// NewMetrics registers the pipeline's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "snowlight_pipeline_frames_total",
			Help: "Frames given to the edge, by camera and result (detected, skipped by the motion gate, error).",
		}, []string{"camera", "result"}),
		sightings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "snowlight_pipeline_sighting_events_total",
			Help: "Sighting events the edge emitted, by camera and kind.",
		}, []string{"camera", "kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "snowlight_pipeline_identity_latency_seconds",
			Help:    "From the wall time of the frame that gave a live track its identity to the center having stored and reported it.",
			Buckets: []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10},
		}),
	}
	for _, c := range []prometheus.Collector{m.frames, m.sightings, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register pipeline metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) frame(camera, result string) {
	if m != nil {
		m.frames.WithLabelValues(camera, result).Inc()
	}
}

func (m *Metrics) sighting(camera string, kind tracks.EventKind) {
	if m != nil {
		m.sightings.WithLabelValues(camera, string(kind)).Inc()
	}
}

// Identities measures identity latency for one stream of sighting events (one goroutine's): from the
// frame that gave a live track its name to the event being stored (or, on an edge, queued for the
// center), once per name.
type Identities struct {
	m     *Metrics
	named map[string]string // the identity last stored for each live sighting
}

// Identities starts a latency measurement.
func (m *Metrics) Identities() *Identities { return &Identities{m: m, named: map[string]string{}} }

// Stored records that ev was stored at now.
func (l *Identities) Stored(ev tracks.SightingEvent, now time.Time) {
	id, p := ev.Sighting.ID, ev.Sighting.PersonID()
	if ev.Kind == tracks.SightingEnded {
		delete(l.named, id)
		return
	}
	if p == l.named[id] {
		return
	}
	l.named[id] = p
	if p != "" && l.m != nil {
		l.m.latency.Observe(now.Sub(ev.Frame).Seconds())
	}
}
