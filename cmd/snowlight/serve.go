package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"snowlight/config"
	"snowlight/edge"
	"snowlight/models"
	"snowlight/server"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "--config FILE.yaml [--models DIR] [--engine E]")
	load := addConfigFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load(fs)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, server.Options{Config: cfg, Log: e.log, Stages: e.stages, Cameras: edge.Local})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(e.stdout, "snowlight serving %d cameras; console and API at http://%s/\n", len(cfg.Cameras), srv.Addr())
	return srv.Run(ctx)
}

// configFlags are --config and, for a process with cameras, the models and the engine.
type configFlags struct {
	path, models *string
	engine       engineFlags
}

// addConfigFlags adds --config (and with cameras --models and the engine's flags); the function it
// returns loads the configuration once the flags are parsed, a usage error without --config.
func addConfigFlags(fs *flag.FlagSet, cameras bool) func(*flag.FlagSet) (*config.Config, error) {
	f := configFlags{path: fs.String("config", "", "the deployment's configuration (cameras, areas, patrols, storage, nats, ...)")}
	if cameras {
		f.models = fs.String("models", "", "model directory (overrides the config's models and $"+models.EnvDir+")")
		f.engine = addEngineFlags(fs)
	}
	return func(fs *flag.FlagSet) (*config.Config, error) {
		if *f.path == "" || fs.NArg() > 0 {
			fs.Usage()
			return nil, errUsage
		}
		cfg, err := config.Load(*f.path)
		if err != nil {
			return nil, err
		}
		if f.models == nil {
			return cfg, nil
		}
		if *f.models != "" {
			cfg.Models = *f.models
		} else if cfg.Models == "" {
			cfg.Models = os.Getenv(models.EnvDir)
		}
		f.engine.override(&cfg.Engine, &cfg.ONNXRuntime)
		return cfg, nil
	}
}
