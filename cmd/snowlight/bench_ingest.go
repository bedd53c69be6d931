package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"snowlight/ingest/ingestbench"
	"snowlight/testvideos"
)

func runBenchIngest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench ingest", "[--cameras N] [--duration D] [--json]")
	cameras := fs.Int("cameras", 4, "simulated 720p25 cameras")
	duration := fs.Duration("duration", 20*time.Second, "how long each reader runs")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a Markdown table")
	client := fs.String("client", "", "internal: run one reader (pipeline, keyframes, videocapture) on the URLs and print its frame count")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *client != "" {
		r, err := ingestbench.RunClient(ctx, *client, fs.Args(), *duration)
		if err != nil {
			return err
		}
		return json.NewEncoder(e.stdout).Encode(r)
	}
	paths, err := testvideos.Ensure(ctx, testvideos.VTest720p)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	rep, err := ingestbench.Run(ctx, ingestbench.Options{Video: paths[testvideos.VTest720p], Cameras: *cameras,
		Duration: *duration, Exe: exe, Log: e.log})
	if err != nil {
		return err
	}
	return printReport(e, *asJSON, rep)
}
