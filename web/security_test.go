package web_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web"
	"snowlight/web/webtest"
)

// sessionLogin logs in for a console session and returns the session cookie and CSRF token.
func sessionLogin(t *testing.T, e *webtest.Env, name, password string, hdr ...string) (*http.Cookie, string, webtest.Response) {
	t.Helper()
	resp := e.Do(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":%q,"password":%q,"session":true}`, name, password), hdr...)
	wantStatus(t, resp, http.StatusOK)
	var lr struct {
		Token, CSRF string
	}
	decode(t, resp, &lr)
	sc, cc := cookie(resp, web.SessionCookie), cookie(resp, web.CSRFCookie)
	require.NotNil(t, sc, "session login: no session cookie")
	require.NotNil(t, cc, "session login: no CSRF cookie")
	assert.Empty(t, lr.Token, "session login: a bearer token as well")
	require.NotEmpty(t, lr.CSRF, "session login: %s", resp.Body)
	require.Equal(t, lr.CSRF, cc.Value, "session login: the CSRF cookie and the answer's token")
	return sc, lr.CSRF, resp
}

func withCookie(t *testing.T, e *webtest.Env, method, path string, ck *http.Cookie, hdr ...string) webtest.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.HTTP.URL+path, nil)
	require.NoError(t, err)
	req.AddCookie(ck)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.Send(t, req)
}

func TestSessionCookiesAndCSRF(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	u, pw := e.Account(t, auth.Operator)
	ck, csrf, resp := sessionLogin(t, e, u.Name, pw)
	assert.True(t, ck.HttpOnly, "session cookie %+v", ck)
	assert.Equal(t, http.SameSiteStrictMode, ck.SameSite, "session cookie %+v", ck)
	assert.False(t, ck.Secure, "session cookie %+v", ck)
	assert.Equal(t, "/", ck.Path, "session cookie %+v", ck)
	assert.GreaterOrEqual(t, len(ck.Value), 43, "session cookie %+v", ck)
	c := cookie(resp, web.CSRFCookie)
	assert.False(t, c.HttpOnly, "csrf cookie %+v", c)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite, "csrf cookie %+v", c)
	// Reading needs no token; /me gives it back to a console that reloaded.
	r := withCookie(t, e, "GET", "/api/v1/me", ck)
	wantStatus(t, r, http.StatusOK)
	var me struct {
		User auth.User
		CSRF string
	}
	decode(t, r, &me)
	assert.Equal(t, u.Name, me.User.Name)
	assert.Equal(t, csrf, me.CSRF)
	// A state-changing request authenticated by the cookie alone is refused, as is a wrong token.
	for _, hdr := range [][]string{nil, {web.CSRFHeader, "forged"}, {web.CSRFHeader, csrf + "x"}} {
		r := withCookie(t, e, "POST", "/api/v1/logout", ck, hdr...)
		wantStatus(t, r, http.StatusForbidden)
		assert.Contains(t, string(r.Body), web.CSRFHeader, "the refusal names the header")
	}
	// A cross-site browser request is refused even with the right token.
	wantStatus(t, withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf,
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), http.StatusForbidden)
	wantStatus(t, withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf, "Origin", "https://evil.example"), http.StatusForbidden)
	// Same-origin with the token: logged out, cookie cleared, session dead.
	r = withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, r, http.StatusNoContent)
	if c := cookie(r, web.SessionCookie); assert.NotNil(t, c, "logout clears the session cookie") {
		assert.Negative(t, c.MaxAge, "logout cookie %+v", c)
		assert.Empty(t, c.Value, "logout cookie %+v", c)
	}
	wantStatus(t, withCookie(t, e, "GET", "/api/v1/me", ck), http.StatusUnauthorized)
	// Login from another site (login CSRF) is refused too.
	r = e.Do(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":%q,"password":%q,"session":true}`, u.Name, pw),
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantStatus(t, r, http.StatusForbidden)
	// A token is not a cookie and a cookie is not a token.
	tok := e.Token(t, auth.Operator)
	wantStatus(t, withCookie(t, e, "GET", "/api/v1/me", &http.Cookie{Name: web.SessionCookie, Value: tok}), http.StatusUnauthorized)
	ck2, _, _ := sessionLogin(t, e, u.Name, pw)
	wantStatus(t, e.Do(t, "GET", "/api/v1/me", ck2.Value, ""), http.StatusUnauthorized)
	// Bearer requests carry no ambient authority, so they need no CSRF token.
	wantStatus(t, e.Do(t, "POST", "/api/v1/logout", tok, ""), http.StatusNoContent)
}

func TestSecureCookiesOverTLS(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	u, pw := e.Account(t, auth.Admin)
	srv := httptest.NewTLSServer(e.Server.Handler())
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/api/v1/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"user":%q,"password":%q,"session":true}`, u.Name, pw)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, resp.Cookies(), 2)
	for _, c := range resp.Cookies() {
		assert.True(t, c.Secure, "%s not Secure over TLS", c.Name)
	}
	assert.NotEmpty(t, resp.Header.Get("Strict-Transport-Security"), "no HSTS over TLS")
}

func TestSecurityHeadersAndJSONErrors(t *testing.T) {
	e := webtest.New(t, webtest.Config{Options: func(o *web.Options) { o.MediaSources = []string{"http://127.0.0.1:9000"} }})
	tok := e.Token(t, auth.Admin)
	for _, c := range []struct {
		method, path string
		status       int
		msg          string
	}{
		{"GET", "/api/v1/me", http.StatusOK, ""},
		{"GET", "/healthz", http.StatusOK, ""},
		{"GET", "/api/v1/nothing-here", http.StatusNotFound, "no such"},
		{"DELETE", "/api/v1/me", http.StatusMethodNotAllowed, "not allowed"},
		{"GET", "/api/v1/users/x/disable", http.StatusMethodNotAllowed, "use POST"},
	} {
		r := e.Do(t, c.method, c.path, tok, "")
		wantStatus(t, r, c.status)
		h := r.Header
		assert.Equal(t, "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; img-src 'self' http://127.0.0.1:9000; media-src 'self' http://127.0.0.1:9000",
			h.Get("Content-Security-Policy"), "%s CSP", c.path)
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), c.path)
		assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"), c.path)
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"), c.path)
		assert.True(t, strings.HasPrefix(h.Get("Content-Type"), "application/json"), "%s content type %q", c.path, h.Get("Content-Type"))
		if strings.HasPrefix(c.path, "/api/") {
			assert.Equal(t, "no-store", h.Get("Cache-Control"), "%s cacheable", c.path)
		}
		if c.msg != "" {
			var er struct{ Error string }
			decode(t, r, &er)
			assert.Contains(t, er.Error, c.msg, "%s %s", c.method, c.path)
		}
	}
	_, err := web.New(web.Options{Auth: e.Auth, Audit: e.Audit, MediaSources: []string{"http://x; script-src *"}})
	assert.Error(t, err, "CSP injection through a media source accepted")
}

func TestLoginLockoutAndNoEnumeration(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	u, pw := e.Account(t, auth.Investigator)
	body := func(name, pass string) string { return fmt.Sprintf(`{"user":%q,"password":%q}`, name, pass) }
	// Unknown user and wrong password get the same answer.
	a := e.Do(t, "POST", "/api/v1/login", "", body("nobody-here", "whatever it is"))
	b := e.Do(t, "POST", "/api/v1/login", "", body(u.Name, "whatever it is"))
	assert.Equal(t, http.StatusUnauthorized, a.StatusCode, "unknown user: %s", a.Body)
	assert.Equal(t, a.StatusCode, b.StatusCode, "unknown user and wrong password")
	assert.Equal(t, string(a.Body), string(b.Body), "unknown user and wrong password")
	for i := 0; i < 4; i++ { // 5 failures in all lock the name
		wantStatus(t, e.Do(t, "POST", "/api/v1/login", "", body(u.Name, "still wrong")), http.StatusUnauthorized)
	}
	r := e.Do(t, "POST", "/api/v1/login", "", body(u.Name, pw))
	wantStatus(t, r, http.StatusTooManyRequests)
	assert.NotEmpty(t, r.Header.Get("Retry-After"), "locked: %v", r.Header)
	assert.Contains(t, string(r.Body), "try again in")
	e.Clock.Advance(16 * time.Minute)
	e.Login(t, u.Name, pw)
	// Failures are audited with the reason; the password typed is not.
	es, err := e.Audit.List(context.Background(), audit.Filter{Action: "auth.login.failed"})
	require.NoError(t, err)
	require.Len(t, es, 6, "failure entries")
	assert.Equal(t, "unknown user", es[0].Details["reason"])
	assert.Equal(t, "wrong password", es[1].Details["reason"])
	assert.Equal(t, "true", es[5].Details["locked"])
	assert.Equal(t, u.Name, es[5].Target)
	ok, err := e.Audit.List(context.Background(), audit.Filter{Action: "auth.login"})
	require.NoError(t, err)
	require.Len(t, ok, 1, "login entries")
	assert.Equal(t, u.Name, ok[0].Actor)
	assert.Equal(t, "127.0.0.1", ok[0].Details["client"])
}

func TestSessionExpiresWhenIdle(t *testing.T) {
	e := webtest.New(t, webtest.Config{Auth: func(c *auth.Config) { c.SessionIdle = 10 * time.Minute }})
	u, pw := e.Account(t, auth.Operator)
	ck, _, _ := sessionLogin(t, e, u.Name, pw)
	e.Clock.Advance(9 * time.Minute)
	wantStatus(t, withCookie(t, e, "GET", "/api/v1/me", ck), http.StatusOK)
	e.Clock.Advance(9 * time.Minute)
	wantStatus(t, withCookie(t, e, "GET", "/api/v1/me", ck), http.StatusOK)
	e.Clock.Advance(11 * time.Minute)
	r := withCookie(t, e, "GET", "/api/v1/me", ck)
	wantStatus(t, r, http.StatusUnauthorized)
	assert.Contains(t, string(r.Body), "log in again")
}

func TestCaseRequiredAndAudited(t *testing.T) {
	e := webtest.New(t, webtest.Config{Routes: sampleRoutes()})
	tok := e.Token(t, auth.Investigator)
	path := "/api/v1/sample/persons/p-17/trajectory"
	for _, q := range []string{"", "&case=C-9", "&reason=looking+for+her", "&case=C-9&reason=x"} {
		r := e.Do(t, "GET", path+"?from=2025-03-01"+q, tok, "")
		wantStatus(t, r, http.StatusBadRequest)
		var er struct{ Error string }
		decode(t, r, &er)
		assert.Regexp(t, "case|reason", er.Error, q)
	}
	es, err := e.Audit.List(context.Background(), audit.Filter{Action: "sample.trajectory"})
	require.NoError(t, err)
	assert.Empty(t, es, "refused requests audited")
	r := e.Do(t, "GET", path+"?from=2025-03-01T00:00:00Z&case=C-2025-9&reason=missing+person+report+filed+today", tok, "")
	wantStatus(t, r, http.StatusOK)
	var got map[string]string
	decode(t, r, &got)
	assert.Equal(t, "C-2025-9", got["case"], "the handler's case")
	assert.Equal(t, "missing person report filed today", got["reason"], "the handler's reason")
	// Headers work where a query string does not fit.
	wantStatus(t, e.Do(t, "GET", path, tok, "", web.CaseHeader, "C-2025-9", web.ReasonHeader, "second look at the same route"), http.StatusOK)
	es, err = e.Audit.List(context.Background(), audit.Filter{Action: "sample.trajectory"})
	require.NoError(t, err)
	require.Len(t, es, 2)
	x := es[0]
	assert.Equal(t, "t-investigator", x.Actor)
	assert.Equal(t, "investigator", x.Role)
	assert.Equal(t, path, x.Target)
	assert.Equal(t, "C-2025-9", x.Case)
	assert.Equal(t, "missing person report filed today", x.Reason)
	assert.Equal(t, "from=2025-03-01T00%3A00%3A00Z", x.Details["query"])
	assert.Equal(t, "GET", x.Details["method"])
	rep, err := e.Audit.Verify(context.Background(), audit.Head{})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep)
}

func TestScopeIsolation(t *testing.T) {
	e := webtest.New(t, webtest.Config{Routes: sampleRoutes(), Scopes: map[auth.Role]auth.Scope{
		auth.Guardian: {Persons: []string{"p-1"}},
		auth.Operator: {Cameras: []string{"cam-north"}},
	}})
	g, op := e.Token(t, auth.Guardian), e.Token(t, auth.Operator)
	for _, c := range []struct {
		tok, path string
		status    int
	}{
		{g, "/api/v1/sample/guarded/p-1", http.StatusOK},
		{g, "/api/v1/sample/guarded/p-2", http.StatusForbidden},
		{op, "/api/v1/sample/cameras/cam-north", http.StatusOK},
		{op, "/api/v1/sample/cameras/cam-south", http.StatusForbidden},
		{g, "/api/v1/sample/cameras/cam-north", http.StatusForbidden},
	} {
		r := e.Do(t, "GET", c.path, c.tok, "")
		assert.Equal(t, c.status, r.StatusCode, "%s: %s", c.path, r.Body)
	}
}

// TestNoSecretsInLogs sends passwords, tokens, cookies and a camera URL with credentials through the
// server and checks none reaches the log or the audit chain.
func TestNoSecretsInLogs(t *testing.T) {
	e := webtest.New(t, webtest.Config{Routes: sampleRoutes()})
	const canary = "CANARY-p4ssw0rd-7731"
	_, err := e.Auth.AddUser(context.Background(), auth.NewUser{Name: "carl", Role: auth.Admin, Password: canary})
	require.NoError(t, err)
	tok := e.Login(t, "carl", canary)
	ck, csrf, _ := sessionLogin(t, e, "carl", canary)
	e.Do(t, "POST", "/api/v1/login", "", `{"user":"carl","password":"`+canary+`x"}`)
	e.Do(t, "POST", "/api/v1/login", "", `{"user":"`+canary+`","password":"`+canary+`"}`)
	e.Do(t, "GET", "/api/v1/me?camera=rtsp://admin:"+canary+"@10.0.0.5/stream", tok, "")
	e.Do(t, "POST", "/api/v1/users", tok, `{"name":"dora","role":"patrol","password":"`+canary+`-dora"}`)
	e.Do(t, "POST", "/api/v1/me/password", tok, `{"current":"`+canary+`wrong","new":"`+canary+`-new"}`)
	e.Do(t, "GET", "/api/v1/me", "slt_"+canary, "")
	withCookie(t, e, "GET", "/api/v1/me", ck)
	withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf)
	logs := e.Logs.String()
	require.Contains(t, logs, "http request", "the access log")
	require.Contains(t, logs, "user=carl", "the access log")
	for _, secret := range []string{canary, tok, tok[len(auth.TokenPrefix):], ck.Value, csrf} {
		assert.NotContains(t, logs, secret, "the log holds a secret")
	}
	es, err := e.Audit.List(context.Background(), audit.Filter{Limit: audit.MaxPage})
	require.NoError(t, err)
	require.NotEmpty(t, es)
	for _, x := range es {
		s := fmt.Sprintf("%+v", x)
		if x.Action != "auth.login.failed" {
			assert.NotContains(t, s, canary[:20], "an audit entry holds the canary")
		}
		assert.NotContains(t, s, tok, "an audit entry holds a token")
		assert.NotContains(t, s, ck.Value, "an audit entry holds a session cookie")
	}
}

func TestBodyLimitAndPanicRecovery(t *testing.T) {
	boom := web.Route{Pattern: "GET /api/v1/sample/boom", Name: "sample.boom", Policy: web.Policy{Roles: []auth.Role{auth.Admin}},
		Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") })}
	e := webtest.New(t, webtest.Config{Routes: []web.Route{boom}, Options: func(o *web.Options) { o.MaxBodyBytes = 1024 }})
	big := `{"user":"` + strings.Repeat("a", 2048) + `","password":"x"}`
	r := e.Do(t, "POST", "/api/v1/login", "", big)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
	wantStatus(t, e.Do(t, "POST", "/api/v1/login", "", `{"user":"a","password":"b","extra":1}`), http.StatusBadRequest)
	req, _ := http.NewRequest("POST", e.HTTP.URL+"/api/v1/login", strings.NewReader(`user=a&password=b`))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, e.Send(t, req), http.StatusUnsupportedMediaType)

	r = e.Do(t, "GET", "/api/v1/sample/boom", e.Token(t, auth.Admin), "")
	wantStatus(t, r, http.StatusInternalServerError)
	assert.NotContains(t, string(r.Body), "handler bug", "the panic reaches the client")
	assert.Contains(t, e.Logs.String(), "handler bug", "the panic is not logged")
	wantStatus(t, e.Do(t, "GET", "/healthz", "", ""), http.StatusOK) // still serving
}

func TestHealthMetricsAndOpsListener(t *testing.T) {
	var unhealthy error
	e := webtest.New(t, webtest.Config{Options: func(o *web.Options) {
		o.Health = func(context.Context) error { return unhealthy }
	}})
	wantStatus(t, e.Do(t, "GET", "/healthz", "", ""), http.StatusOK)
	unhealthy = errors.New("database locked")
	r := e.Do(t, "GET", "/healthz", "", "")
	wantStatus(t, r, http.StatusServiceUnavailable)
	assert.NotContains(t, string(r.Body), "database locked", "health detail leaked to the client")
	// Without a monitoring listener, metrics are for admins only: they tell how the system is used.
	wantStatus(t, e.Do(t, "GET", "/metrics", "", ""), http.StatusUnauthorized)
	wantStatus(t, e.Do(t, "GET", "/metrics", e.Token(t, auth.Operator), ""), http.StatusForbidden)
	r = e.Do(t, "GET", "/metrics", e.Token(t, auth.Admin), "")
	wantStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), `snowlight_http_requests_total{code="503",route="healthz"} 1`)

	sep := webtest.New(t, webtest.Config{Options: func(o *web.Options) { o.OpsSeparate = true }})
	wantStatus(t, sep.Do(t, "GET", "/metrics", "", ""), http.StatusNotFound)
	wantStatus(t, sep.Do(t, "GET", "/healthz", "", ""), http.StatusNotFound)
	ops := httptest.NewServer(sep.Server.OpsHandler())
	defer ops.Close()
	for _, p := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(ops.URL + p)
		require.NoError(t, err, "ops %s", p)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "ops %s", p)
	}
	for _, ri := range sep.Server.Routes() {
		assert.NotContains(t, []string{"metrics", "healthz"}, ri.Name, "%s on the main listener", ri.Pattern)
	}
}

func TestTrustedProxyClientAddress(t *testing.T) {
	for _, c := range []struct {
		trusted []netip.Prefix
		xff     string
		want    string
	}{
		{nil, "203.0.113.9", "127.0.0.1"}, // untrusted peer: header ignored
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9", "203.0.113.9"},
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}, "198.51.100.1, 203.0.113.9, 10.1.1.1", "203.0.113.9"},
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "garbage", "127.0.0.1"},
	} {
		e := webtest.New(t, webtest.Config{Options: func(o *web.Options) { o.TrustedProxies = c.trusted }})
		e.Do(t, "POST", "/api/v1/login", "", `{"user":"nobody","password":"wrong password"}`, "X-Forwarded-For", c.xff)
		es, err := e.Audit.List(context.Background(), audit.Filter{})
		require.NoError(t, err)
		if assert.Len(t, es, 1, "%v %q", c.trusted, c.xff) {
			assert.Equal(t, c.want, es[0].Details["client"], "%v %q", c.trusted, c.xff)
		}
	}
}

func TestServeStopsWithContext(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, ln, e.Server.Handler(), nil) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.Fail(t, "Serve did not return after cancel")
	}
	resp, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		resp.Body.Close()
	}
	assert.Error(t, err, "still serving")
}
