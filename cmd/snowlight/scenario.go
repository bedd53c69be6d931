package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"snowlight/testvideos"
)

// runScenario renders multi-camera test scenarios (real photos of people walking over real backgrounds)
// with their ground truth.
func runScenario(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		scenarioUsage(e)
		return errUsage
	}
	switch args[0] {
	case "render":
		return runScenarioRender(ctx, e, args[1:])
	case "check":
		return runScenarioCheck(e, args[1:])
	case "cache":
		return runScenarioCache(ctx, e, args[1:])
	case "list":
		for _, n := range testvideos.BuiltinScenarios() {
			fmt.Fprintln(e.stdout, n)
		}
		return nil
	default:
		fmt.Fprintf(e.stderr, "snowlight scenario: unknown action %q\n", args[0])
		scenarioUsage(e)
		return errUsage
	}
}

func scenarioUsage(e *env) {
	fmt.Fprint(e.stderr, `usage: snowlight scenario render --spec FILE.yaml|NAME --out DIR
       snowlight scenario cache [FILE.yaml|NAME ...]
       snowlight scenario check --spec FILE.yaml|NAME
       snowlight scenario list

render writes DIR/<camera>.mp4 (H.264) per camera, DIR/truth.json and DIR/<camera>.gt.txt (MOTChallenge).
cache renders into the cache the tests and the demo read ($SNOWLIGHT_TESTVIDEOS/scenarios), unless an
earlier run already did, and prints each scenario's directory; without arguments, every built-in one.
NAME is one of the scenarios built into the binary (see list).
`)
}

// loadScenarioSpec reads a spec file, or a built-in scenario when the argument names no file.
func loadScenarioSpec(spec string) (*testvideos.Spec, error) {
	// A bare name is a built-in scenario even when a directory of that name sits in the working
	// directory (the repository has alerts/ beside the "alerts" scenario); a file needs a path or extension.
	if !strings.ContainsAny(spec, "/.") {
		return testvideos.BuiltinScenario(spec)
	}
	return testvideos.LoadSpec(spec)
}

func runScenarioRender(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "scenario render", "--spec FILE.yaml|NAME --out DIR")
	spec := fs.String("spec", "", "scenario spec file, or the name of a built-in scenario")
	out := fs.String("out", "", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *spec == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	s, err := loadScenarioSpec(*spec)
	if err != nil {
		return err
	}
	start := time.Now()
	t, err := testvideos.Render(ctx, s, *out, testvideos.RenderOptions{Log: e.log})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("render %s: interrupted", s.Name)
		}
		return err
	}
	for _, c := range t.Cameras {
		fmt.Fprintf(e.stdout, "%s\t%dx%d %d fps %d frames\n", filepath.Join(*out, c.File), c.Width, c.Height, c.FPS, len(c.Frames))
	}
	fmt.Fprintf(e.stdout, "%s\t%d persons, %d passes, rendered in %s\n", filepath.Join(*out, testvideos.TruthFile),
		len(t.Persons), len(t.Passes), time.Since(start).Round(100*time.Millisecond))
	return nil
}

func runScenarioCheck(e *env, args []string) error {
	fs := newFlagSet(e, "scenario check", "--spec FILE.yaml|NAME")
	spec := fs.String("spec", "", "scenario spec file, or the name of a built-in scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *spec == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	s, err := loadScenarioSpec(*spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d cameras, %d persons, %d walks: valid\n", s.Name, len(s.Cameras), len(s.Persons), len(s.Walks))
	return nil
}

func runScenarioCache(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "scenario cache", "[FILE.yaml|NAME ...]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	specs := fs.Args()
	if len(specs) == 0 {
		specs = testvideos.BuiltinScenarios()
	}
	for _, name := range specs {
		s, err := loadScenarioSpec(name)
		if err != nil {
			return err
		}
		r, err := testvideos.RenderCached(ctx, s, "", testvideos.RenderOptions{Log: e.log})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\t%s\n", s.Name, r.Dir)
	}
	return nil
}
