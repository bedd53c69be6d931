package busbench_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/busbench"
	"snowlight/bus/natstest"
)

// centerDB opens SQLite as store.Open does: WAL, synchronous NORMAL, one writer.
func centerDB(t testing.TB) *sql.DB {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "center.db")+
		"?_journal_mode=WAL&_busy_timeout=10000&_synchronous=NORMAL&_txlock=immediate")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func options(t testing.TB, c *natstest.Cluster, edges []string) busbench.Options {
	o := busbench.Options{Center: c.Options(t, natstest.Center), Replicas: len(c.Servers), Dir: t.TempDir()}
	for _, e := range edges {
		o.Edges = append(o.Edges, c.Options(t, e))
	}
	return o
}

// The harness works end to end: what is offered is applied, once.
func TestHarness(t *testing.T) {
	edges := []string{"edge-a", "edge-b"}
	c := natstest.Start(t, edges...)
	o := options(t, c, edges)
	o.Cameras, o.Rate, o.Duration, o.Warmup, o.DB = 100, 2, 2*time.Second, 500*time.Millisecond, centerDB(t)
	r, err := busbench.Run(context.Background(), o)
	require.NoError(t, err)
	t.Log(r)
	assert.InDelta(t, 200, r.Offered, 40)
	assert.InDelta(t, r.Offered, r.Applied, r.Offered/5)
	assert.Positive(t, r.P99)
	assert.Zero(t, r.Again)
	var n int
	require.NoError(t, o.DB.QueryRow(`SELECT count(*) FROM bench_sightings`).Scan(&n))
	var keys int
	require.NoError(t, o.DB.QueryRow(`SELECT count(*) FROM bus_applied`).Scan(&keys))
	assert.Equal(t, n, keys, "one ledger row per sighting")
}

// BenchmarkCenter: 10,000 cameras on 4 edges into one center, on one server and on a three-node
// cluster, the bus alone and through the ledger in SQLite; at city rate (0.3 sightings per camera
// per second: 3,000/s) and at capacity (the center draining a backlog of 60,000). docs/BENCHMARKS.md
// has the command and the figures.
func BenchmarkCenter(b *testing.B) {
	edges := []string{"edge-a", "edge-b", "edge-c", "edge-d"}
	for _, nodes := range []int{1, 3} {
		c := natstest.StartCluster(b, nodes, edges...)
		for _, db := range []bool{false, true} {
			for _, rate := range []float64{0.3, 0} {
				name := fmt.Sprintf("nodes=%d/ledger=%v/rate=%v", nodes, db, rate)
				if rate == 0 {
					name = fmt.Sprintf("nodes=%d/ledger=%v/rate=max", nodes, db)
				}
				b.Run(name, func(b *testing.B) {
					for range b.N {
						o := options(b, c, edges)
						o.Cameras, o.Rate, o.Duration, o.Warmup = 10000, rate, 20*time.Second, 3*time.Second
						if rate == 0 {
							o.Backlog, o.Duration = 60000, 5*time.Minute
						}
						if db {
							o.DB = centerDB(b)
						}
						r, err := busbench.Run(context.Background(), o)
						require.NoError(b, err)
						b.Log(r)
						b.ReportMetric(r.Applied, "applied/s")
						b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
						b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
						b.ReportMetric(float64(r.MaxLag), "max-lag")
					}
				})
			}
		}
	}
}
