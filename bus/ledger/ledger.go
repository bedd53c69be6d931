// Package ledger makes the center's apply of edge events idempotent. JetStream delivers an event at
// least once (a lost ack, a center restart, an edge resending after its duplicate window); the center
// must store a sighting once and raise an alert once whatever happens. The ledger records, per natural
// key (e.g. "sighting/<id>"), the newest version applied, (lease epoch, sequence), in the same
// transaction as the apply itself: an event whose version is not newer than the recorded one is
// already applied or superseded, and is skipped. Because versions only grow per camera, the same rule
// drops an interim sighting that arrives after its final one (a redelivery overtaken by a later event).
//
// The table lives in the center's database (database/sql; SQLite here, the statements are standard
// SQL with an upsert).
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// Schema creates the ledger's table; Migrate runs it.
const Schema = `CREATE TABLE IF NOT EXISTS bus_applied (
	key     TEXT PRIMARY KEY,
	epoch   INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	applied INTEGER NOT NULL -- unix milliseconds, for Prune
)`

// Migrate creates the table when it is missing.
func Migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		return fmt.Errorf("ledger: create table: %w", err)
	}
	return nil
}

// Version orders events of one key: the lease epoch, then the edge's sequence within it.
type Version struct{ Epoch, Seq uint64 }

// ErrVersion is returned for a version SQL's signed integers cannot hold.
var ErrVersion = errors.New("ledger: version out of range")

// Outcome is what a claim found.
type Outcome int

const (
	// Fresh: the version is newer than any applied under the key; the claim recorded it and the
	// caller applies the event.
	Fresh Outcome = iota
	// Again: exactly this version was applied before (a redelivery, or a resend after a lost ack).
	// The caller applies nothing, but may redo what it does after the commit (raising alerts), which
	// a crash between the commit and the acknowledgement may have cut short: that work must be
	// idempotent.
	Again
	// Superseded: a newer version of the key was applied (an interim sighting arriving after its
	// final one); the event is dropped.
	Superseded
)

func (o Outcome) String() string {
	switch o {
	case Fresh:
		return "fresh"
	case Again:
		return "again"
	}
	return "superseded"
}

// Tx is the part of a write transaction Claim uses (*sql.Tx, or a transaction that prepares its
// statements once).
type Tx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Claim records v for key inside tx when it is newer than what the key has (Fresh); otherwise it
// records nothing and says whether v itself (Again) or a newer version (Superseded) was applied.
func Claim(ctx context.Context, tx Tx, key string, v Version) (Outcome, error) {
	if v.Epoch > math.MaxInt64 || v.Seq > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %+v", ErrVersion, v)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO bus_applied (key, epoch, seq, applied) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq, applied = excluded.applied
		WHERE (excluded.epoch, excluded.seq) > (bus_applied.epoch, bus_applied.seq)`,
		key, int64(v.Epoch), int64(v.Seq), time.Now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	if n == 1 {
		return Fresh, nil
	}
	var have Version
	var epoch, seq int64
	if err := tx.QueryRowContext(ctx, `SELECT epoch, seq FROM bus_applied WHERE key = ?`, key).Scan(&epoch, &seq); err != nil {
		return 0, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	have = Version{Epoch: uint64(epoch), Seq: uint64(seq)}
	if have == v {
		return Again, nil
	}
	return Superseded, nil
}

// Apply runs fn in a transaction together with the claim of (key, v): both are committed or neither
// is. applied is false, and fn is not called, when the claim finds the event already applied.
func Apply(ctx context.Context, db *sql.DB, key string, v Version, fn func(*sql.Tx) error) (applied bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("ledger: begin: %w", err)
	}
	defer tx.Rollback()
	o, err := Claim(ctx, tx, key, v)
	if err != nil || o != Fresh {
		return false, err
	}
	if err := fn(tx); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("ledger: commit %s: %w", key, err)
	}
	return true, nil
}

// Item is one event to apply in a batch.
type Item struct {
	Key     string
	Version Version
}

// ApplyBatch applies items in one transaction, in order: each is claimed and, when fresh, fn(tx, i)
// applies it; applied[i] says which were. One commit for the batch is what lets a center on SQLite
// keep up with thousands of events a second. When the transaction fails (an item's fn failing fails
// it), each item is applied again in a transaction of its own, so one bad event does not hold the
// others back: errs[i] is then that item's error.
func ApplyBatch(ctx context.Context, db *sql.DB, items []Item, fn func(tx *sql.Tx, i int) error) (applied []bool, errs []error) {
	applied, errs = make([]bool, len(items)), make([]error, len(items))
	if err := applyAll(ctx, db, items, fn, applied); err == nil {
		return applied, errs
	}
	for i, it := range items {
		applied[i], errs[i] = Apply(ctx, db, it.Key, it.Version, func(tx *sql.Tx) error { return fn(tx, i) })
	}
	return applied, errs
}

func applyAll(ctx context.Context, db *sql.DB, items []Item, fn func(tx *sql.Tx, i int) error, applied []bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: begin: %w", err)
	}
	defer tx.Rollback()
	for i, it := range items {
		o, err := Claim(ctx, tx, it.Key, it.Version)
		if err != nil {
			return err
		}
		fresh := o == Fresh
		if fresh {
			if err := fn(tx, i); err != nil {
				return err
			}
		}
		applied[i] = fresh
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

// Prune forgets keys last applied before the horizon. Choose it longer than any event can still
// arrive: an edge's outbox outage plus the stream's backlog (days, not minutes); an event older than
// that would be applied again.
func Prune(ctx context.Context, db *sql.DB, before time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM bus_applied WHERE applied < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("ledger: prune: %w", err)
	}
	return res.RowsAffected()
}
