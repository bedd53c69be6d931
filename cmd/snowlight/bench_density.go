package main

import (
	"context"
	"fmt"
	"os"

	"snowlight/models"
	"snowlight/pipeline/densitybench"
	"snowlight/testvideos"
)

func runBenchDensity(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench density", "[--models DIR] [--engine E] [--start N] [--step N] [--max N] [--window D] [--json]")
	modelsDir := fs.String("models", "", "models directory (default $"+models.EnvDir+")")
	engine := addEngineFlags(fs)
	o := densitybench.DefaultOptions()
	fs.Float64Var(&o.FPS, "fps", o.FPS, "detection frames per second per camera")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "time for the cameras to connect before each measurement")
	fs.DurationVar(&o.Window, "window", o.Window, "measured time per camera count")
	fs.IntVar(&o.Start, "start", o.Start, "first camera count")
	fs.IntVar(&o.Step, "step", o.Step, "camera count step until a count fails (then the counts between are tried)")
	fs.IntVar(&o.Max, "max", o.Max, "largest camera count tried")
	one := fs.Bool("one-engine", false, "search only the --engine's count, not also the other engine's")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a Markdown table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.ModelsDir = models.ResolveDir(*modelsDir); o.ModelsDir == "" {
		return fmt.Errorf("bench density needs the models: pass --models DIR or set %s", models.EnvDir)
	}
	paths, err := testvideos.Ensure(ctx, testvideos.VTest)
	if err != nil {
		return err
	}
	o.Video, o.Log = paths[testvideos.VTest], e.log
	if o.Exe, err = os.Executable(); err != nil {
		return err
	}
	if o.Engines, err = engine.compared(e.log); err != nil {
		return err
	}
	if *one {
		o.Engines = o.Engines[:1]
	}
	rep, err := densitybench.Run(ctx, o)
	if err != nil {
		return err
	}
	return printReport(e, *asJSON, rep)
}
