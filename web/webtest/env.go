// Package webtest runs the web server over the real store for handler tests: a temp SQLite database,
// the real auth and audit services, an httptest listener on 127.0.0.1, accounts per role, and the
// route x role matrix check every route must pass.
package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/store"
	"snowlight/web"
)

// Config adjusts an Env.
type Config struct {
	Routes  []web.Route
	Options func(*web.Options) // called before web.New
	Auth    func(*auth.Config) // called before auth.NewService
	// Scopes are the scopes of the per-role accounts; operators get all cameras when not set.
	Scopes map[auth.Role]auth.Scope
}

// Env is a running server and everything behind it.
type Env struct {
	DB       *store.DB
	Auth     *auth.Service
	Audit    *audit.Log
	Server   *web.Server
	Registry *prometheus.Registry
	Clock    *Clock
	Logs     *Buffer // everything the server logged
	HTTP     *httptest.Server

	mu       sync.Mutex
	accounts map[auth.Role]account
	scopes   map[auth.Role]auth.Scope
	tokens   map[auth.Role]string // the matrix's logins
}

type account struct {
	user     auth.User
	password string
}

// TestArgon2 is argon2id at a cost that keeps tests quick; production uses auth.DefaultArgon2.
func TestArgon2() auth.Argon2Params {
	return auth.Argon2Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}
}

// New starts an Env; everything stops by t.Cleanup.
func New(t testing.TB, cfg Config) *Env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "snowlight.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	e := &Env{DB: db, Clock: NewClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)), Logs: &Buffer{},
		Registry: prometheus.NewRegistry(), accounts: map[auth.Role]account{}, scopes: cfg.Scopes,
		tokens: map[auth.Role]string{}}
	ac := auth.Config{Store: db, Now: e.Clock.Now, Argon2: TestArgon2()}
	if cfg.Auth != nil {
		cfg.Auth(&ac)
	}
	e.Auth, err = auth.NewService(ac)
	require.NoError(t, err)
	e.Audit = audit.New(db, e.Clock.Now)
	opts := web.Options{Auth: e.Auth, Audit: e.Audit, Registry: e.Registry,
		Log: slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if cfg.Options != nil {
		cfg.Options(&opts)
	}
	e.Server, err = web.New(opts, cfg.Routes...)
	require.NoError(t, err)
	e.HTTP = httptest.NewServer(e.Server.Handler())
	t.Cleanup(e.HTTP.Close)
	return e
}

// Account returns the Env's account for a role (named "t-<role>"), creating it on first use with the
// scope from Config.Scopes (operators get all cameras when none is given).
func (e *Env) Account(t testing.TB, r auth.Role) (auth.User, string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.accounts[r]; ok {
		return a.user, a.password
	}
	sc, ok := e.scopes[r]
	if !ok && r == auth.Operator {
		sc.Cameras = []string{auth.AllCameras}
	}
	u, pw := e.AddUser(t, "t-"+string(r), r, sc)
	e.accounts[r] = account{u, pw}
	return u, pw
}

// AddUser creates an account with a random password.
func (e *Env) AddUser(t testing.TB, name string, r auth.Role, sc auth.Scope) (auth.User, string) {
	t.Helper()
	pw, err := auth.RandomPassword()
	require.NoError(t, err)
	u, err := e.Auth.AddUser(context.Background(), auth.NewUser{Name: name, Role: r, Password: pw, Scope: sc})
	require.NoError(t, err)
	return u, pw
}

// Token logs the role's account in through POST /api/v1/login and returns a fresh bearer token.
func (e *Env) Token(t testing.TB, r auth.Role) string {
	t.Helper()
	u, pw := e.Account(t, r)
	return e.Login(t, u.Name, pw)
}

// Login logs in through the API and returns the token.
func (e *Env) Login(t testing.TB, name, password string) string {
	t.Helper()
	body := fmt.Sprintf(`{"user":%q,"password":%q}`, name, password)
	resp := e.Do(t, "POST", "/api/v1/login", "", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "login %s: %s", name, resp.Body)
	var lr struct{ Token string }
	require.NoError(t, json.Unmarshal(resp.Body, &lr), "login %s: %s", name, resp.Body)
	require.NotEmpty(t, lr.Token, "login %s: no token in %s", name, resp.Body)
	return lr.Token
}

// Response is a finished response with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// Do sends a request to the server; token, when not empty, goes in Authorization: Bearer.
func (e *Env) Do(t testing.TB, method, path, token, body string, hdr ...string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.HTTP.URL+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.Send(t, req)
}

// Send sends a prepared request without following redirects.
func (e *Env) Send(t testing.TB, req *http.Request) Response {
	t.Helper()
	c := e.HTTP.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{resp, b}
}

// Clock is a settable clock for expiry and lockout tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Buffer is an io.Writer safe for concurrent use, for captured logs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
