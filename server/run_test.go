package server

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunGroup checks the run group's rules: the first stage to return stops every stage, tier by
// tier in order; its error is the result, and returning without one is a failure too; a clean stop
// returns nil, unless a stage fails while stopping.
func TestRunGroup(t *testing.T) {
	boom := errors.New("boom")
	waits := func(ctx context.Context) error { <-ctx.Done(); return nil }
	tests := []struct {
		name    string
		front   func(context.Context) error // a stage of the first tier
		back    func(context.Context) error // a stage of the last tier
		cancel  bool                        // the parent context ends
		wantErr string
		is      error
	}{
		{name: "parent ends", front: waits, back: waits, cancel: true},
		{name: "back stage fails", front: waits, back: func(context.Context) error { return boom }, wantErr: "back: boom", is: boom},
		{name: "front stage fails", front: func(context.Context) error { return boom }, back: waits, wantErr: "front: boom", is: boom},
		{name: "stage stops by itself", front: waits, back: func(context.Context) error { return nil }, wantErr: "back: stopped by itself"},
		{name: "cancelled is clean", front: waits, back: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, cancel: true},
		{name: "fails while stopping", front: waits, back: func(ctx context.Context) error { <-ctx.Done(); return boom }, cancel: true,
			wantErr: "back: boom", is: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var order []string
			note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
			stage := func(name string, run func(context.Context) error) Stage {
				return Stage{name, func(ctx context.Context) error { err := run(ctx); note(name); return err }}
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			err := runGroup(ctx, slog.New(slog.DiscardHandler), []tier{
				{stages: []Stage{stage("cameras", waits), stage("front", tc.front)}, after: func() { note("after cameras") }},
				{stages: []Stage{stage("web", waits), stage("back", tc.back)}},
			})
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			// Every stage stopped once; the first tier before its hook, the hook before the last tier.
			assert.ElementsMatch(t, []string{"cameras", "front", "after cameras", "web", "back"}, order)
			hook := slices.Index(order, "after cameras")
			assert.Contains(t, order[:hook], "cameras", order)
			assert.Contains(t, order[:hook], "front", order)
			assert.Contains(t, order[hook+1:], "web", order)
		})
	}
}
