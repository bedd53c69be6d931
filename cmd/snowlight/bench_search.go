package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"snowlight/search/searchbench"
)

// runBenchSearch builds the search index over synthetic sightings and reports query latency, recall
// against an exact scan, and memory (docs/BENCHMARKS.md, "Search").
func runBenchSearch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench search", "[--sightings N] [--queries N] [--recall N] [--candidates 4000,1000] [--dir DIR [--reuse]]")
	sightings := fs.Int("sightings", 1_000_000, "synthetic sightings to index")
	queries := fs.Int("queries", 200, "queries of each kind whose latency is measured")
	recall := fs.Int("recall", 20, "of those, how many are also run exactly to measure recall@10")
	candidates := fs.String("candidates", "4000,1000,16000", "candidate counts to measure recall at (the first is the index's)")
	dir := fs.String("dir", "", "where to build the index (default: a temporary directory, removed after)")
	reuse := fs.Bool("reuse", false, "query the index an earlier run left in --dir instead of building it")
	seed := fs.Uint64("seed", 1, "seed of the synthetic city")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cands []int
	for _, f := range strings.Split(*candidates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("--candidates: %q is not a positive count", f)
		}
		cands = append(cands, n)
	}
	if *reuse && *dir == "" {
		return fmt.Errorf("--reuse needs --dir")
	}
	rep, err := searchbench.Run(ctx, searchbench.Options{Sightings: *sightings, Dir: *dir, Reuse: *reuse, Queries: *queries,
		Recall: *recall, Candidates: cands, Seed: *seed}, e.stderr)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "search over %d sightings (%d segments): build %s, open %s\n", rep.Sightings, rep.Stats.Segments,
		rep.Build.Round(time.Second), rep.Open.Round(time.Millisecond))
	fmt.Fprintf(w, "%-34s %8s %8s %8s %9s %9s %6s\n", "query", "p50 ms", "p99 ms", "max ms", "cpu p50", "cpu p99", "hits")
	for _, k := range rep.Kinds {
		fmt.Fprintf(w, "%-34s %8.1f %8.1f %8.1f %9.1f %9.1f %6.1f\n", k.Name, msOf(k.P50), msOf(k.P99), msOf(k.Max),
			msOf(k.CPUP50), msOf(k.CPUP99), k.MeanHits)
	}
	for _, c := range cands[:len(cands)*min(1, *recall)] {
		fmt.Fprintf(w, "recall@10 with %d candidates: %.3f (exact scan p50 %.0f ms)\n", c, rep.RecallAt10[c], msOf(rep.ExactP50))
	}
	fmt.Fprintf(w, "memory: scanned columns %.0f MB, segment files %.0f MB mapped, RSS %.0f MB (peak %.0f MB), Go heap %.0f MB\n",
		mb(rep.Stats.ScanBytes), mb(rep.Stats.FileBytes), mb(rep.RSS), mb(rep.HWM), mb(rep.HeapInuse))
	return nil
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) float64 { return float64(b) / (1 << 20) }
