package retention_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/retention"
)

// BenchmarkDeleteRows measures the database phase: 10,000 sightings past their period (and 1,000
// held) deleted in batches. It reports the longest write transaction, which is how long the job can
// keep the pipeline's writer waiting, and rows per second. Run with -benchtime 1x.
func BenchmarkDeleteRows(b *testing.B) {
	for _, batch := range []int{100, 500, 2000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var maxBatch time.Duration
			var rows int
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				objs, _ := backends()[0].open(b)
				w := newWorld(b, objs)
				for i := range 11000 {
					w.sighting(fmt.Sprintf("s%05d", i), 80*time.Hour+time.Duration(i)*time.Second, "", "", "")
				}
				items := make([]retention.Item, 0, 1000)
				for i := range 1000 {
					items = append(items, retention.Item{Kind: retention.HoldSighting, ID: fmt.Sprintf("s%05d", i*11)})
				}
				_, err := w.holds.Hold(w.ctx, retention.Actor{Name: "inv"}, audit.Case{Number: "C-1", Reason: "benchmark holds"}, items...)
				require.NoError(b, err)
				job := w.job(nil, func(o *retention.Options) { o.BatchSize = batch })
				b.StartTimer()
				start := time.Now()
				rep, err := job.Once(w.ctx)
				elapsed += time.Since(start)
				require.NoError(b, err)
				require.Equal(b, 10000, rep.Deleted.UnlistedSightings, "deleted %+v", rep.Deleted)
				require.Equal(b, 1000, rep.Held.UnlistedSightings, "held %+v", rep.Held)
				maxBatch = max(maxBatch, rep.MaxBatch)
				rows += rep.Deleted.UnlistedSightings
			}
			b.ReportMetric(float64(maxBatch.Microseconds())/1000, "max-tx-ms")
			b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		})
	}
}

// BenchmarkSweep measures deleting and verifying objects: 300 sightings with a body snapshot each,
// against the local directory and a real MinIO. Run with -benchtime 1x.
func BenchmarkSweep(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			var objects int
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				objs, _ := be.open(b)
				w := newWorld(b, objs)
				for i := range 300 {
					w.sighting(fmt.Sprintf("s%d", i), 80*time.Hour, "", "", w.object("body"))
				}
				job := w.job(nil, func(o *retention.Options) { o.BatchSize = 500 })
				b.StartTimer()
				start := time.Now()
				rep, err := job.Once(w.ctx)
				elapsed += time.Since(start)
				require.NoError(b, err)
				require.Equal(b, 300, rep.ObjectTotal.Deleted, "objects %+v", rep.ObjectTotal)
				objects += rep.ObjectTotal.Deleted
			}
			b.ReportMetric(float64(objects)/elapsed.Seconds(), "objects/s")
		})
	}
}
