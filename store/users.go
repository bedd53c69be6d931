package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"snowlight/auth"
)

// usersComponent holds accounts and their sessions and API tokens (only hashes of their secrets).
func usersComponent() component {
	return component{name: "users", migrations: []string{`
CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	scope         TEXT NOT NULL DEFAULT '{}',
	created_ns    INTEGER NOT NULL,
	updated_ns    INTEGER NOT NULL
);
CREATE TABLE auth_credentials (
	id_hash      TEXT PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	kind         TEXT NOT NULL CHECK (kind IN ('session', 'token')),
	created_ns   INTEGER NOT NULL,
	last_seen_ns INTEGER NOT NULL,
	expires_ns   INTEGER NOT NULL
);
CREATE INDEX auth_credentials_user ON auth_credentials(user_id);
CREATE INDEX auth_credentials_expires ON auth_credentials(expires_ns);
`}}
}

const userColumns = `id, name, role, disabled, scope, created_ns, updated_ns`

// CreateUser implements auth.Store.
func (db *DB) CreateUser(ctx context.Context, u auth.User, passwordHash string) (auth.User, error) {
	scope, err := json.Marshal(u.Scope)
	if err != nil {
		return auth.User{}, fmt.Errorf("encode scope: %w", err)
	}
	res, err := db.W.ExecContext(ctx, `INSERT INTO users(name, role, password_hash, disabled, scope, created_ns, updated_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, u.Name, string(u.Role), passwordHash, u.Disabled, string(scope),
		u.Created.UnixNano(), u.Updated.UnixNano())
	if err != nil {
		if se, ok := errors.AsType[sqlite3.Error](err); ok && se.ExtendedCode == sqlite3.ErrConstraintUnique {
			return auth.User{}, fmt.Errorf("user %s: %w", u.Name, auth.ErrExists)
		}
		return auth.User{}, fmt.Errorf("insert user %s: %w", u.Name, err)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return auth.User{}, fmt.Errorf("insert user %s: %w", u.Name, err)
	}
	return u, nil
}

// User implements auth.Store.
func (db *DB) User(ctx context.Context, id int64) (auth.User, error) {
	u, err := scanUser(db.R.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return auth.User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByName implements auth.Store.
func (db *DB) UserByName(ctx context.Context, name string) (auth.User, string, error) {
	var hash string
	row := db.R.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE name = ?`, name)
	u, err := scanUser(row, &hash)
	if err != nil {
		return auth.User{}, "", fmt.Errorf("user %s: %w", name, err)
	}
	return u, hash, nil
}

// Users implements auth.Store.
func (db *DB) Users(ctx context.Context) ([]auth.User, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// SetPassword implements auth.Store.
func (db *DB) SetPassword(ctx context.Context, id int64, passwordHash string, at time.Time) error {
	return db.updateUser(ctx, id, `password_hash = ?`, passwordHash, at)
}

// SetDisabled implements auth.Store.
func (db *DB) SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error {
	return db.updateUser(ctx, id, `disabled = ?`, disabled, at)
}

// SetScope implements auth.Store.
func (db *DB) SetScope(ctx context.Context, id int64, s auth.Scope, at time.Time) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode scope: %w", err)
	}
	return db.updateUser(ctx, id, `scope = ?`, string(b), at)
}

func (db *DB) updateUser(ctx context.Context, id int64, set string, v any, at time.Time) error {
	res, err := db.W.ExecContext(ctx, `UPDATE users SET `+set+`, updated_ns = ? WHERE id = ?`, v, at.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("update user %d: %w", id, auth.ErrNotFound)
	}
	return nil
}

// CreateCredential implements auth.Store.
func (db *DB) CreateCredential(ctx context.Context, c auth.Credential) error {
	_, err := db.W.ExecContext(ctx, `INSERT INTO auth_credentials(id_hash, user_id, kind, created_ns, last_seen_ns, expires_ns)
		VALUES (?, ?, ?, ?, ?, ?)`, c.IDHash, c.UserID, string(c.Kind), c.Created.UnixNano(), c.LastSeen.UnixNano(), c.Expires.UnixNano())
	if err != nil {
		return fmt.Errorf("insert %s for user %d: %w", c.Kind, c.UserID, err)
	}
	return nil
}

// Credential implements auth.Store.
func (db *DB) Credential(ctx context.Context, idHash string) (auth.Credential, auth.User, error) {
	var c auth.Credential
	var kind string
	var created, seen, expires int64
	row := db.R.QueryRowContext(ctx, `SELECT `+userColumnsPrefixed("u.")+`, c.kind, c.created_ns, c.last_seen_ns, c.expires_ns
		FROM auth_credentials c JOIN users u ON u.id = c.user_id WHERE c.id_hash = ?`, idHash)
	u, err := scanUser(row, &kind, &created, &seen, &expires)
	if err != nil {
		return c, u, fmt.Errorf("credential: %w", err)
	}
	c = auth.Credential{IDHash: idHash, UserID: u.ID, Kind: auth.CredentialKind(kind),
		Created: time.Unix(0, created), LastSeen: time.Unix(0, seen), Expires: time.Unix(0, expires)}
	return c, u, nil
}

// TouchCredential implements auth.Store.
func (db *DB) TouchCredential(ctx context.Context, idHash string, at time.Time) error {
	if _, err := db.W.ExecContext(ctx, `UPDATE auth_credentials SET last_seen_ns = ? WHERE id_hash = ?`, at.UnixNano(), idHash); err != nil {
		return fmt.Errorf("touch credential: %w", err)
	}
	return nil
}

// DeleteCredential implements auth.Store.
func (db *DB) DeleteCredential(ctx context.Context, idHash string) error {
	if _, err := db.W.ExecContext(ctx, `DELETE FROM auth_credentials WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete credential: %w", err)
	}
	return nil
}

// DeleteUserCredentials implements auth.Store.
func (db *DB) DeleteUserCredentials(ctx context.Context, userID int64) error {
	if _, err := db.W.ExecContext(ctx, `DELETE FROM auth_credentials WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete credentials of user %d: %w", userID, err)
	}
	return nil
}

// DeleteExpiredCredentials implements auth.Store.
func (db *DB) DeleteExpiredCredentials(ctx context.Context, now, idleSince time.Time) (int64, error) {
	res, err := db.W.ExecContext(ctx, `DELETE FROM auth_credentials WHERE expires_ns <= ? OR (kind = 'session' AND last_seen_ns <= ?)`,
		now.UnixNano(), idleSince.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("delete expired credentials: %w", err)
	}
	return res.RowsAffected()
}

func scanUser(r interface{ Scan(dest ...any) error }, extra ...any) (auth.User, error) {
	var u auth.User
	var role, scope string
	var created, updated int64
	dest := append([]any{&u.ID, &u.Name, &role, &u.Disabled, &scope, &created, &updated}, extra...)
	if err := r.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return u, auth.ErrNotFound
		}
		return u, err
	}
	u.Role = auth.Role(role)
	u.Created, u.Updated = time.Unix(0, created), time.Unix(0, updated)
	if err := json.Unmarshal([]byte(scope), &u.Scope); err != nil {
		return u, fmt.Errorf("user %s: decode scope: %w", u.Name, err)
	}
	return u, nil
}

func userColumnsPrefixed(p string) string {
	parts := strings.Split(userColumns, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}
