package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web/webtest"
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
	if created.User.Name != "olga" || created.User.Role != auth.Operator || len(created.User.Scope.Cameras) != 2 || created.Password == "" {
		t.Fatalf("created %s", r.Body)
	}
	if contains(string(r.Body), "argon2") || contains(string(r.Body), "hash") {
		t.Fatalf("password hash in response: %s", r.Body)
	}
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
		if r.StatusCode != c.status || !contains(string(r.Body), c.msg) {
			t.Errorf("%s: %d %s", c.body, r.StatusCode, r.Body)
		}
	}

	r = e.Do(t, "GET", "/api/v1/users", admin, "")
	wantStatus(t, r, http.StatusOK)
	var list struct{ Users []auth.User }
	decode(t, r, &list)
	if len(list.Users) != 2 {
		t.Fatalf("users %s", r.Body)
	}

	wantStatus(t, e.Do(t, "POST", fmt.Sprintf("/api/v1/users/%d/disable", me.ID), admin, ""), http.StatusBadRequest)
	wantStatus(t, e.Do(t, "POST", "/api/v1/users/999/disable", admin, ""), http.StatusNotFound)
	wantStatus(t, e.Do(t, "POST", "/api/v1/users/abc/disable", admin, ""), http.StatusBadRequest)
	r = e.Do(t, "POST", fmt.Sprintf("/api/v1/users/%d/disable", created.User.ID), admin, "")
	wantStatus(t, r, http.StatusOK)
	// Disabling ends the user's tokens at once and refuses new logins.
	wantStatus(t, e.Do(t, "GET", "/api/v1/me", olga, ""), http.StatusUnauthorized)
	wantStatus(t, e.Do(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":"olga","password":%q}`, created.Password)), http.StatusUnauthorized)

	es, err := e.Audit.List(context.Background(), audit.Filter{Actor: "t-admin"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, x := range es {
		actions = append(actions, x.Action+":"+x.Target)
	}
	if fmt.Sprint(actions) != "[auth.login:t-admin user.create:olga user.disable:olga]" {
		t.Fatalf("audited %v", actions)
	}
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
		if _, err := e.Audit.Append(ctx, audit.Record{Actor: "ivy", Role: "investigator", Action: "trajectory.query",
			Target: fmt.Sprintf("person/%d", i), Case: "C-1", Reason: "missing person report"}); err != nil {
			t.Fatal(err)
		}
	}
	aud := e.Token(t, auth.Auditor)
	r := e.Do(t, "GET", "/api/v1/audit?actor=ivy&case=C-1&limit=3", aud, "")
	wantStatus(t, r, http.StatusOK)
	var page struct {
		Entries []audit.Entry
		Next    int64
	}
	decode(t, r, &page)
	if len(page.Entries) != 3 || page.Next != 3 || page.Entries[0].Hash == "" {
		t.Fatalf("page %s", r.Body)
	}
	r = e.Do(t, "GET", fmt.Sprintf("/api/v1/audit?actor=ivy&limit=3&after=%d", page.Next), aud, "")
	page.Next = 0
	decode(t, r, &page)
	if len(page.Entries) != 2 || page.Next != 0 {
		t.Fatalf("page 2 %s", r.Body)
	}
	for _, q := range []string{"limit=0", "limit=5000", "after=-1", "from=yesterday"} {
		wantStatus(t, e.Do(t, "GET", "/api/v1/audit?"+q, aud, ""), http.StatusBadRequest)
	}
	// Reading the log is itself recorded.
	r = e.Do(t, "GET", "/api/v1/audit?action=audit.read", aud, "")
	decode(t, r, &page)
	if len(page.Entries) < 3 || page.Entries[0].Actor != "t-auditor" || page.Entries[0].Details["query"] != "actor=ivy&case=C-1&limit=3" {
		t.Fatalf("audit reads %s", r.Body)
	}
	r = e.Do(t, "GET", "/api/v1/audit/verify", aud, "")
	wantStatus(t, r, http.StatusOK)
	var rep struct {
		OK      bool
		Checked int64
		Head    audit.Head
	}
	decode(t, r, &rep)
	if !rep.OK || rep.Checked < 10 {
		t.Fatalf("verify %s", r.Body)
	}
	wantStatus(t, e.Do(t, "GET", "/api/v1/audit/verify?anchor="+rep.Head.String(), aud, ""), http.StatusOK)
	wantStatus(t, e.Do(t, "GET", "/api/v1/audit/verify?anchor=nonsense", aud, ""), http.StatusBadRequest)
}
