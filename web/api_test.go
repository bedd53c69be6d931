package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web/webtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsersAPI(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	admin := e.Token(t, auth.Admin)
	me, _ := e.Account(t, auth.Admin)

	r := e.Do(t, "POST", "/api/v1/users", admin, `{"name":"Olga","role":"operator","scope":{"cameras":["cam-1","cam-2"],"areas":["north"]}}`)
	wantStatus(t, r, http.StatusCreated)
	var created struct {
		User     auth.User
		Password string
	}
	decode(t, r, &created)
	assert.Equal(t, "olga", created.User.Name)
	assert.Equal(t, auth.Operator, created.User.Role)
	assert.Len(t, created.User.Scope.Cameras, 2)
	require.NotEmpty(t, created.Password, "created %s", r.Body)
	assert.NotContains(t, string(r.Body), "argon2", "a password hash in the answer")
	assert.NotContains(t, string(r.Body), "hash", "a password hash in the answer")
	olga := e.Login(t, "olga", created.Password)

	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"name":"olga","role":"operator"}`, http.StatusConflict, "already exists"},
		{`{"name":"pete","role":"sheriff"}`, http.StatusBadRequest, "unknown role"},
		{`{"name":"pete","role":"patrol","password":"short"}`, http.StatusBadRequest, "at least 12"},
		{`{"name":"pete","role":"patrol","scope":{"cameras":[""]}}`, http.StatusBadRequest, "scope"},
		{`{"name":"pete","role":"patrol","admin":true}`, http.StatusBadRequest, "unknown field"},
		{`not json`, http.StatusBadRequest, "bad JSON"},
	} {
		r := e.Do(t, "POST", "/api/v1/users", admin, c.body)
		assert.Equal(t, c.status, r.StatusCode, "%s: %s", c.body, r.Body)
		assert.Contains(t, string(r.Body), c.msg, c.body)
	}

	r = e.Do(t, "GET", "/api/v1/users", admin, "")
	wantStatus(t, r, http.StatusOK)
	var list struct{ Users []auth.User }
	decode(t, r, &list)
	assert.Len(t, list.Users, 2, "users %s", r.Body)

	wantStatus(t, e.Do(t, "POST", fmt.Sprintf("/api/v1/users/%d/disable", me.ID), admin, ""), http.StatusBadRequest)
	wantStatus(t, e.Do(t, "POST", "/api/v1/users/999/disable", admin, ""), http.StatusNotFound)
	wantStatus(t, e.Do(t, "POST", "/api/v1/users/abc/disable", admin, ""), http.StatusBadRequest)
	r = e.Do(t, "POST", fmt.Sprintf("/api/v1/users/%d/disable", created.User.ID), admin, "")
	wantStatus(t, r, http.StatusOK)
	// Disabling ends the user's tokens at once and refuses new logins.
	wantStatus(t, e.Do(t, "GET", "/api/v1/me", olga, ""), http.StatusUnauthorized)
	wantStatus(t, e.Do(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":"olga","password":%q}`, created.Password)), http.StatusUnauthorized)

	es, err := e.Audit.List(context.Background(), audit.Filter{Actor: "t-admin"})
	require.NoError(t, err)
	var actions []string
	for _, x := range es {
		actions = append(actions, x.Action+":"+x.Target)
	}
	assert.Equal(t, []string{"auth.login:t-admin", "user.create:olga", "user.disable:olga"}, actions, "audited")
}

func TestChangeOwnPassword(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	u, pw := e.Account(t, auth.Patrol)
	tok := e.Login(t, u.Name, pw)
	wantStatus(t, e.Do(t, "POST", "/api/v1/me/password", tok, `{"current":"not my password","new":"a new long passphrase"}`), http.StatusForbidden)
	wantStatus(t, e.Do(t, "POST", "/api/v1/me/password", tok, fmt.Sprintf(`{"current":%q,"new":"short"}`, pw)), http.StatusBadRequest)
	wantStatus(t, e.Do(t, "POST", "/api/v1/me/password", tok, fmt.Sprintf(`{"current":%q,"new":"a new long passphrase"}`, pw)), http.StatusNoContent)
	wantStatus(t, e.Do(t, "GET", "/api/v1/me", tok, ""), http.StatusUnauthorized)
	e.Login(t, u.Name, "a new long passphrase")
}

func TestAuditAPI(t *testing.T) {
	e := webtest.New(t, webtest.Config{})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := e.Audit.Append(ctx, audit.Record{Actor: "ivy", Role: "investigator", Action: "trajectory.query",
			Target: fmt.Sprintf("person/%d", i), Case: "C-1", Reason: "missing person report"})
		require.NoError(t, err)
	}
	aud := e.Token(t, auth.Auditor)
	r := e.Do(t, "GET", "/api/v1/audit?actor=ivy&case=C-1&limit=3", aud, "")
	wantStatus(t, r, http.StatusOK)
	type auditPage struct {
		Entries []audit.Entry
		Next    int64
	}
	var page auditPage
	decode(t, r, &page)
	require.Len(t, page.Entries, 3, "page %s", r.Body)
	require.Equal(t, int64(3), page.Next, "page %s", r.Body)
	assert.NotEmpty(t, page.Entries[0].Hash)
	r = e.Do(t, "GET", fmt.Sprintf("/api/v1/audit?actor=ivy&limit=3&after=%d", page.Next), aud, "")
	var page2 auditPage
	decode(t, r, &page2)
	assert.Len(t, page2.Entries, 2, "page 2 %s", r.Body)
	assert.Zero(t, page2.Next, "page 2 %s", r.Body)
	for _, q := range []string{"limit=0", "limit=5000", "after=-1", "from=yesterday"} {
		wantStatus(t, e.Do(t, "GET", "/api/v1/audit?"+q, aud, ""), http.StatusBadRequest)
	}
	// Reading the log is itself recorded.
	r = e.Do(t, "GET", "/api/v1/audit?action=audit.read", aud, "")
	var reads auditPage
	decode(t, r, &reads)
	require.GreaterOrEqual(t, len(reads.Entries), 3, "audit reads %s", r.Body)
	assert.Equal(t, "t-auditor", reads.Entries[0].Actor)
	assert.Equal(t, "actor=ivy&case=C-1&limit=3", reads.Entries[0].Details["query"])
	r = e.Do(t, "GET", "/api/v1/audit/verify", aud, "")
	wantStatus(t, r, http.StatusOK)
	var rep struct {
		OK      bool
		Checked int64
		Head    audit.Head
	}
	decode(t, r, &rep)
	assert.True(t, rep.OK, "verify %s", r.Body)
	assert.GreaterOrEqual(t, rep.Checked, int64(10), "verify %s", r.Body)
	wantStatus(t, e.Do(t, "GET", "/api/v1/audit/verify?anchor="+rep.Head.String(), aud, ""), http.StatusOK)
	wantStatus(t, e.Do(t, "GET", "/api/v1/audit/verify?anchor=nonsense", aud, ""), http.StatusBadRequest)
}
