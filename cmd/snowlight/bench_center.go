package main

import (
	"context"
	"os"

	"snowlight/server/centerbench"
)

// runBenchCenter feeds the real center synthetic sightings from lease-holding edges through real
// nats-server processes and reports its sustained rate, consumer lag and alert latency
// (docs/BENCHMARKS.md, "The center over NATS").
func runBenchCenter(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench center", "[--cameras N] [--rate PER_CAMERA_PER_S] [--edges K] [--duration D] [--nats-servers 1|3] [--json]")
	o := centerbench.DefaultOptions()
	fs.IntVar(&o.Cameras, "cameras", o.Cameras, "cameras the center publishes and the edges lease")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "sightings per camera per second")
	fs.IntVar(&o.Edges, "edges", o.Edges, "synthetic edges sharing the cameras")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time, after the cameras are leased and --warmup")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "publishing before the measurement")
	fs.IntVar(&o.NATSServers, "nats-servers", o.NATSServers, "1 (one server) or 3 (a JetStream cluster, streams R3)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of Markdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "snowlight-bench-center-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.Dir, o.Log = dir, e.log
	rep, err := centerbench.Run(ctx, o)
	if err != nil {
		return err
	}
	return printReport(e, *asJSON, rep)
}
