package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"snowlight/bus/ledger"
)

// busComponent is the center's side of the message bus: which version of each natural key it applied
// (bus/ledger's table, written in the transaction of the apply itself) and the events it gave up on.
func busComponent() component {
	return component{name: "bus", migrations: []string{ledger.Schema + `;
CREATE INDEX bus_applied_at ON bus_applied(applied);
CREATE TABLE bus_dead (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at_ns       INTEGER NOT NULL,
	edge        TEXT NOT NULL,
	camera      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	msg_id      TEXT NOT NULL,
	epoch       INTEGER NOT NULL,
	seq         INTEGER NOT NULL,
	produced_ns INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	payload     BLOB
);
CREATE INDEX bus_dead_at ON bus_dead(at_ns);
`}}
}

// Tx is one write transaction of the center's intake: the sightings, decisions and ledger claims of a
// batch of events, committed together or not at all. It prepares each statement once: a batch runs
// the same few statements for every event, and preparing them again each time held the center to
// 2,171-2,368 sightings/s stored of the 3,000 offered (docs/BENCHMARKS.md, "Distributed mode").
type Tx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // closed with the transaction
}

func (t *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	t.stmts[query] = st
	return st, nil
}

// ExecContext runs query prepared once in this transaction.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext runs query prepared once in this transaction.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.tx.QueryRowContext(ctx, query, args...) // reports the error through the row
	}
	return st.QueryRowContext(ctx, args...)
}

// Batch runs fn in one write transaction and commits it when fn returns nil. One commit for many
// events is what lets SQLite take thousands of sightings a second.
func (db *DB) Batch(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(&Tx{tx: tx, stmts: map[string]*sql.Stmt{}}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Claim records that the event of key at version v is applied in this transaction, unless it (or a
// newer version) was applied before: see bus/ledger.
func (t *Tx) Claim(ctx context.Context, key string, v ledger.Version) (ledger.Outcome, error) {
	return ledger.Claim(ctx, t, key, v)
}

// DeadLetter is an event the center gave up on (refused by the fence, malformed, or failing at its
// last delivery), kept for people to look at.
type DeadLetter struct {
	At                 time.Time
	Edge, Camera, Kind string
	MsgID              string
	Epoch, Seq         uint64
	Produced           time.Time
	Reason             string
	Payload            []byte
}

// SaveDeadLetter keeps an event given up on.
func (db *DB) SaveDeadLetter(ctx context.Context, d DeadLetter) error {
	_, err := db.W.ExecContext(ctx, `INSERT INTO bus_dead(at_ns, edge, camera, kind, msg_id, epoch, seq, produced_ns, reason, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.At.UnixNano(), d.Edge, d.Camera, d.Kind, d.MsgID,
		int64(min(d.Epoch, 1<<63-1)), int64(min(d.Seq, 1<<63-1)), d.Produced.UnixNano(), d.Reason, d.Payload)
	if err != nil {
		return fmt.Errorf("save dead letter %s: %w", d.MsgID, err)
	}
	return nil
}

// DeadLetters lists the newest events given up on, newest first.
func (db *DB) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT at_ns, edge, camera, kind, msg_id, epoch, seq, produced_ns, reason, payload
		FROM bus_dead ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var at, produced, epoch, seq int64
		if err := rows.Scan(&at, &d.Edge, &d.Camera, &d.Kind, &d.MsgID, &epoch, &seq, &produced, &d.Reason, &d.Payload); err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		d.At, d.Produced, d.Epoch, d.Seq = fromNanos(at), fromNanos(produced), uint64(epoch), uint64(seq)
		out = append(out, d)
	}
	return out, rows.Err()
}

// PruneBus forgets ledger entries applied before applied and dead letters kept since before dead. An
// event older than the ledger's horizon would be applied again: choose it longer than any outage an
// edge's outbox and the stream can hold.
func (db *DB) PruneBus(ctx context.Context, applied, dead time.Time) (int64, error) {
	n, err := ledger.Prune(ctx, db.W, applied)
	if err != nil {
		return 0, err
	}
	res, err := db.W.ExecContext(ctx, `DELETE FROM bus_dead WHERE at_ns < ?`, dead.UnixNano())
	if err != nil {
		return n, fmt.Errorf("prune dead letters: %w", err)
	}
	m, _ := res.RowsAffected()
	return n + m, nil
}
