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
	if sc == nil || cc == nil || lr.Token != "" || lr.CSRF == "" || cc.Value != lr.CSRF {
		t.Fatalf("session login: cookies %v %v, body %s", sc, cc, resp.Body)
	}
	return sc, lr.CSRF, resp
}

func withCookie(t *testing.T, e *webtest.Env, method, path string, ck *http.Cookie, hdr ...string) webtest.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.HTTP.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" || len(ck.Value) < 43 {
		t.Fatalf("session cookie %+v", ck)
	}
	if c := cookie(resp, web.CSRFCookie); c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("csrf cookie %+v", c)
	}
	// Reading needs no token; /me gives it back to a console that reloaded.
	r := withCookie(t, e, "GET", "/api/v1/me", ck)
	wantStatus(t, r, http.StatusOK)
	var me struct {
		User auth.User
		CSRF string
	}
	decode(t, r, &me)
	if me.User.Name != u.Name || me.CSRF != csrf {
		t.Fatalf("me: %s", r.Body)
	}
	// A state-changing request authenticated by the cookie alone is refused, as is a wrong token.
	for _, hdr := range [][]string{nil, {web.CSRFHeader, "forged"}, {web.CSRFHeader, csrf + "x"}} {
		r := withCookie(t, e, "POST", "/api/v1/logout", ck, hdr...)
		wantStatus(t, r, http.StatusForbidden)
		if !contains(string(r.Body), web.CSRFHeader) {
			t.Fatalf("message: %s", r.Body)
		}
	}
	// A cross-site browser request is refused even with the right token.
	wantStatus(t, withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf,
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), http.StatusForbidden)
	wantStatus(t, withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf, "Origin", "https://evil.example"), http.StatusForbidden)
	// Same-origin with the token: logged out, cookie cleared, session dead.
	r = withCookie(t, e, "POST", "/api/v1/logout", ck, web.CSRFHeader, csrf, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, r, http.StatusNoContent)
	if c := cookie(r, web.SessionCookie); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("logout cookie %+v", c)
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
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 2 {
		t.Fatalf("cookies %v", resp.Cookies())
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("%s not Secure over TLS", c.Name)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
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
		if got := h.Get("Content-Security-Policy"); got != "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; img-src 'self' http://127.0.0.1:9000; media-src 'self' http://127.0.0.1:9000" {
			t.Errorf("%s CSP %q", c.path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s headers %v", c.path, h)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s content type %q", c.path, h.Get("Content-Type"))
		}
		if strings.HasPrefix(c.path, "/api/") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s cacheable", c.path)
		}
		if c.msg != "" {
			var er struct{ Error string }
			decode(t, r, &er)
			if !contains(er.Error, c.msg) {
				t.Errorf("%s %s: error %q", c.method, c.path, er.Error)
			}
		}
	}
	if _, err := web.New(web.Options{Auth: e.Auth, Audit: e.Audit, MediaSources: []string{"http://x; script-src *"}}); err == nil {
		t.Error("CSP injection through a media source accepted")
	}
}

func TestLoginLockoutAndNoEnumeration(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	u, pw := e.Account(t, auth.Investigator)
	body := func(name, pass string) string { return fmt.Sprintf(`{"user":%q,"password":%q}`, name, pass) }
	// Unknown user and wrong password get the same answer.
	a := e.Do(t, "POST", "/api/v1/login", "", body("nobody-here", "whatever it is"))
	b := e.Do(t, "POST", "/api/v1/login", "", body(u.Name, "whatever it is"))
	if a.StatusCode != http.StatusUnauthorized || a.StatusCode != b.StatusCode || string(a.Body) != string(b.Body) {
		t.Fatalf("enumeration: %d %s vs %d %s", a.StatusCode, a.Body, b.StatusCode, b.Body)
	}
	for i := 0; i < 4; i++ { // 5 failures in all lock the name
		wantStatus(t, e.Do(t, "POST", "/api/v1/login", "", body(u.Name, "still wrong")), http.StatusUnauthorized)
	}
	r := e.Do(t, "POST", "/api/v1/login", "", body(u.Name, pw))
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || !contains(string(r.Body), "try again in") {
		t.Fatalf("locked: %v %s", r.Header, r.Body)
	}
	e.Clock.Advance(16 * time.Minute)
	e.Login(t, u.Name, pw)
	// Failures are audited with the reason; the password typed is not.
	es, err := e.Audit.List(context.Background(), audit.Filter{Action: "auth.login.failed"})
	if err != nil || len(es) != 6 {
		t.Fatalf("%d failure entries (%v)", len(es), err)
	}
	if es[0].Details["reason"] != "unknown user" || es[1].Details["reason"] != "wrong password" || es[5].Details["locked"] != "true" || es[5].Target != u.Name {
		t.Fatalf("entries %+v", es)
	}
	ok, err := e.Audit.List(context.Background(), audit.Filter{Action: "auth.login"})
	if err != nil || len(ok) != 1 || ok[0].Actor != u.Name || ok[0].Details["client"] != "127.0.0.1" {
		t.Fatalf("login entries %+v %v", ok, err)
	}
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
	if !contains(string(r.Body), "log in again") {
		t.Fatalf("message %s", r.Body)
	}
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
		if !contains(er.Error, "case") && !contains(er.Error, "reason") {
			t.Errorf("%s: %q", q, er.Error)
		}
	}
	es, _ := e.Audit.List(context.Background(), audit.Filter{Action: "sample.trajectory"})
	if len(es) != 0 {
		t.Fatalf("refused requests audited: %+v", es)
	}
	r := e.Do(t, "GET", path+"?from=2025-03-01T00:00:00Z&case=C-2025-9&reason=missing+person+report+filed+today", tok, "")
	wantStatus(t, r, http.StatusOK)
	var got map[string]string
	decode(t, r, &got)
	if got["case"] != "C-2025-9" || got["reason"] != "missing person report filed today" {
		t.Fatalf("handler saw %v", got)
	}
	// Headers work where a query string does not fit.
	wantStatus(t, e.Do(t, "GET", path, tok, "", web.CaseHeader, "C-2025-9", web.ReasonHeader, "second look at the same route"), http.StatusOK)
	es, _ = e.Audit.List(context.Background(), audit.Filter{Action: "sample.trajectory"})
	if len(es) != 2 {
		t.Fatalf("%d entries", len(es))
	}
	x := es[0]
	if x.Actor != "t-investigator" || x.Role != "investigator" || x.Target != path || x.Case != "C-2025-9" ||
		x.Reason != "missing person report filed today" || x.Details["query"] != "from=2025-03-01T00%3A00%3A00Z" || x.Details["method"] != "GET" {
		t.Fatalf("entry %+v", x)
	}
	rep, err := e.Audit.Verify(context.Background(), audit.Head{})
	if err != nil || !rep.OK() {
		t.Fatalf("%+v %v", rep, err)
	}
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
		if r := e.Do(t, "GET", c.path, c.tok, ""); r.StatusCode != c.status {
			t.Errorf("%s: %d %s", c.path, r.StatusCode, r.Body)
		}
	}
}

// TestNoSecretsInLogs sends passwords, tokens, cookies and a camera URL with credentials through the
// server and checks none reaches the log or the audit chain.
func TestNoSecretsInLogs(t *testing.T) {
	e := webtest.New(t, webtest.Config{Routes: sampleRoutes()})
	const canary = "CANARY-p4ssw0rd-7731"
	if _, err := e.Auth.AddUser(context.Background(), auth.NewUser{Name: "carl", Role: auth.Admin, Password: canary}); err != nil {
		t.Fatal(err)
	}
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
	if !contains(logs, "http request") || !contains(logs, "user=carl") {
		t.Fatalf("access log missing:\n%s", logs)
	}
	for _, secret := range []string{canary, tok, tok[len(auth.TokenPrefix):], ck.Value, csrf} {
		if contains(logs, secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, logs)
		}
	}
	es, _ := e.Audit.List(context.Background(), audit.Filter{Limit: audit.MaxPage})
	for _, x := range es {
		s := fmt.Sprintf("%+v", x)
		if contains(s, canary[:20]) && x.Action != "auth.login.failed" {
			t.Errorf("audit entry holds the canary: %s", s)
		}
		if contains(s, tok) || contains(s, ck.Value) {
			t.Errorf("audit entry holds a credential: %s", s)
		}
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
	if contains(string(r.Body), "handler bug") || !contains(e.Logs.String(), "handler bug") {
		t.Fatalf("panic: body %s\nlog %s", r.Body, e.Logs.String())
	}
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
	if contains(string(r.Body), "database locked") {
		t.Fatal("health detail leaked to the client")
	}
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
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("ops %s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	for _, ri := range sep.Server.Routes() {
		if ri.Name == "metrics" || ri.Name == "healthz" {
			t.Errorf("%s on the main listener", ri.Pattern)
		}
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
		es, _ := e.Audit.List(context.Background(), audit.Filter{})
		if len(es) != 1 || es[0].Details["client"] != c.want {
			t.Errorf("%v %q: %+v", c.trusted, c.xff, es)
		}
	}
}

func TestServeStopsWithContext(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, ln, e.Server.Handler(), nil) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving")
	}
}
