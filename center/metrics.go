package center

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the center's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	decisions *prometheus.CounterVec
	errors    *prometheus.CounterVec
}

// NewMetrics registers the center's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "snowlight_pipeline_decisions_total",
			Help: "Stitcher decisions applied by the center: linked to an earlier sighting or starting a trajectory.",
		}, []string{"result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "snowlight_pipeline_center_errors_total",
			Help: "Sighting events the center failed to handle, by stage.",
		}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register center metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) decision(linked bool) {
	if m != nil {
		r := "new_trajectory"
		if linked {
			r = "linked"
		}
		m.decisions.WithLabelValues(r).Inc()
	}
}

func (m *Metrics) failed(stage string) {
	if m != nil {
		m.errors.WithLabelValues(stage).Inc()
	}
}
