package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
)

// Stage is one long-running part of a server. Run works until ctx ends and then returns nil; any
// return before that, with an error or without, stops the whole server.
type Stage struct {
	Name string
	Run  func(ctx context.Context) error
}

// tier is a set of stages stopped together; after stops it (e.g. closes a queue the next tier drains).
type tier struct {
	stages []Stage
	after  func()
}

// runGroup runs every stage of every tier until ctx ends or the first stage returns, then stops the
// tiers one after the other in order, each completely before the next, so that what an earlier tier
// hands on while stopping (the cameras' last sightings) is still taken by a later one. It returns the
// first stage error (a stage that returned by itself counts as failed), which it also logs; errors of
// stages while stopping are logged, and returned when nothing failed before.
//
// It is Prometheus' run group (github.com/oklog/run) with two changes that do not fit that package's
// interrupt functions: every stage here is a func(ctx) error, so stopping is cancelling a context; and
// the stop is ordered in tiers instead of all at once.
func runGroup(ctx context.Context, log *slog.Logger, tiers []tier) error {
	type exit struct {
		name string
		err  error
	}
	total := 0
	for _, t := range tiers {
		total += len(t.stages)
	}
	exits := make(chan exit, total) // never blocks a stage
	cancels := make([]context.CancelFunc, len(tiers))
	running := make([]sync.WaitGroup, len(tiers))
	for i, t := range tiers {
		// A tier's context ends only when the group stops it, not with ctx: the group stops the tiers
		// in order.
		tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cancels[i] = cancel
		for _, st := range t.stages {
			running[i].Go(func() { exits <- exit{st.Name, st.Run(tctx)} })
		}
	}

	var first error
	select {
	case <-ctx.Done():
	case e := <-exits:
		first = e.err
		if clean(first) {
			first = errors.New("stopped by itself")
		}
		first = fmt.Errorf("%s: %w", e.name, first)
		log.Error("a stage failed: stopping the server", "err", first)
	}
	for i, t := range tiers {
		cancels[i]()
		running[i].Wait()
		if t.after != nil {
			t.after()
		}
	}
	close(exits)
	for e := range exits {
		if clean(e.err) {
			continue
		}
		err := fmt.Errorf("%s: %w", e.name, e.err)
		log.Error("a stage failed while stopping", "err", err)
		if first == nil {
			first = err
		}
	}
	return first
}

// clean reports whether a stage's error means only that it was stopped.
func clean(err error) bool {
	return err == nil || errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed)
}
