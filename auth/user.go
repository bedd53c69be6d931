// Package auth holds the product's users, roles, passwords, console sessions, API tokens and login rate
// limiting. It persists through the small Store interface, which package store implements, and knows
// nothing of HTTP: package web turns its answers into cookies, headers and status codes.
package auth

import (
	"context"
	"errors"
	"slices"
	"time"
)

// User is an account. The password hash never leaves the Store and Service: it is not part of User, so a
// handler that returns a User cannot leak it.
type User struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Disabled bool      `json:"disabled"`
	Scope    Scope     `json:"scope"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Scope narrows what a user may see beyond their role. An operator sees the cameras listed in Cameras
// (or "*" for all) and every camera in the listed Areas; a guardian sees only the watch-list persons in
// Persons. An empty scope grants nothing: deny by default.
type Scope struct {
	Cameras []string `json:"cameras,omitempty"`
	Areas   []string `json:"areas,omitempty"`
	Persons []string `json:"persons,omitempty"`
}

// AllCameras in Scope.Cameras grants an operator every camera.
const AllCameras = "*"

// Validate rejects scopes that would be silently ignored or ambiguous.
func (s Scope) Validate() error {
	for _, list := range []struct {
		name string
		ids  []string
	}{{"cameras", s.Cameras}, {"areas", s.Areas}, {"persons", s.Persons}} {
		for _, id := range list.ids {
			if id == "" || len(id) > 128 {
				return invalidf("scope %s: ids must be 1 to 128 characters, got %q", list.name, id)
			}
		}
	}
	return nil
}

func (s Scope) clone() Scope {
	return Scope{Cameras: slices.Clone(s.Cameras), Areas: slices.Clone(s.Areas), Persons: slices.Clone(s.Persons)}
}

// Errors a Store returns (wrapped) so the Service can tell the cases apart.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// CredentialKind tells a console session from an API token: each is accepted only where it was issued
// for (a token in the Authorization header, a session in the cookie).
type CredentialKind string

const (
	KindSession CredentialKind = "session"
	KindToken   CredentialKind = "token"
)

// Credential is a stored session or token. Only the SHA-256 of its secret is kept, so a copy of the
// database does not let anyone log in.
type Credential struct {
	IDHash   string // hex SHA-256 of the secret the client holds
	UserID   int64
	Kind     CredentialKind
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // absolute expiry
}

// Store persists users and credentials. Methods return errors wrapping ErrNotFound or ErrExists where
// those apply.
type Store interface {
	CreateUser(ctx context.Context, u User, passwordHash string) (User, error)
	User(ctx context.Context, id int64) (User, error)
	// UserByName looks a user up by exact (already normalised) name and returns the password hash too.
	UserByName(ctx context.Context, name string) (User, string, error)
	Users(ctx context.Context) ([]User, error)
	SetPassword(ctx context.Context, id int64, passwordHash string, at time.Time) error
	SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error
	SetScope(ctx context.Context, id int64, s Scope, at time.Time) error

	CreateCredential(ctx context.Context, c Credential) error
	// Credential returns the credential and its user.
	Credential(ctx context.Context, idHash string) (Credential, User, error)
	TouchCredential(ctx context.Context, idHash string, at time.Time) error
	DeleteCredential(ctx context.Context, idHash string) error
	DeleteUserCredentials(ctx context.Context, userID int64) error
	// DeleteExpiredCredentials deletes credentials that expire at or before now and sessions last seen at
	// or before idleSince.
	DeleteExpiredCredentials(ctx context.Context, now, idleSince time.Time) (int64, error)
}

// NormalizeName lower-cases a user name and checks it: 1 to 64 characters from a-z, 0-9, '.', '_', '-',
// starting with a letter or digit. One spelling per account keeps lockout and audit entries unambiguous.
func NormalizeName(name string) (string, error) {
	n := []byte(name)
	if len(n) == 0 || len(n) > 64 {
		return "", invalidf("user name must be 1 to 64 characters")
	}
	for i, c := range n {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			n[i] = c
		}
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return "", invalidf("user name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
		}
	}
	return string(n), nil
}
