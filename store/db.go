// Package store persists the product's state: SQLite as the embedded default, behind the small interfaces
// the stages define, so a PostgreSQL implementation can take its place later.
//
// Each domain (sightings, watch list, alerts, users, audit, outbox, ...) owns a component: an ordered list
// of migrations in its own file. Components evolve independently; the schema_versions table records how far
// each has been applied.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// DB is the SQLite database. It is safe for concurrent use: SQLite allows one writer at a time, so writes
// go through a single connection while reads use a pool.
type DB struct {
	// W serialises writers; R serves readers concurrently (WAL mode lets them read while one writes).
	W, R *sql.DB
	path string
}

// component is one domain's schema: migrations applied in order, each exactly once.
type component struct {
	name       string
	migrations []string
}

// components lists every domain's schema. Add a component's migrations in its own file and list it here;
// never edit a migration that has shipped, append a new one.
func components() []component {
	return []component{
		usersComponent(),
		auditComponent(),
		outboxComponent(),
		alertsComponent(),
		patrolsComponent(),
		sightingsComponent(),
		watchlistComponent(),
		caseholdsComponent(),
		retentionComponent(),
		exportsComponent(),
		busComponent(),
	}
}

// Open opens (creating if needed) the database at path and brings every component's schema up to date.
// ":memory:" is not supported because readers and the writer need to share the database: use a temp file.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite3", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite3", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{W: w, R: r, path: path}
	if err := db.migrate(ctx, components()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error {
	werr := db.W.Close()
	if rerr := db.R.Close(); rerr != nil {
		return rerr
	}
	return werr
}

func (db *DB) migrate(ctx context.Context, comps []component) error {
	if _, err := db.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (
		component TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_versions: %w", err)
	}
	for _, c := range comps {
		if err := db.migrateComponent(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) migrateComponent(ctx context.Context, c component) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", c.name, err)
	}
	defer tx.Rollback()
	var have int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE component = ?`, c.name).Scan(&have)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("migrate %s: read version: %w", c.name, err)
	}
	if have > len(c.migrations) {
		return fmt.Errorf("migrate %s: database is at version %d, this binary knows %d: refusing to run an older binary on a newer database",
			c.name, have, len(c.migrations))
	}
	for i := have; i < len(c.migrations); i++ {
		if _, err := tx.ExecContext(ctx, c.migrations[i]); err != nil {
			return fmt.Errorf("migrate %s to version %d: %w", c.name, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_versions(component, version) VALUES(?, ?)
		ON CONFLICT(component) DO UPDATE SET version = excluded.version`, c.name, len(c.migrations)); err != nil {
		return fmt.Errorf("migrate %s: record version: %w", c.name, err)
	}
	return tx.Commit()
}
