package auth_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/store"
)

// TestCheckFollowsRevocation checks that a credential checked again later (as an open event stream or
// live view is) fails once it is logged out, ended by a password change or by disabling, or expired,
// that the check does not count as use, and that it returns the user's current scope.
func TestCheckFollowsRevocation(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newService(t, func(c *auth.Config) { c.SessionIdle = 10 * time.Minute })
	u := addUser(t, s, "olga", auth.Operator, auth.Scope{Cameras: []string{"corner"}})
	login := func(kind auth.CredentialKind) auth.Principal {
		t.Helper()
		is, err := s.Login(ctx, auth.LoginRequest{Name: "olga", Password: pw, Kind: kind})
		require.NoError(t, err)
		p, err := s.Authenticate(ctx, is.Secret, kind)
		require.NoError(t, err)
		return p
	}
	check := func(p auth.Principal) error {
		_, err := s.Check(ctx, p)
		return err
	}

	p := login(auth.KindSession)
	got, err := s.Check(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, []string{"corner"}, got.Scope.Cameras)
	require.NoError(t, s.SetScope(ctx, u.ID, auth.Scope{Cameras: []string{"market"}}))
	got, err = s.Check(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, []string{"market"}, got.Scope.Cameras, "the check returns the scope as it is now")

	require.NoError(t, s.Logout(ctx, p))
	assert.ErrorIs(t, check(p), auth.ErrUnauthenticated, "logged out")

	p, tok := login(auth.KindSession), login(auth.KindToken)
	require.NoError(t, s.SetPassword(ctx, u.ID, "a new long password"))
	assert.ErrorIs(t, check(p), auth.ErrUnauthenticated, "password changed: session")
	assert.ErrorIs(t, check(tok), auth.ErrUnauthenticated, "password changed: token")

	is, err := s.Login(ctx, auth.LoginRequest{Name: "olga", Password: "a new long password", Kind: auth.KindSession})
	require.NoError(t, err)
	p, err = s.Authenticate(ctx, is.Secret, auth.KindSession)
	require.NoError(t, err)
	// Checks do not keep a session alive: only requests do.
	for range 2 {
		clk.Advance(4 * time.Minute)
		assert.NoError(t, check(p))
	}
	clk.Advance(4 * time.Minute)
	assert.ErrorIs(t, check(p), auth.ErrUnauthenticated, "idle for 12 minutes, checked every 4")

	is, err = s.Login(ctx, auth.LoginRequest{Name: "olga", Password: "a new long password", Kind: auth.KindToken})
	require.NoError(t, err)
	tok, err = s.Authenticate(ctx, is.Secret, auth.KindToken)
	require.NoError(t, err)
	require.NoError(t, check(tok))
	require.NoError(t, s.SetDisabled(ctx, u.ID, true))
	assert.ErrorIs(t, check(tok), auth.ErrUnauthenticated, "disabled")
	assert.ErrorIs(t, check(auth.Principal{User: u, Kind: auth.KindToken}), auth.ErrUnauthenticated, "not authenticated here")
}

// BenchmarkRecheck measures what an open stream's periodic check costs, against the authentication
// every request pays (the baseline, same run).
func BenchmarkRecheck(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
	require.NoError(b, err)
	defer db.Close()
	s, err := auth.NewService(auth.Config{Store: db, Argon2: cheap})
	require.NoError(b, err)
	_, err = s.AddUser(ctx, auth.NewUser{Name: "olga", Role: auth.Operator, Password: pw, Scope: auth.Scope{Cameras: []string{"corner"}}})
	require.NoError(b, err)
	is, err := s.Login(ctx, auth.LoginRequest{Name: "olga", Password: pw, Kind: auth.KindToken})
	require.NoError(b, err)
	p, err := s.Authenticate(ctx, is.Secret, auth.KindToken)
	require.NoError(b, err)
	b.Run("Authenticate", func(b *testing.B) {
		for b.Loop() {
			_, err := s.Authenticate(ctx, is.Secret, auth.KindToken)
			require.NoError(b, err)
		}
	})
	b.Run("Check", func(b *testing.B) {
		for b.Loop() {
			_, err := s.Check(ctx, p)
			require.NoError(b, err)
		}
	})
}
