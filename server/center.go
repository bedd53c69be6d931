package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"snowlight/config"
)

// RunCenter runs the center of a distributed deployment (`snowlight center`) from cfg until ctx ends:
// the server with its cameras on the edges reached over NATS.
func RunCenter(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	srv, err := New(ctx, Options{Config: cfg, Log: log, Cameras: NATS})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(out, "snowlight center: %d cameras on edges over NATS %v; console and API at http://%s/\n",
		len(cfg.Cameras), cfg.NATS.URLs, srv.Addr())
	return srv.Run(ctx)
}
