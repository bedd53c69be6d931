package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"snowlight/auth"
)

// A request is authorised when it arrives, but an alert stream or a live view stays open for hours.
// Each keeps the login it was opened with (login, in the request's context) and watches it: every
// Options.Recheck, and at once when this server ends a login (logout, password change, disabling), it
// checks the credential again without counting as use. When the login has ended, or expired, the
// stream or view ends too; when the user's role or scope changed, it is re-authorised. Logins ended by
// another process (the command line disabling a user) are noticed at the next periodic check.

// Why a login watch ends.
var (
	errLoginEnded    = errors.New("the login ended: logged out, password changed, account disabled or session expired")
	errAccessChanged = errors.New("the user's role or scope changed")
)

// endedLogins wakes every watcher when this server ends a login.
type endedLogins struct {
	mu sync.Mutex
	ch chan struct{}
}

// notify wakes the watchers waiting now.
func (e *endedLogins) notify() {
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.ch)
	e.ch = make(chan struct{})
}

func (e *endedLogins) wait() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ch
}

// login is the credential a request was authorised with, as the guard checked it.
type login struct {
	s *Server
	p auth.Principal
}

type loginKey struct{}

// loginOf returns the login of an authorised request.
func loginOf(r *http.Request) login {
	l, _ := r.Context().Value(loginKey{}).(login)
	return l
}

// watch returns nil when ctx ends, errLoginEnded when the login ends, and errAccessChanged, with the
// user as stored now, when the user's role or scope changes. A check that fails for another reason (the
// database is busy) keeps the login until the next one.
func (l login) watch(ctx context.Context) (auth.User, error) {
	if l.s == nil {
		<-ctx.Done()
		return auth.User{}, nil
	}
	tick := time.NewTicker(l.s.opts.Recheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return auth.User{}, nil
		case <-tick.C:
		case <-l.s.ended.wait():
		}
		u, err := l.s.auth.Check(ctx, l.p)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			return u, errLoginEnded
		case ctx.Err() != nil:
			return auth.User{}, nil
		case err != nil:
			l.s.log.Warn("could not check a login of an open stream; trying again", "user", l.p.User.Name, "err", err)
		case u.Role != l.p.User.Role || !sameScope(u.Scope, l.p.User.Scope):
			return u, errAccessChanged
		}
	}
}

// as is the login with the user as changed.
func (l login) as(u auth.User) login {
	l.p.User = u
	return l
}

func sameScope(a, b auth.Scope) bool {
	return slices.Equal(a.Cameras, b.Cameras) && slices.Equal(a.Areas, b.Areas) && slices.Equal(a.Persons, b.Persons)
}
