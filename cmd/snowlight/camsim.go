package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"snowlight/ingest/camsim"
)

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runCamsim(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "camsim", "[--addr HOST:PORT] [--user U --pass P] [--fault NAME:SPEC]... FILE...")
	addr := fs.String("addr", "127.0.0.1:8554", "RTSP listen address")
	udp := fs.String("udp", "", `RTP port for UDP transport (even; RTCP on the next port); "" picks a free pair, "off" disables UDP`)
	user := fs.String("user", "", "require this user name (digest or basic auth)")
	pass := fs.String("pass", "", "password for --user")
	var faults multiFlag
	fs.Var(&faults, "fault", "fault schedule for one path, NAME:key=value,... with keys drop-every, stall-every, "+
		"stall-for, loss (percent), restart-every, ts-jump, no-keyframes (true: never another keyframe), pad (filler bytes per picture) (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	if (*user == "") != (*pass == "") {
		return errors.New("--user and --pass go together")
	}
	srv := camsim.New(camsim.Options{Addr: *addr, UDPAddr: *udp, User: *user, Pass: *pass, Log: e.log})
	for _, f := range fs.Args() {
		if err := srv.AddFile("", f); err != nil {
			return err
		}
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Close()
	for _, spec := range faults {
		name, rest, ok := strings.Cut(spec, ":")
		if !ok {
			return fmt.Errorf("--fault %q: want NAME:key=value,...", spec)
		}
		f, err := camsim.ParseFaults(rest)
		if err != nil {
			return fmt.Errorf("--fault %q: %w", spec, err)
		}
		if err := srv.SetFaults(name, f); err != nil {
			return fmt.Errorf("--fault %q: %w", spec, err)
		}
	}
	for _, p := range srv.Paths() {
		fmt.Fprintln(e.stdout, srv.URL(p))
	}
	<-ctx.Done()
	return nil
}
