package main

import (
	"context"
	"fmt"
	"os"

	"snowlight/config"
	"snowlight/edge"
	"snowlight/models"
	"snowlight/server"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "--config FILE.yaml [--models DIR] [--engine E]")
	cfgPath := fs.String("config", "", "the deployment's configuration (cameras, areas, patrols, storage, ...)")
	modelsDir := fs.String("models", "", "model directory (overrides the config's models and $"+models.EnvDir+")")
	engine := addEngineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *modelsDir != "" {
		cfg.Models = *modelsDir
	} else if cfg.Models == "" {
		cfg.Models = os.Getenv(models.EnvDir)
	}
	engine.override(&cfg.Engine, &cfg.ONNXRuntime)
	srv, err := server.New(ctx, server.Options{Config: cfg, Log: e.log, Stages: e.stages, Cameras: edge.Local})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(e.stdout, "snowlight serving %d cameras; console and API at http://%s/\n", len(cfg.Cameras), srv.Addr())
	return srv.Run(ctx)
}
