package auth_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cheap is argon2id at a cost that keeps the tests quick; TestDefaultParameters covers the real cost.
var cheap = auth.Argon2Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}

func newService(t *testing.T, mod func(*auth.Config)) (*auth.Service, *store.DB, *clock) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
	cfg := auth.Config{Store: db, Now: clk.Now, Argon2: cheap}
	if mod != nil {
		mod(&cfg)
	}
	s, err := auth.NewService(cfg)
	require.NoError(t, err)
	return s, db, clk
}

const pw = "correct horse battery"

func addUser(t *testing.T, s *auth.Service, name string, r auth.Role, sc auth.Scope) auth.User {
	t.Helper()
	u, err := s.AddUser(context.Background(), auth.NewUser{Name: name, Role: r, Password: pw, Scope: sc})
	require.NoError(t, err)
	return u
}

var ip1, ip2 = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")

func login(s *auth.Service, name, password string, client netip.Addr, kind auth.CredentialKind) (auth.Issued, error) {
	return s.Login(context.Background(), auth.LoginRequest{Name: name, Password: password, Client: client, Kind: kind})
}

func TestLoginIssuesCredentialsOfTheRightKind(t *testing.T) {
	s, db, _ := newService(t, nil)
	ctx := context.Background()
	u := addUser(t, s, "Ana.Op", auth.Operator, auth.Scope{Cameras: []string{"cam1"}})
	require.Equal(t, "ana.op", u.Name, "name not normalised")
	tok, err := login(s, "ANA.OP", pw, ip1, auth.KindToken)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok.Secret, auth.TokenPrefix), "token %q", tok.Secret)
	require.GreaterOrEqual(t, len(tok.Secret), 40, "token %q", tok.Secret)
	ses, err := login(s, "ana.op", pw, ip1, auth.KindSession)
	require.NoError(t, err)
	for _, c := range []struct {
		secret string
		kind   auth.CredentialKind
		ok     bool
	}{
		{tok.Secret, auth.KindToken, true},
		{ses.Secret, auth.KindSession, true},
		{tok.Secret, auth.KindSession, false}, // a token is not a cookie
		{ses.Secret, auth.KindToken, false},   // a cookie is not a token
		{tok.Secret + "x", auth.KindToken, false},
		{"", auth.KindSession, false},
	} {
		p, err := s.Authenticate(ctx, c.secret, c.kind)
		if !c.ok {
			assert.Error(t, err, "%s as %s", c.secret, c.kind)
			continue
		}
		if assert.NoError(t, err, "%s as %s", c.secret, c.kind) {
			assert.Equal(t, u.ID, p.User.ID)
			assert.Equal(t, []string{"cam1"}, p.User.Scope.Cameras)
			assert.Equal(t, c.kind, p.Kind)
		}
	}
	// The database holds only hashes of the secrets.
	for _, sec := range []string{tok.Secret, ses.Secret} {
		var n int
		require.NoError(t, db.R.QueryRow(`SELECT count(*) FROM auth_credentials WHERE id_hash = ?`, sec).Scan(&n))
		require.Zero(t, n, "secret stored in clear")
	}
	var hash string
	require.NoError(t, db.R.QueryRow(`SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&hash))
	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=8192,t=1,p=1$"), "password hash %q", hash)
	// Logout ends exactly that credential.
	p, err := s.Authenticate(ctx, tok.Secret, auth.KindToken)
	require.NoError(t, err)
	require.NoError(t, s.Logout(ctx, p))
	_, err = s.Authenticate(ctx, tok.Secret, auth.KindToken)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "token after logout")
	_, err = s.Authenticate(ctx, ses.Secret, auth.KindSession)
	require.NoError(t, err, "other session after logout")
}

func TestFailedLoginsLookAlike(t *testing.T) {
	s, _, _ := newService(t, nil)
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	off := addUser(t, s, "bob", auth.Patrol, auth.Scope{})
	require.NoError(t, s.SetDisabled(context.Background(), off.ID, true))
	for _, c := range []struct{ name, password, reason string }{
		{"ana", "wrong password here", "wrong password"},
		{"nobody", pw, "unknown user"},
		{"bob", pw, "disabled"},
		{"bad name!", pw, "unknown user"},
		{"ana", strings.Repeat("x", 10000), "wrong password"},
	} {
		_, err := login(s, c.name, c.password, ip1, auth.KindToken)
		lf, ok := errors.AsType[*auth.LoginFailure](err)
		if !assert.True(t, ok, "%s: %v is not a LoginFailure", c.name, err) {
			continue
		}
		assert.ErrorIs(t, err, auth.ErrBadCredentials, c.name)
		assert.EqualError(t, err, auth.ErrBadCredentials.Error(), "%s: the message says no more than bad credentials", c.name)
		assert.Equal(t, c.reason, lf.Reason, c.name)
	}
}

func TestLockoutPerUserAndPerClient(t *testing.T) {
	s, _, clk := newService(t, func(c *auth.Config) {
		c.Limits = auth.LoginLimits{PerUser: 3, PerClient: 5, Window: 10 * time.Minute, Lockout: 15 * time.Minute}
	})
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	addUser(t, s, "eve", auth.Operator, auth.Scope{})
	for i := 0; i < 3; i++ {
		_, err := login(s, "ana", "not the password", ip1, auth.KindToken)
		lf, ok := errors.AsType[*auth.LoginFailure](err)
		require.True(t, ok, "failure %d: %v", i, err)
		require.Equal(t, i == 2, lf.Locked, "failure %d locks", i)
	}
	// Locked: even the right password from another address is refused, without checking it.
	_, err := login(s, "ana", pw, ip2, auth.KindToken)
	require.True(t, isLocked(err), "locked user logged in: %v", err)
	// A name that does not exist locks the same way, so lockout reveals nothing.
	for i := 0; i < 3; i++ {
		login(s, "ghost", "x", ip2, auth.KindToken)
	}
	_, err = login(s, "ghost", "x", ip2, auth.KindToken)
	require.True(t, isLocked(err), "unknown name not locked: %v", err)
	// ip1 has 3 failures; 2 more on other names lock the address for every name.
	login(s, "x1", "y", ip1, auth.KindToken)
	login(s, "x2", "y", ip1, auth.KindToken)
	_, err = login(s, "eve", pw, ip1, auth.KindToken)
	require.True(t, isLocked(err), "locked address logged in: %v", err)
	_, err = login(s, "eve", pw, ip2, auth.KindToken)
	require.NoError(t, err, "other address refused")
	clk.Advance(16 * time.Minute)
	_, err = login(s, "ana", pw, ip1, auth.KindToken)
	require.NoError(t, err, "after lockout")
	// Success resets the user's count: two more failures do not lock.
	login(s, "ana", "nope", ip2, auth.KindToken)
	login(s, "ana", "nope", ip2, auth.KindToken)
	_, err = login(s, "ana", pw, ip2, auth.KindToken)
	require.NoError(t, err, "count not reset by success")
}

func TestIPv6ClientsCountPerSlash64(t *testing.T) {
	s, _, _ := newService(t, func(c *auth.Config) {
		c.Limits = auth.LoginLimits{PerUser: 100, PerClient: 2, Window: time.Hour, Lockout: time.Hour}
	})
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	login(s, "a", "b", netip.MustParseAddr("2001:db8:1:2::1"), auth.KindToken)
	login(s, "a", "b", netip.MustParseAddr("2001:db8:1:2::ffff"), auth.KindToken)
	_, err := login(s, "ana", pw, netip.MustParseAddr("2001:db8:1:2:abcd::9"), auth.KindToken)
	require.True(t, isLocked(err), "same /64 not locked: %v", err)
	_, err = login(s, "ana", pw, netip.MustParseAddr("2001:db8:1:3::1"), auth.KindToken)
	require.NoError(t, err, "other /64 locked")
}

func isLocked(err error) bool {
	le, ok := errors.AsType[*auth.LockedError](err)
	return ok && le.RetryAfter > 0
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	s, _, clk := newService(t, func(c *auth.Config) {
		c.SessionIdle, c.SessionMax, c.TokenTTL = 30*time.Minute, 2*time.Hour, 3*time.Hour
	})
	ctx := context.Background()
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	idle, _ := login(s, "ana", pw, ip1, auth.KindSession)
	busy, _ := login(s, "ana", pw, ip1, auth.KindSession)
	tok, _ := login(s, "ana", pw, ip1, auth.KindToken)
	ok := func(secret string, kind auth.CredentialKind) bool {
		_, err := s.Authenticate(ctx, secret, kind)
		return err == nil
	}
	// Used every 20 minutes, a session lives until its absolute expiry; unused, it dies after 30.
	for i := 1; i <= 5; i++ {
		clk.Advance(20 * time.Minute)
		require.True(t, ok(busy.Secret, auth.KindSession), "busy session ended after %d min", 20*i)
		if i == 1 { // used at 20 min ...
			require.True(t, ok(idle.Secret, auth.KindSession), "session ended before its idle limit")
		}
		if i == 3 { // ... then not for 40
			require.False(t, ok(idle.Secret, auth.KindSession), "idle session still alive after 40 min unused")
		}
	}
	clk.Advance(20 * time.Minute) // 2 h
	require.False(t, ok(busy.Secret, auth.KindSession), "session outlived its absolute expiry")
	require.True(t, ok(tok.Secret, auth.KindToken), "token (no idle limit) ended early")
	clk.Advance(time.Hour)
	require.False(t, ok(tok.Secret, auth.KindToken), "token outlived its lifetime")
	n, err := s.PurgeExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "all three were deleted when presented")
	login(s, "ana", pw, ip1, auth.KindToken)
	clk.Advance(4 * time.Hour)
	n, err = s.PurgeExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestDisableAndPasswordChangeEndSessions(t *testing.T) {
	s, _, _ := newService(t, nil)
	ctx := context.Background()
	u := addUser(t, s, "ana", auth.Investigator, auth.Scope{})
	a, _ := login(s, "ana", pw, ip1, auth.KindToken)
	require.NoError(t, s.SetPassword(ctx, u.ID, "a brand new passphrase"))
	_, err := s.Authenticate(ctx, a.Secret, auth.KindToken)
	require.Error(t, err, "token survived a password reset")
	_, err = login(s, "ana", pw, ip1, auth.KindToken)
	require.Error(t, err, "old password still works")
	b, err := login(s, "ana", "a brand new passphrase", ip1, auth.KindToken)
	require.NoError(t, err)
	p, _ := s.Authenticate(ctx, b.Secret, auth.KindToken)
	require.ErrorIs(t, s.ChangePassword(ctx, p, ip1, "wrong current password", "another passphrase!"), auth.ErrBadCredentials,
		"change with wrong current password")
	require.ErrorIs(t, s.ChangePassword(ctx, p, ip1, "a brand new passphrase", "short"), auth.ErrInvalid, "change to short password")
	require.NoError(t, s.ChangePassword(ctx, p, ip1, "a brand new passphrase", "another passphrase!"))
	c, err := login(s, "ana", "another passphrase!", ip1, auth.KindSession)
	require.NoError(t, err)
	require.NoError(t, s.SetDisabled(ctx, u.ID, true))
	_, err = s.Authenticate(ctx, c.Secret, auth.KindSession)
	require.Error(t, err, "session survived disabling")
	require.ErrorIs(t, s.SetDisabled(ctx, 999, true), auth.ErrNotFound, "disable missing user")
}

func TestAddUserValidates(t *testing.T) {
	s, _, _ := newService(t, nil)
	ctx := context.Background()
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	for _, c := range []struct {
		nu   auth.NewUser
		want error
		msg  string
	}{
		{auth.NewUser{Name: "ANA", Role: auth.Admin, Password: pw}, auth.ErrExists, "already exists"},
		{auth.NewUser{Name: "bob", Role: "chief", Password: pw}, auth.ErrInvalid, "unknown role"},
		{auth.NewUser{Name: "bob", Role: auth.Admin, Password: "short"}, auth.ErrInvalid, "at least 12"},
		{auth.NewUser{Name: "bob.smith.01", Role: auth.Admin, Password: "BOB.SMITH.01"}, auth.ErrInvalid, "user name"},
		{auth.NewUser{Name: "-bob", Role: auth.Admin, Password: pw}, auth.ErrInvalid, "user name"},
		{auth.NewUser{Name: "bob smith", Role: auth.Admin, Password: pw}, auth.ErrInvalid, "user name"},
		{auth.NewUser{Name: strings.Repeat("b", 65), Role: auth.Admin, Password: pw}, auth.ErrInvalid, "1 to 64"},
		{auth.NewUser{Name: "bob", Role: auth.Operator, Password: pw, Scope: auth.Scope{Cameras: []string{""}}}, auth.ErrInvalid, "scope cameras"},
	} {
		_, err := s.AddUser(ctx, c.nu)
		assert.ErrorIs(t, err, c.want, "%+v", c.nu)
		assert.ErrorContains(t, err, c.msg, "%+v", c.nu)
	}
}

func TestScopes(t *testing.T) {
	p := func(r auth.Role, sc auth.Scope) auth.Principal {
		return auth.Principal{User: auth.User{Role: r, Scope: sc}}
	}
	for _, c := range []struct {
		p            auth.Principal
		camera, area string
		person       string
		seeCam, seeP bool
	}{
		{p(auth.Admin, auth.Scope{}), "c1", "", "p1", true, true},
		{p(auth.Investigator, auth.Scope{}), "c1", "", "p1", true, true},
		{p(auth.Operator, auth.Scope{}), "c1", "", "p1", false, true}, // no cameras assigned: none visible
		{p(auth.Operator, auth.Scope{Cameras: []string{"c1"}}), "c1", "", "p1", true, true},
		{p(auth.Operator, auth.Scope{Cameras: []string{"c1"}}), "c2", "north", "p1", false, true},
		{p(auth.Operator, auth.Scope{Areas: []string{"north"}}), "c2", "north", "p1", true, true},
		{p(auth.Operator, auth.Scope{Areas: []string{"north"}}), "c2", "", "p1", false, true},
		{p(auth.Operator, auth.Scope{Cameras: []string{"*"}}), "c9", "", "p1", true, true},
		{p(auth.Guardian, auth.Scope{Persons: []string{"p1"}}), "c1", "", "p1", false, true},
		{p(auth.Guardian, auth.Scope{Persons: []string{"p1"}}), "c1", "", "p2", false, false},
		{p(auth.Patrol, auth.Scope{Cameras: []string{"*"}}), "c1", "", "p1", false, false},
		{p(auth.Auditor, auth.Scope{Cameras: []string{"*"}}), "c1", "", "p1", false, false},
	} {
		assert.Equal(t, c.seeCam, c.p.CanSeeCamera(c.camera, c.area), "%s %+v camera %s/%s", c.p.User.Role, c.p.User.Scope, c.camera, c.area)
		assert.Equal(t, c.seeP, c.p.CanSeePerson(c.person), "%s %+v person %s", c.p.User.Role, c.p.User.Scope, c.person)
	}
}

func TestDemoAccounts(t *testing.T) {
	s, _, _ := newService(t, nil)
	ctx := context.Background()
	env := map[string]string{"SNOWLIGHT_ADMIN_PASSWORD": "chosen admin passphrase"}
	var out bytes.Buffer
	accts, err := s.EnsureDemoAccounts(ctx, auth.DemoOptions{Getenv: func(k string) string { return env[k] },
		GuardianScope: auth.Scope{Persons: []string{"p-7"}}}, &out)
	require.NoError(t, err)
	require.Len(t, accts, len(auth.Roles()))
	for _, a := range accts {
		assert.True(t, a.Created, a.Name)
		assert.Contains(t, out.String(), a.Password, "%s: the password is printed", a.Name)
		_, err := login(s, a.Name, a.Password, ip1, auth.KindToken)
		assert.NoError(t, err, "%s cannot log in with the printed password", a.Name)
	}
	assert.Equal(t, auth.Admin, accts[0].Role)
	assert.Equal(t, "chosen admin passphrase", accts[0].Password)
	g, err := s.UserByName(ctx, "guardian")
	require.NoError(t, err)
	o, err := s.UserByName(ctx, "operator")
	require.NoError(t, err)
	assert.Equal(t, []string{"p-7"}, g.Scope.Persons)
	assert.Equal(t, []string{auth.AllCameras}, o.Scope.Cameras)
	// A second run leaves accounts and passwords alone and prints no password.
	out.Reset()
	again, err := s.EnsureDemoAccounts(ctx, auth.DemoOptions{}, &out)
	require.NoError(t, err)
	for _, a := range again {
		assert.False(t, a.Created, "second run %+v", a)
		assert.Empty(t, a.Password, "second run %+v", a)
	}
	assert.NotContains(t, out.String(), "chosen admin passphrase", "second run")
	assert.Equal(t, len(auth.Roles()), strings.Count(out.String(), "exists"), "second run printed:\n%s", out.String())
	// A weak password from the environment is refused with the variable's name.
	s2, _, _ := newService(t, nil)
	_, err = s2.EnsureDemoAccounts(ctx, auth.DemoOptions{Getenv: func(string) string { return "admin" }}, &out)
	require.ErrorContains(t, err, "SNOWLIGHT_ADMIN_PASSWORD", "weak password from the environment")
}

func TestDefaultParameters(t *testing.T) {
	s, db, _ := newService(t, func(c *auth.Config) { c.Argon2 = auth.Argon2Params{} })
	addUser(t, s, "ana", auth.Admin, auth.Scope{})
	var hash string
	require.NoError(t, db.R.QueryRow(`SELECT password_hash FROM users`).Scan(&hash))
	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=2,p=2$"), "default hash %q", hash)
	_, err := login(s, "ana", pw, ip1, auth.KindToken)
	require.NoError(t, err)
}

func TestLoginUpgradesOldHashParameters(t *testing.T) {
	s, db, _ := newService(t, nil)
	addUser(t, s, "ana", auth.Admin, auth.Scope{})
	stronger := auth.Argon2Params{Time: 2, MemoryKiB: 16 * 1024, Threads: 1}
	s2, err := auth.NewService(auth.Config{Store: db, Argon2: stronger})
	require.NoError(t, err)
	_, err = login(s2, "ana", pw, ip1, auth.KindToken)
	require.NoError(t, err)
	var hash string
	require.NoError(t, db.R.QueryRow(`SELECT password_hash FROM users`).Scan(&hash))
	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=16384,t=2,p=1$"), "hash not upgraded: %q", hash)
	_, err = login(s2, "ana", pw, ip1, auth.KindToken)
	require.NoError(t, err)
}

func TestConcurrentLogins(t *testing.T) {
	s, _, _ := newService(t, func(c *auth.Config) { c.MaxConcurrentHashes = 2 })
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			password := pw
			if i%2 == 1 {
				password = "wrong wrong wrong"
			}
			iss, err := login(s, "ana", password, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), auth.KindToken)
			if i%2 == 1 {
				if !errors.Is(err, auth.ErrBadCredentials) && !isLocked(err) {
					errs <- err
				}
				return
			}
			if err != nil && !isLocked(err) {
				errs <- err
				return
			}
			if err == nil {
				if _, err := s.Authenticate(context.Background(), iss.Secret, auth.KindToken); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p, err := auth.RandomPassword()
		require.NoError(t, err)
		require.Len(t, p, 29)
		require.Equal(t, 4, strings.Count(p, "-"), p)
		require.False(t, seen[p], "%q twice", p)
		require.NoError(t, auth.CheckPassword("x", p))
		seen[p] = true
	}
}

func BenchmarkDefaultArgon2Login(b *testing.B) {
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
	require.NoError(b, err)
	defer db.Close()
	s, err := auth.NewService(auth.Config{Store: db, Limits: auth.LoginLimits{PerUser: 1 << 30, PerClient: 1 << 30, Window: time.Hour, Lockout: time.Hour}})
	require.NoError(b, err)
	_, err = s.AddUser(context.Background(), auth.NewUser{Name: "ana", Role: auth.Admin, Password: pw})
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		_, err := login(s, "ana", pw, ip1, auth.KindToken)
		require.NoError(b, err)
	}
}
