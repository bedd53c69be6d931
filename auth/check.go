package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Check reports whether the session or token p authenticated with is still good, and returns its
// user as stored now (role and scope may have changed since). It fails with ErrUnauthenticated once
// the credential was logged out, ended by a password change or by disabling the account, or expired.
// Unlike Authenticate it does not count as use: the web server calls it while an event stream or a
// live view it opened is running, and an open stream must not keep an idle session alive.
func (s *Service) Check(ctx context.Context, p Principal) (User, error) {
	if p.credential == "" {
		return User{}, ErrUnauthenticated
	}
	c, u, err := s.store.Credential(ctx, p.credential)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, fmt.Errorf("check the credential of %s: %w", p.User.Name, err)
	}
	if c.Kind != p.Kind || u.Disabled || s.expired(c, s.now()) {
		return User{}, ErrUnauthenticated
	}
	return u, nil
}

// expired reports whether a credential is past its absolute expiry or, for a console session, its
// idle limit.
func (s *Service) expired(c Credential, now time.Time) bool {
	return !now.Before(c.Expires) || c.Kind == KindSession && now.Sub(c.LastSeen) >= s.sessionIdle
}
