package main

import (
	"context"
	"fmt"

	"snowlight/testvideos"
)

func runTestvideos(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "testvideos", "[--out DIR] [--source FILE]")
	out := fs.String("out", testvideos.Dir(), "output folder (default $SNOWLIGHT_TESTVIDEOS or out/testvideos)")
	source := fs.String("source", testvideos.DefaultSource, "real footage to turn into camera-like streams")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rs, err := testvideos.Generate(ctx, testvideos.GenerateOptions{Dir: *out, Source: *source, Log: e.log})
	if err != nil {
		return err
	}
	for _, r := range rs {
		state := "up to date"
		if r.Generated {
			state = "generated"
		}
		fmt.Fprintf(e.stdout, "%-12s %4dx%-4d %2d fps  GOP %d  %6.1fs  %s  (%s)\n",
			r.Name, r.Width, r.Height, r.FPS, r.GOP, r.Duration().Seconds(), r.Path, state)
	}
	return nil
}
