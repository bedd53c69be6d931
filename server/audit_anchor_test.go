package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/config"
)

// TestAuditAnchoredWhileRunningAndAtShutdown: serve seals audit entries with the configured key and
// writes the chain's head to the evidence store when it starts and as it stops, so the last entries
// before a shutdown are anchored too.
func TestAuditAnchoredWhileRunningAndAtShutdown(t *testing.T) {
	key := strings.Repeat("k", config.MinAuditKeyLen)
	cfg, err := config.Parse(strings.NewReader("listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\naudit: {key: env:KEY, anchor_every: 1h}\n"),
		func(n string) string { return map[string]string{"KEY": key}[n] })
	require.NoError(t, err)
	s, err := New(t.Context(), Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	record := func() audit.Entry {
		e, err := s.audit.Append(ctx, audit.Record{Actor: "ines", Action: "trajectory.query", Case: "K-1", Reason: "a test of anchoring"})
		require.NoError(t, err)
		return e
	}
	first := record()
	keys, err := audit.NewKeyring(key)
	require.NoError(t, err)
	assert.Equal(t, keys.Current.ID(), first.Key, "entry not sealed with the configured key")

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Run(runCtx) }()
	require.Eventually(t, func() bool {
		rep, err := s.audit.Verify(ctx, audit.Head{})
		return err == nil && rep.Anchored != nil
	}, 10*time.Second, 10*time.Millisecond, "no anchor at start")
	last := record()
	stop()
	require.NoError(t, <-done)

	rep, err := s.audit.Verify(ctx, audit.Head{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.NotNil(t, rep.Anchored)
	assert.Equal(t, last.ID, rep.Anchored.ID, "the last entry before shutdown is not anchored")
	assert.Equal(t, keys.Current.ID(), rep.Anchored.Signer)
}
