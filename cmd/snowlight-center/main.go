// Command snowlight-center is the center of a distributed deployment alone: the same as `snowlight
// center`, in a binary that links no picture library (no OpenCV, no libav), for a machine that runs
// only the database, the alerts and the console. internal/deps holds it to that.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"snowlight/config"
	"snowlight/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("snowlight-center", flag.ExitOnError)
	path := fs.String("config", "", "the deployment's configuration (with its nats section)")
	fs.Parse(os.Args[1:])
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: snowlight-center --config FILE.yaml")
		os.Exit(2)
	}
	cfg, err := config.Load(*path)
	if err == nil {
		err = server.RunCenter(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)), os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "snowlight-center:", err)
		os.Exit(1)
	}
}
