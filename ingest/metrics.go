package ingest

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports every worker's counters to Prometheus, labelled by camera. Values are read from the
// workers at scrape time, so the hot path only touches atomics.
type Metrics struct {
	mu      sync.Mutex
	workers map[*Worker]struct{}

	received, decoded, dropped, bytes, reconnects, decodeErrs, lost, jumps *prometheus.Desc
	decodeSecs, lastAge, state, ringSecs, ringBytes                        *prometheus.Desc
}

// NewMetrics registers the ingest metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	cam := []string{"camera"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("snowlight_ingest_"+name, help, labels, nil)
	}
	m := &Metrics{
		workers:    make(map[*Worker]struct{}),
		received:   d("frames_received_total", "Access units received from the camera.", cam...),
		decoded:    d("frames_decoded_total", "Pictures decoded and converted to BGR frames.", cam...),
		dropped:    d("frames_dropped_total", "Access units or frames lost inside ingest, by reason.", "camera", "reason"),
		bytes:      d("bytes_received_total", "Compressed video bytes received.", cam...),
		reconnects: d("reconnects_total", "Sessions that ended in a failure and were retried.", cam...),
		decodeErrs: d("decode_errors_total", "Access units the depacketizer or decoder rejected.", cam...),
		lost:       d("rtp_packets_lost_total", "RTP packets the camera sent that never arrived.", cam...),
		jumps:      d("timestamp_jumps_total", "Discontinuities in the camera's RTP timeline that were rebased.", cam...),
		decodeSecs: d("decode_seconds_total", "Time spent decoding and converting pictures.", cam...),
		lastAge:    d("last_frame_age_seconds", "Seconds since the last access unit arrived (-1 before the first).", cam...),
		state:      d("state", "1 for the state the camera's worker is in.", "camera", "state"),
		ringSecs:   d("ring_seconds", "Seconds of compressed video held in the ring buffer.", cam...),
		ringBytes:  d("ring_bytes", "Bytes of compressed video held in the ring buffer.", cam...),
	}
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("register ingest metrics: %w", err)
	}
	return m, nil
}

func (m *Metrics) add(w *Worker) {
	m.mu.Lock()
	m.workers[w] = struct{}{}
	m.mu.Unlock()
}

func (m *Metrics) remove(w *Worker) {
	m.mu.Lock()
	delete(m.workers, w)
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.received, m.decoded, m.dropped, m.bytes, m.reconnects,
		m.decodeErrs, m.lost, m.jumps, m.decodeSecs, m.lastAge, m.state, m.ringSecs, m.ringBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ws := make([]*Worker, 0, len(m.workers))
	for w := range m.workers {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	now := time.Now()
	for _, w := range ws {
		s := w.Status()
		c := s.Camera
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{c}, labels...)...)
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{c}, labels...)...)
		}
		counter(m.received, s.FramesReceived)
		counter(m.decoded, s.FramesDecoded)
		counter(m.dropped, s.DroppedQueue, "decode_queue")
		counter(m.dropped, s.DroppedConsumer, "consumer")
		counter(m.dropped, s.DroppedNoKeyframe, "no_keyframe")
		counter(m.dropped, s.Ring.DroppedAccessUnits, "oversized_gop")
		counter(m.bytes, s.Bytes)
		counter(m.reconnects, s.Reconnects)
		counter(m.decodeErrs, s.DecodeErrors)
		counter(m.lost, s.PacketsLost)
		counter(m.jumps, s.TimestampJumps)
		ch <- prometheus.MustNewConstMetric(m.decodeSecs, prometheus.CounterValue, s.DecodeTime.Seconds(), c)
		age := -1.0
		if !s.LastFrame.IsZero() {
			age = now.Sub(s.LastFrame).Seconds()
		}
		gauge(m.lastAge, age)
		for _, st := range allStatesList() {
			v := 0.0
			if st == s.State {
				v = 1
			}
			gauge(m.state, v, string(st))
		}
		gauge(m.ringSecs, s.Ring.Newest.Sub(s.Ring.Oldest).Seconds())
		gauge(m.ringBytes, float64(s.Ring.Bytes))
	}
}
