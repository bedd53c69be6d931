package searchbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"snowlight/colour"
	"snowlight/search"
)

// Options configures a run.
type Options struct {
	Sightings int
	// Dir holds the index; "" makes a temporary directory, removed afterwards.
	Dir string
	// Reuse opens the index already in Dir (built by an earlier run with the same Sightings and Seed)
	// instead of building it.
	Reuse bool
	// Queries per kind whose latency is measured; Recall of them (all-time, by example) are also run
	// exactly to measure recall.
	Queries, Recall int
	// Candidates lists the candidate counts recall is measured at (the first is the index's).
	Candidates []int
	Seed       uint64
}

// Kind is one kind of query and its measured latency.
type Kind struct {
	Name          string        `json:"name"`
	P50, P99, Max time.Duration `json:"-"`
	// CPU is the process's CPU time per query (user + system, both workers), p50 and p99: on a machine
	// shared with other work it says what the query costs when wall time does not.
	CPUP50, CPUP99 time.Duration `json:"-"`
	MeanHits       float64       `json:"mean_hits"`
}

// Report is a run's result.
type Report struct {
	Sightings int           `json:"sightings"`
	Build     time.Duration `json:"build"`
	Open      time.Duration `json:"open"`
	Stats     search.Stats  `json:"stats"`
	Kinds     []Kind        `json:"kinds"`
	// RecallAt10 per candidate count: the share of the exact top 10 that the index returns.
	RecallAt10 map[int]float64 `json:"recall_at_10"`
	ExactP50   time.Duration   `json:"exact_p50"`
	// RSS and HWM are the process's resident and peak resident memory (mapped segment pages included,
	// which the kernel can drop), HeapInuse the Go heap.
	RSS, HWM, HeapInuse int64
}

// Run builds the index of a synthetic city and measures queries on it, logging progress to log.
func Run(ctx context.Context, o Options, log io.Writer) (Report, error) {
	if o.Queries <= 0 {
		o.Queries = 100
	}
	if len(o.Candidates) == 0 {
		o.Candidates = []int{4000}
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "snowlight-bench-search-")
		if err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	rep := Report{Sightings: o.Sightings, RecallAt10: map[int]float64{}}
	fmt.Fprintf(log, "generating %d sightings...\n", o.Sightings)
	g := City{Sightings: o.Sightings, Seed: o.Seed}.Generate()
	opts := search.Options{Dir: dir, Candidates: o.Candidates[0]}

	if !o.Reuse {
		start := time.Now()
		x, err := search.Build(ctx, opts, g.parallelEntries(ctx, runtime.GOMAXPROCS(0)))
		if err != nil {
			return rep, err
		}
		rep.Build = time.Since(start)
		fmt.Fprintf(log, "built in %s; reopening\n", rep.Build.Round(time.Second))
		if err := x.Close(); err != nil {
			return rep, err
		}
	}
	start := time.Now()
	x, err := search.Open(opts)
	if err != nil {
		return rep, err
	}
	if x.Len() != g.Len() {
		x.Close()
		return rep, fmt.Errorf("the index in %s holds %d entries, not %d: build it again (no --reuse)", dir, x.Len(), g.Len())
	}
	defer x.Close()
	rep.Open = time.Since(start)
	rep.Stats = x.Stats()

	rng := rand.New(rand.NewPCG(o.Seed, 9))
	examples := make([]search.Entry, o.Queries)
	for i := range examples {
		examples[i] = g.Entry(rng.IntN(g.Len()))
	}
	half := make([]string, 0, 100)
	for c := 0; c < (City{}).withDefaults().Cameras; c += 2 {
		half = append(half, cameraName(c))
	}
	day := 24 * time.Hour
	kinds := []struct {
		name string
		q    func(e search.Entry) search.Query
	}{
		{"example, everything", func(e search.Entry) search.Query { return search.Query{Example: e.Appearance} }},
		{"example, 24 h window", func(e search.Entry) search.Query {
			return search.Query{Example: e.Appearance, From: e.Time.Add(-day / 2), To: e.Time.Add(day / 2)}
		}},
		{"example, half the cameras", func(e search.Entry) search.Query {
			return search.Query{Example: e.Appearance, Cameras: half}
		}},
		{"example + upper colour, 7 days", func(e search.Entry) search.Query {
			return search.Query{Example: e.Appearance, From: e.Time.Add(-7 * day), To: e.Time,
				Colours: colour.Query{Upper: colour.Term{Names: 1 << dominant(e.Colours.Upper)}}}
		}},
		{"description, 24 h window", func(e search.Entry) search.Query {
			return search.Query{From: e.Time.Add(-day), To: e.Time, Colours: colour.Query{
				Upper: colour.Term{Names: 1 << colour.Red}, Lower: colour.Term{Dark: true}}}
		}},
		{"description, everything", func(e search.Entry) search.Query {
			return search.Query{Colours: colour.Query{Upper: colour.Term{Names: 1 << colour.Red}, Lower: colour.Term{Dark: true}}}
		}},
	}
	// Page the scanned columns in once, as a running server's would be.
	for _, e := range examples[:min(3, len(examples))] {
		if _, err := x.Search(ctx, search.Query{Example: e.Appearance}); err != nil {
			return rep, err
		}
	}
	for _, k := range kinds {
		lat := make([]time.Duration, 0, len(examples))
		cpu := make([]time.Duration, 0, len(examples))
		hits := 0
		for _, e := range examples {
			t0, c0 := time.Now(), cpuTime()
			h, err := x.Search(ctx, k.q(e))
			if err != nil {
				return rep, fmt.Errorf("%s: %w", k.name, err)
			}
			lat = append(lat, time.Since(t0))
			cpu = append(cpu, cpuTime()-c0)
			hits += len(h)
		}
		slices.Sort(lat)
		slices.Sort(cpu)
		kind := Kind{Name: k.name, P50: quantile(lat, 0.5), P99: quantile(lat, 0.99), Max: lat[len(lat)-1],
			CPUP50: quantile(cpu, 0.5), CPUP99: quantile(cpu, 0.99), MeanHits: float64(hits) / float64(len(lat))}
		rep.Kinds = append(rep.Kinds, kind)
		fmt.Fprintf(log, "%-34s p50 %6.1f ms  p99 %6.1f ms  cpu p99 %6.1f ms\n", k.name, ms(kind.P50), ms(kind.P99), ms(kind.CPUP99))
	}

	var exactLat []time.Duration
	for i, e := range examples[:min(o.Recall, len(examples))] {
		t0 := time.Now()
		want, err := x.Search(ctx, search.Query{Example: e.Appearance, Limit: 10, Exact: true})
		if err != nil {
			return rep, err
		}
		exactLat = append(exactLat, time.Since(t0))
		for _, c := range o.Candidates {
			got, err := x.Search(ctx, search.Query{Example: e.Appearance, Limit: 10, Candidates: c})
			if err != nil {
				return rep, err
			}
			n := 0
			for _, h := range got {
				n += boolInt(slices.ContainsFunc(want, func(w search.Hit) bool { return w.ID == h.ID }))
			}
			rep.RecallAt10[c] += float64(n) / float64(len(want)) / float64(min(o.Recall, len(examples)))
		}
		fmt.Fprintf(log, "recall query %d/%d done\n", i+1, o.Recall)
	}
	if len(exactLat) > 0 {
		slices.Sort(exactLat)
		rep.ExactP50 = exactLat[len(exactLat)/2]
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInuse = int64(ms.HeapInuse)
	rep.RSS, rep.HWM = procMemory()
	return rep, nil
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, p float64) time.Duration {
	return sorted[max(0, min(len(sorted)-1, int(math.Ceil(p*float64(len(sorted))))-1))]
}

func dominant(r colour.Region) colour.Name { n, _ := r.Main(); return n }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMemory reads VmRSS and VmHWM (bytes) from /proc/self/status; 0 where unavailable.
func procMemory() (rss, hwm int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm
}

// parallelEntries yields the sightings in order while workers make their vectors ahead, a chunk each.
func (g *Generated) parallelEntries(ctx context.Context, workers int) iter.Seq2[search.Entry, error] {
	const chunk = 2048
	return func(yield func(search.Entry, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		outs := make([]chan []search.Entry, workers)
		for w := range outs {
			outs[w] = make(chan []search.Entry, 2)
			go func() {
				defer close(outs[w])
				for c := w * chunk; c < g.Len(); c += workers * chunk {
					es := make([]search.Entry, 0, chunk)
					for i := c; i < min(c+chunk, g.Len()); i++ {
						es = append(es, g.Entry(i))
					}
					select {
					case outs[w] <- es:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		for c := 0; ; c++ {
			es, ok := <-outs[c%workers]
			if !ok {
				return
			}
			for _, e := range es {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}
