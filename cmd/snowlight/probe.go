package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"snowlight/ingest"
)

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "probe", "[--frames N | --duration D] [--json] [--transport tcp|udp] URL")
	frames := fs.Int("frames", 0, "stop after this many decoded frames (default 100)")
	duration := fs.Duration("duration", 0, "run this long, reconnecting through outages")
	timeout := fs.Duration("timeout", 30*time.Second, "give up a --frames probe after this long")
	asJSON := fs.Bool("json", false, "print one JSON object")
	transport := fs.String("transport", "tcp", "RTP transport: tcp or udp")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*frames > 0 && *duration > 0) {
		fs.Usage()
		return errUsage
	}
	r, err := ingest.Probe(ctx, ingest.ProbeOptions{URL: fs.Arg(0), Transport: ingest.Transport(*transport),
		Frames: *frames, Duration: *duration, Timeout: *timeout, Log: e.log})
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(r); encErr != nil {
			return encErr
		}
	} else if r.Frames > 0 {
		fmt.Fprintf(e.stdout, "camera      %s\n", r.URL)
		fmt.Fprintf(e.stdout, "codec       %s %dx%d\n", r.Codec, r.Width, r.Height)
		fmt.Fprintf(e.stdout, "fps         %.2f (measured)\n", r.FPS)
		fmt.Fprintf(e.stdout, "gop         %d frames\n", r.GOP)
		fmt.Fprintf(e.stdout, "frames      %d decoded in %.1fs, %.2f ms each\n", r.Frames, r.Seconds, r.DecodeMsPerFrame)
		fmt.Fprintf(e.stdout, "clock       %s\n", r.Clock)
		fmt.Fprintf(e.stdout, "reconnects  %d (%d frames after them)\n", r.Reconnects, r.FramesAfterReconnect)
		fmt.Fprintf(e.stdout, "lost        %d RTP packets, %d decode errors\n", r.PacketsLost, r.DecodeErrors)
		for _, msg := range r.Errors {
			fmt.Fprintf(e.stdout, "error       %s\n", msg)
		}
	}
	return err
}
