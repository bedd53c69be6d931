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
	"snowlight/auth"
	"snowlight/config"
)

// TestUpkeep: serve seals audit entries with the configured key and writes the chain's head to the
// evidence store when it starts and as it stops, so the last entries before a shutdown are anchored too;
// and it deletes sessions and tokens nobody can use any more.
func TestUpkeep(t *testing.T) {
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

	u, err := s.auth.AddUser(ctx, auth.NewUser{Name: "ines", Role: auth.Investigator, Password: "a long enough password"})
	require.NoError(t, err)
	old := time.Now().Add(-48 * time.Hour)
	require.NoError(t, s.db.CreateCredential(ctx, auth.Credential{IDHash: strings.Repeat("ab", 32), UserID: u.ID,
		Kind: auth.KindToken, Created: old, LastSeen: old, Expires: old.Add(24 * time.Hour)}))
	credentials := func() (n int) {
		require.NoError(t, s.db.R.QueryRow(`SELECT count(*) FROM auth_credentials`).Scan(&n))
		return n
	}
	require.Equal(t, 1, credentials())

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Run(runCtx) }()
	require.Eventually(t, func() bool {
		rep, err := s.audit.Verify(ctx, audit.Head{})
		return err == nil && rep.Anchored != nil
	}, 10*time.Second, 10*time.Millisecond, "no anchor at start")
	require.Eventually(t, func() bool { return credentials() == 0 }, 10*time.Second, 10*time.Millisecond, "expired token kept")
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
