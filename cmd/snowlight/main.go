// Command snowlight is the whole product in one binary: camera ingest, perception, tracking, alerts and
// the console, plus the tools an installer or investigator runs (probe, analyze, camsim, ...).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"snowlight/server"
)

// command is one subcommand. run receives the arguments after the subcommand's name.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every subcommand gets from the process: where to write and how to log.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	// stages run beside the product's own in serve and demo (a test's failing stage).
	stages []server.Stage
}

// commands lists the subcommands. Each lives in its own file, named after it.
func commands() map[string]command {
	return map[string]command{
		"version":     {"print the version", runVersion},
		"serve":       {"run the product on real cameras from a configuration file", runServe},
		"center":      {"run the center of a distributed deployment: its cameras are on edges reached over NATS", runCenter},
		"edge":        {"run an edge of a distributed deployment: the cameras its leases give it", runEdge},
		"demo":        {"run the product on simulated cameras playing a rendered scene", runDemo},
		"camsim":      {"serve video files as RTSP cameras, with fault injection", runCamsim},
		"probe":       {"connect to a camera, decode, and report codec, size, fps, GOP and errors", runProbe},
		"bench":       {"measure a stage against its alternatives (bench ingest)", runBench},
		"scenario":    {"render multi-camera test scenarios with ground truth", runScenario},
		"testvideos":  {"generate the camera-like test streams from real footage", runTestvideos},
		"user":        {"add, list, disable users and set their passwords", runUser},
		"audit":       {"verify the audit log's hash chain", runAudit},
		"case":        {"verify a case evidence bundle offline (case verify BUNDLE)", runCase},
		"retention":   {"delete what the retention periods no longer allow (run); place and release case holds", runRetention},
		"mot":         {"score (eval) or run (track) multi-object tracking on MOTChallenge files", runMot},
		"trajectory":  {"follow a person or a sighting through the cameras, or list what a camera saw", runTrajectory},
		"replay":      {"play recorded cameras through detection, tracking and stitching into the database", runReplay},
		"analyze":     {"find people and faces in a video or photos and name those in a gallery", runAnalyze},
		"enroll":      {"add a person to the watch list from photos; list or remove entries", runEnroll},
		"models":      {"list, verify or download (fetch) the model weights", runModels},
		"nats-config": {"write the NATS servers' configuration and a credentials seed per process (distributed mode)", runNATSConfig},
	}
}

// errUsage marks a mistake in the command line; the usage text has already been printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&env{stdout: stdout, stderr: stderr, log: newLogger(stderr)}).run(ctx, args)
}

// run runs the command args name and returns the exit code: 0 when it succeeded or printed the help
// it was asked for, 2 for a mistake in the command line, 1 when it failed.
func (e *env) run(ctx context.Context, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		usage(e.stderr, cmds)
		return 2
	}
	if helpFlag(args[0]) || args[0] == "help" {
		usage(e.stderr, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "snowlight: unknown command %q\n\n", args[0])
		usage(e.stderr, cmds)
		return 2
	}
	if err := c.run(ctx, e, args[1:]); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0 // a flag set printed the help it was asked for
		case errors.Is(err, errUsage) && len(args) > 1 && helpFlag(args[1]):
			return 0 // a command with subcommands printed its usage when asked for help
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(e.stderr, "snowlight %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// helpFlag reports whether arg asks for help the way the flag package understands it.
func helpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: snowlight <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'snowlight <command> -h' for the flags of one command.")
}

// newLogger logs structured text to w; SNOWLIGHT_LOG=debug|info|warn|error and SNOWLIGHT_LOG_FORMAT=json
// adjust it.
func newLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("SNOWLIGHT_LOG"))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("SNOWLIGHT_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newFlagSet returns a flag set for a subcommand that reports errors instead of exiting.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("snowlight "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: snowlight %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}
