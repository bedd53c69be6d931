package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/store"
)

func credentialRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.R.QueryRow(`SELECT count(*) FROM auth_credentials`).Scan(&n))
	return n
}

// TestPurgeDeletesUnusedCredentials: sessions left idle and tokens past their lifetime go from the
// database without ever being presented again; live ones stay.
func TestPurgeDeletesUnusedCredentials(t *testing.T) {
	s, db, clk := newService(t, func(c *auth.Config) {
		c.SessionIdle, c.SessionMax, c.TokenTTL = 30*time.Minute, 2*time.Hour, time.Hour
	})
	ctx := context.Background()
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	login1 := func(kind auth.CredentialKind) auth.Issued {
		iss, err := login(s, "ana", pw, ip1, kind)
		require.NoError(t, err)
		return iss
	}
	login1(auth.KindSession) // left idle
	busy := login1(auth.KindSession)
	login1(auth.KindToken) // outlives its hour
	// busy is used every 20 minutes.
	for range 2 {
		clk.Advance(20 * time.Minute)
		_, err := s.Authenticate(ctx, busy.Secret, auth.KindSession)
		require.NoError(t, err)
	}
	fresh := login1(auth.KindToken)
	clk.Advance(25 * time.Minute)

	n, err := s.PurgeExpired(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "the idle session and the old token")
	assert.Equal(t, 2, credentialRows(t, db))
	for _, c := range []auth.Issued{busy, fresh} {
		_, err := s.Authenticate(ctx, c.Secret, c.Kind)
		assert.NoError(t, err, "%s purged while live", c.Kind)
	}
}
