package detect

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports what the cameras' perception does: frames by outcome (skipped by the gate, run on moving
// regions, full pass), time per stage, persons and their appearance embeddings, faces seen and watch-list
// matches by category. Identities never become label values: a metric is no place for who was seen.
type Metrics struct {
	frames  *prometheus.CounterVec
	stage   *prometheus.HistogramVec
	persons *prometheus.CounterVec
	appear  *prometheus.CounterVec
	faces   *prometheus.CounterVec
	matches *prometheus.CounterVec
}

// NewMetrics registers the perception metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_detect_frames_total",
			Help: "Frames given to perception, by outcome: skipped (no motion), regions, full."},
			[]string{"camera", "outcome"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "snowlight_detect_stage_seconds",
			Help:    "Time one frame spent in each perception stage.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
			[]string{"stage"}),
		persons: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_detect_persons_total",
			Help: "Person detections."}, []string{"camera"}),
		appear: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_detect_appearance_embeddings_total",
			Help: "Person appearance (OSNet) embeddings computed; the camera's schedule skips the rest of the person detections."},
			[]string{"camera"}),
		faces: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_detect_faces_total",
			Help: "Face detections, and how many were large enough to embed."}, []string{"camera", "embedded"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "snowlight_detect_watchlist_matches_total",
			Help: "Faces accepted as a watch-list identity, by category."}, []string{"camera", "category"}),
	}
	for _, c := range []prometheus.Collector{m.frames, m.stage, m.persons, m.appear, m.faces, m.matches} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register perception metrics: %w", err)
		}
	}
	return m, nil
}

// Observe records one processed frame of a camera.
func (m *Metrics) Observe(camera string, r Result) {
	if m == nil {
		return
	}
	outcome := "full"
	switch {
	case r.Skipped:
		outcome = "skipped"
	case !r.FullPass:
		outcome = "regions"
	}
	m.frames.WithLabelValues(camera, outcome).Inc()
	for _, s := range []struct {
		name string
		d    float64
	}{{"gate", r.Timing.Gate.Seconds()}, {"persons", r.Timing.Persons.Seconds()}, {"faces", r.Timing.Faces.Seconds()},
		{"embed", r.Timing.Embed.Seconds()}, {"appearance", r.Timing.Appearance.Seconds()}} {
		if s.d > 0 {
			m.stage.WithLabelValues(s.name).Observe(s.d)
		}
	}
	m.persons.WithLabelValues(camera).Add(float64(len(r.Persons)))
	m.appear.WithLabelValues(camera).Add(float64(r.Appearances))
	for _, f := range r.Faces {
		m.faces.WithLabelValues(camera, fmt.Sprint(f.Embedding != nil)).Inc()
		if f.Match != nil {
			m.matches.WithLabelValues(camera, string(f.Match.Category)).Inc()
		}
	}
}
