package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// benchmarks lists the `snowlight bench` targets, one file each (bench_<name>.go).
func benchmarks() map[string]command {
	return map[string]command{
		"center":     {"sightings/s, consumer lag and alert latency of the center fed over NATS by synthetic lease-holding edges", runBenchCenter},
		"ingest":     {"CPU per frame of ingest vs ffmpeg vs OpenCV VideoCapture on simulated 720p cameras", runBenchIngest},
		"search":     {"query latency, recall and memory of the search index over synthetic sightings", runBenchSearch},
		"density":    {"how many busy-street cameras the machine holds in real time through ingest and perception, per engine", runBenchDensity},
		"perception": {"ms per stage, CPU per camera-second per engine, gated vs ungated and scheduled vs every-person appearance, Go vs OpenCV's own YuNet/YOLOX", runBenchPerception},
	}
}

func runBench(ctx context.Context, e *env, args []string) error {
	bs := benchmarks()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		names := make([]string, 0, len(bs))
		for n := range bs {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(e.stderr, "usage: snowlight bench <target> [flags]\n\ntargets:")
		for _, n := range names {
			fmt.Fprintf(e.stderr, "  %-10s %s\n", n, bs[n].summary)
		}
		return errUsage
	}
	b, ok := bs[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q", args[0])
	}
	return b.run(ctx, e, args[1:])
}

// printReport prints a benchmark's report as indented JSON, or as the Markdown tables of
// docs/BENCHMARKS.md.
func printReport(e *env, asJSON bool, rep interface{ Markdown() string }) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprint(e.stdout, rep.Markdown())
	return nil
}
