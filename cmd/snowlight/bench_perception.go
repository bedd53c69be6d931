package main

import (
	"context"
	"fmt"
	"time"

	"snowlight/detect/detectbench"
	"snowlight/models"
	"snowlight/testvideos"
)

func runBenchPerception(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench perception", "[--models DIR] [--engine E] [--duration D] [--fps N] [--json]")
	modelsDir := fs.String("models", "", "models directory (default $"+models.EnvDir+")")
	engine := addEngineFlags(fs)
	o := detectbench.DefaultOptions()
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each video measured")
	fs.Float64Var(&o.FPS, "fps", o.FPS, "detection frames per second")
	fs.IntVar(&o.RefRounds, "ref-rounds", o.RefRounds, "rounds of the Go vs OpenCV C++ comparison (0 skips it)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of Markdown tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.ModelsDir = models.ResolveDir(*modelsDir); o.ModelsDir == "" {
		return fmt.Errorf("bench perception needs the models: pass --models DIR or set %s", models.EnvDir)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	paths, err := testvideos.Ensure(ctx, testvideos.Quiet)
	if err != nil {
		return err
	}
	o.Busy, o.Quiet, o.Log = testvideos.DefaultSource, paths[testvideos.Quiet], e.log
	if o.Engines, err = engine.compared(e.log); err != nil {
		return err
	}
	rep, err := detectbench.Run(ctx, o)
	if err != nil {
		return err
	}
	return printReport(e, *asJSON, rep)
}
