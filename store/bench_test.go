package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The query benchmark runs on a synthetic archive: SNOWLIGHT_BENCH_SIGHTINGS sightings (default
// 200000; docs/BENCHMARKS.md uses 10000000) over 1,000 cameras and 30 days, built once into
// SNOWLIGHT_BENCH_CACHE (default: the user cache directory) and reused by later runs.
const (
	benchCameras = 1000
	benchDays    = 30
	benchPersons = 2000
)

var benchStart = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

func benchRows(b *testing.B) int {
	n := 200000
	if s := os.Getenv("SNOWLIGHT_BENCH_SIGHTINGS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err, "SNOWLIGHT_BENCH_SIGHTINGS=%q: want a number of at least 1000", s)
		require.GreaterOrEqual(b, v, 1000, "SNOWLIGHT_BENCH_SIGHTINGS=%q: want a number of at least 1000", s)
		n = v
	}
	return n
}

func benchCache(b *testing.B) string {
	dir := os.Getenv("SNOWLIGHT_BENCH_CACHE")
	if dir == "" {
		c, err := os.UserCacheDir()
		require.NoError(b, err)
		dir = filepath.Join(c, "snowlight", "bench")
	}
	require.NoError(b, os.MkdirAll(dir, 0o755))
	return dir
}

// benchDB returns the path of the synthetic archive with n sightings, building it when absent.
func benchDB(b *testing.B, n int) string {
	// The name carries the generator's version: change it when the data changes.
	path := filepath.Join(benchCache(b), fmt.Sprintf("sightings-v1-%d.db", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	start := time.Now()
	require.NoError(b, buildBenchDB(context.Background(), tmp, n), "build %s", tmp)
	require.NoError(b, os.Rename(tmp, path))
	b.Logf("built %d sightings in %v: %s", n, time.Since(start).Round(time.Second), path)
	return path
}

// buildBenchDB writes trajectories of 1-8 sightings that random-walk along a ring of cameras, 5% of
// them identified as one of 2,000 watch-list people (half of their sightings carry the identity).
// Indexes are dropped during the load and rebuilt after it, batches go through prepared multi-row
// inserts, 200,000 rows per transaction.
func buildBenchDB(ctx context.Context, path string, n int) error {
	db, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{
		// Rows of both tables arrive in separate batches; the generator keeps them consistent.
		`PRAGMA foreign_keys = OFF`,
		`PRAGMA synchronous = OFF`, `PRAGMA cache_size = -262144`,
		`DROP INDEX sightings_camera_enter`, `DROP INDEX sightings_trajectory_enter`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var cams strings.Builder
	cams.WriteString(`INSERT INTO cameras(id, lat, lon) VALUES `)
	for c := 0; c < benchCameras; c++ {
		if c > 0 {
			cams.WriteString(",")
		}
		fmt.Fprintf(&cams, "('cam%04d', %f, %f)", c, 52.4+float64(c/40)*0.005, 13.3+float64(c%40)*0.008)
	}
	if _, err := conn.ExecContext(ctx, cams.String()); err != nil {
		return err
	}

	const batch = 50
	const sCols = 17
	sIns := `INSERT INTO sightings(rid, id, camera, track_id, enter_ns, exit_ns, person_id, trajectory, box_x, box_y, box_w, box_h,
		face_ref, body_ref, face_emb, app_emb, final) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,?),", batch), ",")
	lIns := `INSERT INTO links(to_rid, from_rid, score, confidence, evidence, decided_ns) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?),", batch), ",")
	r := rand.New(rand.NewPCG(2024, 5))
	span := int64(benchDays * 24 * time.Hour)
	var sRows, lRows []any
	begin := func() error { _, err := conn.ExecContext(ctx, `BEGIN`); return err }
	commit := func() error { _, err := conn.ExecContext(ctx, `COMMIT`); return err }
	sStmt, err := conn.PrepareContext(ctx, sIns)
	if err != nil {
		return err
	}
	defer sStmt.Close()
	lStmt, err := conn.PrepareContext(ctx, lIns)
	if err != nil {
		return err
	}
	defer lStmt.Close()
	flush := func(force bool) error {
		for len(sRows) >= batch*(sCols-2) || force && len(sRows) > 0 {
			k := min(len(sRows), batch*(sCols-2))
			if k == batch*(sCols-2) {
				if _, err := sStmt.ExecContext(ctx, sRows[:k]...); err != nil {
					return err
				}
			} else {
				q := strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,?),", k/(sCols-2)), ",")
				if _, err := conn.ExecContext(ctx, sIns[:strings.Index(sIns, "VALUES ")+7]+q, sRows[:k]...); err != nil {
					return err
				}
			}
			sRows = sRows[k:]
		}
		for len(lRows) >= batch*6 || force && len(lRows) > 0 {
			k := min(len(lRows), batch*6)
			if k == batch*6 {
				if _, err := lStmt.ExecContext(ctx, lRows[:k]...); err != nil {
					return err
				}
			} else {
				q := strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?),", k/6), ",")
				if _, err := conn.ExecContext(ctx, lIns[:strings.Index(lIns, "VALUES ")+7]+q, lRows[:k]...); err != nil {
					return err
				}
			}
			lRows = lRows[k:]
		}
		return nil
	}
	if err := begin(); err != nil {
		return err
	}
	rid := int64(0)
	var maxDur int64
	type tp struct {
		person string
		traj   int64
	}
	var persons []tp
	for rid < int64(n) {
		length := 1 + r.IntN(8)
		root := rid + 1
		cam := r.IntN(benchCameras)
		at := benchStart.UnixNano() + r.Int64N(span)
		person := ""
		if r.Float64() < 0.05 {
			person = fmt.Sprintf("p%04d", r.IntN(benchPersons))
			persons = append(persons, tp{person, root})
		}
		for k := 0; k < length && rid < int64(n); k++ {
			rid++
			dwell := int64(5+r.IntN(55)) * int64(time.Second)
			maxDur = max(maxDur, dwell)
			var pid any
			if person != "" && (k == 0 || r.Float64() < 0.5) {
				pid = person
			}
			id := fmt.Sprintf("s%010d", rid)
			sRows = append(sRows, rid, id, fmt.Sprintf("cam%04d", cam), rid%1000, at, at+dwell, pid, root,
				r.Float64()*1800, r.Float64()*900, 40+r.Float64()*60, 100+r.Float64()*150,
				"f/"+id+".jpg", "b/"+id+".jpg", true)
			if k > 0 {
				lRows = append(lRows, rid, rid-1, 2+r.Float64()*4, 0.9, `{}`, at)
			}
			at += dwell + int64(30+r.IntN(150))*int64(time.Second)
			cam = (cam + benchCameras + []int{-40, -1, 1, 40}[r.IntN(4)]) % benchCameras
		}
		if err := flush(false); err != nil {
			return err
		}
		if rid%200000 < 8 && rid > 8 {
			if err := commit(); err != nil {
				return err
			}
			if err := begin(); err != nil {
				return err
			}
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	for _, p := range persons {
		if _, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO trajectory_persons(person_id, trajectory) VALUES (?, ?)`, p.person, p.traj); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO sighting_stats(key, value) VALUES ('max_duration_ns', ?)`, maxDur); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	for _, q := range []string{
		`CREATE INDEX sightings_camera_enter ON sightings(camera, enter_ns)`,
		`CREATE INDEX sightings_trajectory_enter ON sightings(trajectory, enter_ns)`,
		`ANALYZE`, `PRAGMA wal_checkpoint(TRUNCATE)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// BenchmarkTrajectoryQueries times the three investigator queries, one random query per iteration,
// and reports their latency percentiles.
func BenchmarkTrajectoryQueries(b *testing.B) {
	n := benchRows(b)
	path := benchDB(b, n)
	ctx := context.Background()
	db, err := Open(ctx, path)
	require.NoError(b, err)
	defer db.Close()
	day := 24 * time.Hour
	randTime := func(r *rand.Rand, span time.Duration) time.Time {
		return benchStart.Add(time.Duration(r.Int64N(int64(benchDays*day - span))))
	}
	queries := []struct {
		name string
		run  func(r *rand.Rand) (int, error)
	}{
		{"person-week", func(r *rand.Rand) (int, error) {
			from := randTime(r, 7*day)
			trajs, err := db.PersonTrajectory(ctx, fmt.Sprintf("p%04d", r.IntN(benchPersons)), from, from.Add(7*day))
			steps := 0
			for _, t := range trajs {
				steps += len(t.Steps)
			}
			return steps, err
		}},
		{"follow", func(r *rand.Rand) (int, error) {
			t, err := db.Follow(ctx, fmt.Sprintf("s%010d", 1+r.IntN(n)), time.Time{}, time.Time{})
			return len(t.Steps), err
		}},
		{"camera-hour", func(r *rand.Rand) (int, error) {
			from := randTime(r, time.Hour)
			steps, err := db.AtCamera(ctx, fmt.Sprintf("cam%04d", r.IntN(benchCameras)), from, from.Add(time.Hour), 1000)
			return len(steps), err
		}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 7))
			var lat []time.Duration
			rows := 0
			for b.Loop() {
				start := time.Now()
				k, err := q.run(r)
				require.NoError(b, err)
				lat = append(lat, time.Since(start))
				rows += k
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(rows)/float64(len(lat)), "steps/query")
		})
	}
}
