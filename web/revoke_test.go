package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web"
	"snowlight/web/fake"
	"snowlight/web/webtest"
)

// rest reads the stream to its end and returns what came; it fails the test if the stream is still
// open after limit.
func (s *sse) rest(t *testing.T, limit time.Duration) string {
	t.Helper()
	var b strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s.sc.Scan() {
			b.WriteString(s.sc.Text() + "\n")
		}
	}()
	select {
	case <-done:
		return b.String()
	case <-time.After(limit):
		s.resp.Body.Close()
		<-done
		require.Fail(t, "the stream was still open", "%v later", limit)
		return ""
	}
}

// streamHead asks for a stream and returns the answer's status and headers without reading on.
func streamHead(t *testing.T, p *product, token string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.HTTP.URL+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.HTTP.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// cookieStream opens the alert stream of a console session.
func cookieStream(t *testing.T, p *product, ctx context.Context, ck *http.Cookie) *sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.HTTP.URL+"/api/v1/alerts/stream", nil)
	req.AddCookie(ck)
	return startStream(t, p, req)
}

// TestRevokedLoginsCloseTheirStreams checks that an alert stream ends, within a few seconds, with the
// login that opened it: logout, a password change, an account disabled (through the API, or from the
// command line where only the periodic check sees it), and expiry. The console is told
// (session_ended) so it asks for a login instead of reconnecting. Streams of other logins go on.
func TestRevokedLoginsCloseTheirStreams(t *testing.T) {
	p := newProduct(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := p.Token(t, auth.Admin)
	bystander := openStream(t, p, ctx, p.Token(t, auth.Investigator), "")
	for _, c := range []struct {
		name   string
		revoke func(t *testing.T, u auth.User, token string, pw string)
	}{
		{"logout", func(t *testing.T, u auth.User, token, pw string) {
			wantStatus(t, p.Do(t, "POST", "/api/v1/logout", token, ""), http.StatusNoContent)
		}},
		{"password changed", func(t *testing.T, u auth.User, token, pw string) {
			wantStatus(t, p.Do(t, "POST", "/api/v1/me/password", token, `{"current":"`+pw+`","new":"another long password"}`), http.StatusNoContent)
		}},
		{"disabled by an admin", func(t *testing.T, u auth.User, token, pw string) {
			wantStatus(t, p.Do(t, "POST", "/api/v1/users/"+strconv.FormatInt(u.ID, 10)+"/disable", admin, ""), http.StatusOK)
		}},
		{"disabled from the command line", func(t *testing.T, u auth.User, token, pw string) {
			require.NoError(t, p.Auth.SetDisabled(context.Background(), u.ID, true))
		}},
		{"token expired", func(t *testing.T, u auth.User, token, pw string) {
			// Before the clock moves (it ends every token): the investigator's stream, opened before
			// the revocations above, still delivers.
			p.W.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-after", Rule: "loitering", Severity: "normal", Camera: "cam-1"}})
			assert.Equal(t, "a-after", bystander.next(t).alert.ID)
			p.Env.Clock.Advance(25 * time.Hour) // the clock of the logins
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, pw := p.AddUser(t, "op-"+strings.ReplaceAll(c.name, " ", "-"), auth.Operator, auth.Scope{Cameras: []string{auth.AllCameras}})
			token := p.Login(t, u.Name, pw)
			s := openStream(t, p, ctx, token, "")
			start := time.Now()
			c.revoke(t, u, token, pw)
			got := s.rest(t, 3*time.Second)
			t.Logf("ended %v after the revocation", time.Since(start).Round(time.Millisecond))
			assert.Contains(t, got, "event: session_ended")
			assert.Equal(t, http.StatusUnauthorized, streamHead(t, p, token).StatusCode)
		})
	}
	t.Run("session idle", func(t *testing.T) {
		u, pw := p.AddUser(t, "op-idle", auth.Operator, auth.Scope{Cameras: []string{auth.AllCameras}})
		ck, _, _ := sessionLogin(t, p.Env, u.Name, pw)
		s := cookieStream(t, p, ctx, ck)
		// An open stream is not use: the session ends after its idle time with the stream open.
		p.Env.Clock.Advance(31 * time.Minute)
		assert.Contains(t, s.rest(t, 3*time.Second), "event: session_ended")
	})
}

// TestStreamScopeChangeReconnects checks that a stream opened under one scope ends when the scope
// changes, so the browser reconnects under the new one, without being told the login ended.
func TestStreamScopeChangeReconnects(t *testing.T) {
	p := newProduct(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u, pw := p.AddUser(t, "op-moved", auth.Operator, auth.Scope{Cameras: []string{"cam-1", "cam-2"}})
	s := openStream(t, p, ctx, p.Login(t, u.Name, pw), "")
	require.NoError(t, p.Auth.SetScope(ctx, u.ID, auth.Scope{Cameras: []string{"cam-1"}}))
	assert.NotContains(t, s.rest(t, 3*time.Second), "session_ended")
}

// TestStreamsAndLiveViewsAreCappedPerUser checks the per-user limits on alert streams and live views
// (429 past them), that one user at the limit does not hold back another, and that a place is given
// back when a stream or view ends.
func TestStreamsAndLiveViewsAreCappedPerUser(t *testing.T) {
	lv := fake.NewLive("cam-1", "cam-2")
	p := newProduct(t, func(o *web.APIOptions) { o.Live = lv }, nil)
	op, inv := p.Token(t, auth.Operator), p.Token(t, auth.Investigator)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var streams []*sse
	for range 4 {
		streams = append(streams, openStream(t, p, ctx, op, ""))
	}
	r := streamHead(t, p, op)
	assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "fifth stream of one user")
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	other := openStream(t, p, ctx, inv, "")
	streams[0].resp.Body.Close()
	waitFor(t, func() bool { return p.W.Alerts.Subscribers() == 4 })
	streams[0] = openStream(t, p, ctx, op, "")
	other.resp.Body.Close()

	offer := func(token string) webtest.Response {
		return p.Do(t, "POST", "/api/v1/cameras/cam-1/whep", token, "v=0", "Content-Type", "application/sdp")
	}
	var sessions []string
	for range 8 {
		r := offer(op)
		require.Equal(t, http.StatusCreated, r.StatusCode, string(r.Body))
		sessions = append(sessions, r.Header.Get("Location"))
	}
	r2 := offer(op)
	assert.Equal(t, http.StatusTooManyRequests, r2.StatusCode, "ninth live view of one user: %s", r2.Body)
	assert.Equal(t, http.StatusCreated, offer(inv).StatusCode, "another user's first live view")
	wantStatus(t, p.Do(t, "DELETE", sessions[0], op, ""), http.StatusNoContent)
	waitFor(t, func() bool { return offer(op).StatusCode == http.StatusCreated })
}

// TestLiveViewsAreRecordedAndEndWithTheirLogin checks that starting and ending a live view is in the
// audit log with the user and the camera, that only its viewer (or an admin) may end it, and that
// logging out ends it within a few seconds.
func TestLiveViewsAreRecordedAndEndWithTheirLogin(t *testing.T) {
	lv := fake.NewLive("cam-1", "cam-2")
	p := newProduct(t, func(o *web.APIOptions) { o.Live = lv }, nil)
	u, pw := p.AddUser(t, "olga", auth.Operator, auth.Scope{Cameras: []string{auth.AllCameras}})
	olga, other := p.Login(t, u.Name, pw), p.Token(t, auth.Operator)
	start := func(token, cam string) string {
		t.Helper()
		r := p.Do(t, "POST", "/api/v1/cameras/"+cam+"/whep", token, "v=0", "Content-Type", "application/sdp")
		require.Equal(t, http.StatusCreated, r.StatusCode, string(r.Body))
		return r.Header.Get("Location")
	}
	closed, left, revoked := start(olga, "cam-1"), start(olga, "cam-2"), start(olga, "cam-1")

	wantStatus(t, p.Do(t, "DELETE", closed, other, ""), http.StatusNotFound)
	wantStatus(t, p.Do(t, "DELETE", closed, olga, ""), http.StatusNoContent)
	lv.Leave(left[strings.LastIndex(left, "/")+1:])
	begin := time.Now()
	wantStatus(t, p.Do(t, "POST", "/api/v1/logout", olga, ""), http.StatusNoContent)
	waitFor(t, func() bool { return lv.Sessions() == 0 })
	t.Logf("live view ended %v after the logout", time.Since(begin).Round(time.Millisecond))

	var got []string
	waitFor(t, func() bool {
		es, err := p.Audit.List(context.Background(), audit.Filter{Actor: "olga", Limit: audit.MaxPage})
		require.NoError(t, err)
		got = got[:0]
		for _, e := range es {
			if strings.HasPrefix(e.Action, "live.") {
				got = append(got, e.Action+" "+e.Target+" "+e.Details["reason"])
			}
		}
		return len(got) == 6
	})
	assert.ElementsMatch(t, []string{
		"live.start cam-1 ", "live.start cam-2 ", "live.start cam-1 ",
		"live.stop cam-1 closed by olga", "live.stop cam-2 the viewer left or the server stopped",
		"live.stop cam-1 the login ended: logged out, password changed, account disabled or session expired",
	}, got)
	for _, loc := range []string{closed, left, revoked} {
		assert.Contains(t, auditSessions(t, p), loc[strings.LastIndex(loc, "/")+1:])
	}
}

// auditSessions is every live session id the audit log names.
func auditSessions(t *testing.T, p *product) []string {
	t.Helper()
	es, err := p.Audit.List(context.Background(), audit.Filter{Limit: audit.MaxPage})
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		if id := e.Details["session"]; id != "" {
			out = append(out, id)
		}
	}
	return out
}
