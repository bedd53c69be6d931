package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"snowlight/deploy"
	"snowlight/edge"
	"snowlight/objstore"
	"snowlight/server"
)

// runEdge runs an edge of a distributed deployment: the cameras its leases give it, reporting to the
// center over NATS. Its id, capacity and credentials come from the configuration's nats section or
// the flags (one file may serve every edge).
func runEdge(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "edge", "--config FILE.yaml [--id ID] [--capacity N] [--seed FILE] [--models DIR] [--engine E]")
	load := addConfigFlags(fs, true)
	id := fs.String("id", "", "this edge's id (overrides nats.edge)")
	capacity := fs.Int("capacity", 0, "cameras this edge can hold (overrides nats.capacity)")
	seed := fs.String("seed", "", "this edge's nkey seed file (overrides nats.seed_file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load(fs)
	if err != nil {
		return err
	}
	if *id != "" {
		cfg.NATS.Edge = *id
	}
	if *capacity > 0 {
		cfg.NATS.Capacity = *capacity
	}
	if *seed != "" {
		cfg.NATS.SeedFile = *seed
	}
	if cfg.Storage.Kind != "minio" {
		return errors.New("an edge uploads snapshots and clips where the center reads them: configure storage.kind: minio")
	}
	dep, err := deploy.Decode(cfg)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	objects, spool, err := server.EvidenceStore(ctx, cfg, objstore.DirOptions{}, reg, e.log)
	if err != nil {
		return err
	}
	ed, err := edge.New(edge.Options{Config: cfg, Deployment: dep, Objects: objects, Registry: reg, Log: e.log})
	if err != nil {
		return err
	}
	defer ed.Shutdown()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if spool != nil {
		go spool.Run(ctx)
	}
	if cfg.OpsListen != "" {
		ln, err := net.Listen("tcp", cfg.OpsListen)
		if err != nil {
			return fmt.Errorf("listen on %s (ops): %w", cfg.OpsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		hs := &http.Server{Handler: mux}
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.log.Error("ops listener stopped", "err", err)
			}
		}()
		defer hs.Close()
	}
	fmt.Fprintf(e.stdout, "snowlight edge %s: up to %d cameras, reporting over NATS %v\n", cfg.NATS.Edge, cfg.NATS.Capacity, cfg.NATS.URLs)
	return ed.RunNATS(ctx)
}
