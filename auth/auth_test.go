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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
	cfg := auth.Config{Store: db, Now: clk.Now, Argon2: cheap}
	if mod != nil {
		mod(&cfg)
	}
	s, err := auth.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, db, clk
}

const pw = "correct horse battery"

func addUser(t *testing.T, s *auth.Service, name string, r auth.Role, sc auth.Scope) auth.User {
	t.Helper()
	u, err := s.AddUser(context.Background(), auth.NewUser{Name: name, Role: r, Password: pw, Scope: sc})
	if err != nil {
		t.Fatal(err)
	}
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
	if u.Name != "ana.op" {
		t.Fatalf("name not normalised: %q", u.Name)
	}
	tok, err := login(s, "ANA.OP", pw, ip1, auth.KindToken)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Secret, auth.TokenPrefix) || len(tok.Secret) < 40 {
		t.Fatalf("token %q", tok.Secret)
	}
	ses, err := login(s, "ana.op", pw, ip1, auth.KindSession)
	if err != nil {
		t.Fatal(err)
	}
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
		if c.ok != (err == nil) {
			t.Errorf("%s as %s: %v", c.secret, c.kind, err)
		}
		if c.ok && (p.User.ID != u.ID || p.User.Scope.Cameras[0] != "cam1" || p.Kind != c.kind) {
			t.Errorf("principal %+v", p)
		}
	}
	// The database holds only hashes of the secrets.
	var n int
	for _, sec := range []string{tok.Secret, ses.Secret} {
		if err := db.R.QueryRow(`SELECT count(*) FROM auth_credentials WHERE id_hash = ?`, sec).Scan(&n); err != nil || n != 0 {
			t.Fatalf("secret stored in clear (%v)", err)
		}
	}
	var hash string
	if err := db.R.QueryRow(`SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("password hash %q (%v)", hash, err)
	}
	// Logout ends exactly that credential.
	p, _ := s.Authenticate(ctx, tok.Secret, auth.KindToken)
	if err := s.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok.Secret, auth.KindToken); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("token after logout: %v", err)
	}
	if _, err := s.Authenticate(ctx, ses.Secret, auth.KindSession); err != nil {
		t.Fatalf("other session after logout: %v", err)
	}
}

func TestFailedLoginsLookAlike(t *testing.T) {
	s, _, _ := newService(t, nil)
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	off := addUser(t, s, "bob", auth.Patrol, auth.Scope{})
	if err := s.SetDisabled(context.Background(), off.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, password, reason string }{
		{"ana", "wrong password here", "wrong password"},
		{"nobody", pw, "unknown user"},
		{"bob", pw, "disabled"},
		{"bad name!", pw, "unknown user"},
		{"ana", strings.Repeat("x", 10000), "wrong password"},
	} {
		_, err := login(s, c.name, c.password, ip1, auth.KindToken)
		lf, ok := errors.AsType[*auth.LoginFailure](err)
		if !ok || !errors.Is(err, auth.ErrBadCredentials) || err.Error() != auth.ErrBadCredentials.Error() || lf.Reason != c.reason {
			t.Errorf("%s: %v (%+v)", c.name, err, lf)
		}
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
		if !ok || lf.Locked != (i == 2) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Locked: even the right password from another address is refused, without checking it.
	if _, err := login(s, "ana", pw, ip2, auth.KindToken); !isLocked(err) {
		t.Fatalf("locked user logged in: %v", err)
	}
	// A name that does not exist locks the same way, so lockout reveals nothing.
	for i := 0; i < 3; i++ {
		login(s, "ghost", "x", ip2, auth.KindToken)
	}
	if _, err := login(s, "ghost", "x", ip2, auth.KindToken); !isLocked(err) {
		t.Fatalf("unknown name not locked: %v", err)
	}
	// ip1 has 3 failures; 2 more on other names lock the address for every name.
	login(s, "x1", "y", ip1, auth.KindToken)
	login(s, "x2", "y", ip1, auth.KindToken)
	if _, err := login(s, "eve", pw, ip1, auth.KindToken); !isLocked(err) {
		t.Fatalf("locked address logged in: %v", err)
	}
	if _, err := login(s, "eve", pw, ip2, auth.KindToken); err != nil {
		t.Fatalf("other address refused: %v", err)
	}
	clk.Advance(16 * time.Minute)
	if _, err := login(s, "ana", pw, ip1, auth.KindToken); err != nil {
		t.Fatalf("after lockout: %v", err)
	}
	// Success resets the user's count: two more failures do not lock.
	login(s, "ana", "nope", ip2, auth.KindToken)
	login(s, "ana", "nope", ip2, auth.KindToken)
	if _, err := login(s, "ana", pw, ip2, auth.KindToken); err != nil {
		t.Fatalf("count not reset by success: %v", err)
	}
}

func TestIPv6ClientsCountPerSlash64(t *testing.T) {
	s, _, _ := newService(t, func(c *auth.Config) {
		c.Limits = auth.LoginLimits{PerUser: 100, PerClient: 2, Window: time.Hour, Lockout: time.Hour}
	})
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	login(s, "a", "b", netip.MustParseAddr("2001:db8:1:2::1"), auth.KindToken)
	login(s, "a", "b", netip.MustParseAddr("2001:db8:1:2::ffff"), auth.KindToken)
	if _, err := login(s, "ana", pw, netip.MustParseAddr("2001:db8:1:2:abcd::9"), auth.KindToken); !isLocked(err) {
		t.Fatalf("same /64 not locked: %v", err)
	}
	if _, err := login(s, "ana", pw, netip.MustParseAddr("2001:db8:1:3::1"), auth.KindToken); err != nil {
		t.Fatalf("other /64 locked: %v", err)
	}
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
		if !ok(busy.Secret, auth.KindSession) {
			t.Fatalf("busy session ended after %d min", 20*i)
		}
		if i == 1 && !ok(idle.Secret, auth.KindSession) { // used at 20 min ...
			t.Fatal("session ended before its idle limit")
		}
		if i == 3 && ok(idle.Secret, auth.KindSession) { // ... then not for 40
			t.Fatal("idle session still alive after 40 min unused")
		}
	}
	clk.Advance(20 * time.Minute) // 2 h
	if ok(busy.Secret, auth.KindSession) {
		t.Fatal("session outlived its absolute expiry")
	}
	if !ok(tok.Secret, auth.KindToken) {
		t.Fatal("token (no idle limit) ended early")
	}
	clk.Advance(time.Hour)
	if ok(tok.Secret, auth.KindToken) {
		t.Fatal("token outlived its lifetime")
	}
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 { // all three were deleted when presented
		t.Fatalf("purge: %d %v", n, err)
	}
	login(s, "ana", pw, ip1, auth.KindToken)
	clk.Advance(4 * time.Hour)
	if n, err := s.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
}

func TestDisableAndPasswordChangeEndSessions(t *testing.T) {
	s, _, _ := newService(t, nil)
	ctx := context.Background()
	u := addUser(t, s, "ana", auth.Investigator, auth.Scope{})
	a, _ := login(s, "ana", pw, ip1, auth.KindToken)
	if err := s.SetPassword(ctx, u.ID, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, a.Secret, auth.KindToken); err == nil {
		t.Fatal("token survived a password reset")
	}
	if _, err := login(s, "ana", pw, ip1, auth.KindToken); err == nil {
		t.Fatal("old password still works")
	}
	b, err := login(s, "ana", "a brand new passphrase", ip1, auth.KindToken)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Authenticate(ctx, b.Secret, auth.KindToken)
	if err := s.ChangePassword(ctx, p, ip1, "wrong current password", "another passphrase!"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("change with wrong current password: %v", err)
	}
	if err := s.ChangePassword(ctx, p, ip1, "a brand new passphrase", "short"); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("change to short password: %v", err)
	}
	if err := s.ChangePassword(ctx, p, ip1, "a brand new passphrase", "another passphrase!"); err != nil {
		t.Fatal(err)
	}
	c, err := login(s, "ana", "another passphrase!", ip1, auth.KindSession)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, c.Secret, auth.KindSession); err == nil {
		t.Fatal("session survived disabling")
	}
	if err := s.SetDisabled(ctx, 999, true); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("disable missing user: %v", err)
	}
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
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v", c.nu, err)
		}
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
		if got := c.p.CanSeeCamera(c.camera, c.area); got != c.seeCam {
			t.Errorf("%s %+v camera %s/%s: %v", c.p.User.Role, c.p.User.Scope, c.camera, c.area, got)
		}
		if got := c.p.CanSeePerson(c.person); got != c.seeP {
			t.Errorf("%s %+v person %s: %v", c.p.User.Role, c.p.User.Scope, c.person, got)
		}
	}
}

func TestDemoAccounts(t *testing.T) {
	s, _, _ := newService(t, nil)
	ctx := context.Background()
	env := map[string]string{"SNOWLIGHT_ADMIN_PASSWORD": "chosen admin passphrase"}
	var out bytes.Buffer
	accts, err := s.EnsureDemoAccounts(ctx, auth.DemoOptions{Getenv: func(k string) string { return env[k] },
		GuardianScope: auth.Scope{Persons: []string{"p-7"}}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != len(auth.Roles()) {
		t.Fatalf("%d accounts", len(accts))
	}
	for _, a := range accts {
		if !a.Created || !strings.Contains(out.String(), a.Password) {
			t.Errorf("%s: created=%v, password printed=%v", a.Name, a.Created, strings.Contains(out.String(), a.Password))
		}
		if _, err := login(s, a.Name, a.Password, ip1, auth.KindToken); err != nil {
			t.Errorf("%s cannot log in with the printed password: %v", a.Name, err)
		}
	}
	if accts[0].Role != auth.Admin || accts[0].Password != "chosen admin passphrase" {
		t.Errorf("admin %+v", accts[0])
	}
	g, _ := s.UserByName(ctx, "guardian")
	o, _ := s.UserByName(ctx, "operator")
	if g.Scope.Persons[0] != "p-7" || o.Scope.Cameras[0] != auth.AllCameras {
		t.Errorf("scopes %+v %+v", g.Scope, o.Scope)
	}
	// A second run leaves accounts and passwords alone and prints no password.
	out.Reset()
	again, err := s.EnsureDemoAccounts(ctx, auth.DemoOptions{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range again {
		if a.Created || a.Password != "" {
			t.Errorf("second run %+v", a)
		}
	}
	if strings.Contains(out.String(), "chosen admin passphrase") || strings.Count(out.String(), "exists") != len(auth.Roles()) {
		t.Errorf("second run printed:\n%s", out.String())
	}
	// A weak password from the environment is refused with the variable's name.
	s2, _, _ := newService(t, nil)
	_, err = s2.EnsureDemoAccounts(ctx, auth.DemoOptions{Getenv: func(string) string { return "admin" }}, &out)
	if err == nil || !strings.Contains(err.Error(), "SNOWLIGHT_ADMIN_PASSWORD") {
		t.Fatalf("weak env password: %v", err)
	}
}

func TestDefaultParameters(t *testing.T) {
	s, db, _ := newService(t, func(c *auth.Config) { c.Argon2 = auth.Argon2Params{} })
	addUser(t, s, "ana", auth.Admin, auth.Scope{})
	var hash string
	db.R.QueryRow(`SELECT password_hash FROM users`).Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Fatalf("default hash %q", hash)
	}
	if _, err := login(s, "ana", pw, ip1, auth.KindToken); err != nil {
		t.Fatal(err)
	}
}

func TestLoginUpgradesOldHashParameters(t *testing.T) {
	s, db, _ := newService(t, nil)
	addUser(t, s, "ana", auth.Admin, auth.Scope{})
	stronger := auth.Argon2Params{Time: 2, MemoryKiB: 16 * 1024, Threads: 1}
	s2, err := auth.NewService(auth.Config{Store: db, Argon2: stronger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := login(s2, "ana", pw, ip1, auth.KindToken); err != nil {
		t.Fatal(err)
	}
	var hash string
	db.R.QueryRow(`SELECT password_hash FROM users`).Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=16384,t=2,p=1$") {
		t.Fatalf("hash not upgraded: %q", hash)
	}
	if _, err := login(s2, "ana", pw, ip1, auth.KindToken); err != nil {
		t.Fatal(err)
	}
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
		t.Error(err)
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p, err := auth.RandomPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 29 || strings.Count(p, "-") != 4 || seen[p] || auth.CheckPassword("x", p) != nil {
			t.Fatalf("password %q", p)
		}
		seen[p] = true
	}
}

func BenchmarkDefaultArgon2Login(b *testing.B) {
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := auth.NewService(auth.Config{Store: db, Limits: auth.LoginLimits{PerUser: 1 << 30, PerClient: 1 << 30, Window: time.Hour, Lockout: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.AddUser(context.Background(), auth.NewUser{Name: "ana", Role: auth.Admin, Password: pw}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := login(s, "ana", pw, ip1, auth.KindToken); err != nil {
			b.Fatal(err)
		}
	}
}
