package main

import (
	"context"

	"snowlight/server"
)

// runCenter runs the center of a distributed deployment: everything but the cameras, which edges hold
// (`snowlight edge`). It decodes no video; investigation's models (search by picture, an export's
// face redaction) run in it.
func runCenter(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "center", "--config FILE.yaml")
	load := addConfigFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load(fs)
	if err != nil {
		return err
	}
	return server.RunCenter(ctx, cfg, e.log, e.stdout)
}
