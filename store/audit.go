package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"snowlight/audit"
)

// auditComponent is the hash-chained audit log. Triggers make it append-only for every connection that
// uses this schema: changing history needs someone to drop them first, deliberately, and audit.Verify
// then finds the change.
func auditComponent() component {
	return component{name: "audit", migrations: []string{`
CREATE TABLE audit_log (
	id          INTEGER PRIMARY KEY,
	time_ns     INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	role        TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL,
	case_number TEXT NOT NULL,
	reason      TEXT NOT NULL,
	details     TEXT NOT NULL,
	prev_hash   TEXT NOT NULL,
	hash        TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE INDEX audit_log_case ON audit_log(case_number, id);
CREATE INDEX audit_log_time ON audit_log(time_ns);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`, `
-- The key that sealed the entry (audit.Key.ID); '' for entries sealed with plain SHA-256.
ALTER TABLE audit_log ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
`}}
}

// AppendAudit implements audit.Store. The transaction starts IMMEDIATE (the writer connection's
// _txlock), so reading the head and inserting the next entry cannot interleave with another append.
func (db *DB) AppendAudit(ctx context.Context, seal func(audit.Head) (audit.Entry, error)) (audit.Entry, error) {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("append audit entry: %w", err)
	}
	defer tx.Rollback()
	head, err := auditHead(ctx, tx)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("append audit entry: %w", err)
	}
	e, err := seal(head)
	if err != nil {
		return audit.Entry{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log(id, time_ns, actor, role, action, target, case_number, reason, details, prev_hash, key_id, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Time.UnixNano(), e.Actor, e.Role, e.Action, e.Target,
		e.Case, e.Reason, e.DetailsJSON(), e.Prev, e.Key, e.Hash)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("append audit entry %d: %w", e.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return audit.Entry{}, fmt.Errorf("append audit entry %d: %w", e.ID, err)
	}
	return e, nil
}

// AuditHead implements audit.Store.
func (db *DB) AuditHead(ctx context.Context) (audit.Head, error) {
	h, err := auditHead(ctx, db.R)
	if err != nil {
		return h, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

func auditHead(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (audit.Head, error) {
	var h audit.Head
	err := q.QueryRowContext(ctx, `SELECT id, hash, key_id FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&h.ID, &h.Hash, &h.Key)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, nil
	}
	return h, err
}

// AuditEntries implements audit.Store.
func (db *DB) AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	where, args := []string{"id > ?"}, []any{f.After}
	for _, c := range []struct {
		col, v string
	}{{"actor", f.Actor}, {"action", f.Action}, {"case_number", f.Case}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if f.Before != 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	if !f.From.IsZero() {
		where, args = append(where, "time_ns >= ?"), append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where, args = append(where, "time_ns < ?"), append(args, f.To.UnixNano())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = audit.DefaultPage
	}
	rows, err := db.R.QueryContext(ctx, `SELECT id, time_ns, actor, role, action, target, case_number, reason, details, prev_hash, key_id, hash
		FROM audit_log WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var es []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var ns int64
		var details string
		if err := rows.Scan(&e.ID, &ns, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Case, &e.Reason, &details, &e.Prev, &e.Key, &e.Hash); err != nil {
			return nil, fmt.Errorf("read audit log after entry %d: %w", f.After, err)
		}
		e.Time = time.Unix(0, ns).UTC()
		if details != "{}" {
			if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
				return nil, &audit.CorruptError{ID: e.ID, Err: fmt.Errorf("details: %w", err)}
			}
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return es, nil
}
