package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"snowlight/alerts/notify"
)

// outboxComponent holds notifications waiting for delivery (see notify.Outbox). UNIQUE(receiver, key)
// makes queueing idempotent: a retried change cannot queue a notification twice.
func outboxComponent() component {
	return component{name: "outbox", migrations: []string{`
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	receiver        TEXT NOT NULL,
	key             TEXT NOT NULL,
	topic           TEXT NOT NULL,
	payload         BLOB NOT NULL,
	created_ns      INTEGER NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_ns INTEGER NOT NULL,
	delivered_ns    INTEGER,
	failed_ns       INTEGER,
	last_error      TEXT NOT NULL DEFAULT '',
	UNIQUE (receiver, key)
);
CREATE INDEX outbox_due ON outbox(next_attempt_ns) WHERE delivered_ns IS NULL AND failed_ns IS NULL;
`, `
CREATE INDEX outbox_pending ON outbox(id) WHERE delivered_ns IS NULL AND failed_ns IS NULL;
`}}
}

// execer is what both *sql.DB and *sql.Tx offer, so alert changes can queue inside their transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertOutbox(ctx context.Context, x execer, msgs []notify.Message) error {
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("queue notification: %w", err)
		}
		next := m.NextAttempt
		if next.IsZero() {
			next = m.Created
		}
		if _, err := x.ExecContext(ctx, `INSERT INTO outbox(receiver, key, topic, payload, created_ns, next_attempt_ns)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(receiver, key) DO NOTHING`,
			m.Receiver, m.Key, m.Topic, m.Payload, m.Created.UnixNano(), next.UnixNano()); err != nil {
			return fmt.Errorf("queue notification %s to %s: %w", m.Key, m.Receiver, err)
		}
	}
	return nil
}

// EnqueueOutbox implements notify.Outbox.
func (db *DB) EnqueueOutbox(ctx context.Context, msgs ...notify.Message) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue notifications: %w", err)
	}
	defer tx.Rollback()
	if err := insertOutbox(ctx, tx, msgs); err != nil {
		return err
	}
	return tx.Commit()
}

const outboxColumns = `id, receiver, key, topic, payload, created_ns, attempts, next_attempt_ns, delivered_ns, failed_ns, last_error`

func scanOutbox(rows *sql.Rows) ([]notify.Message, error) {
	defer rows.Close()
	var out []notify.Message
	for rows.Next() {
		var m notify.Message
		var created, next int64
		var delivered, failed sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Receiver, &m.Key, &m.Topic, &m.Payload, &created, &m.Attempts, &next, &delivered, &failed, &m.LastError); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		m.Created, m.NextAttempt = time.Unix(0, created), time.Unix(0, next)
		if delivered.Valid {
			m.Delivered = time.Unix(0, delivered.Int64)
		}
		if failed.Valid {
			m.Failed = time.Unix(0, failed.Int64)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// DueOutbox implements notify.Outbox.
func (db *DB) DueOutbox(ctx context.Context, now time.Time, limit int) ([]notify.Message, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox
		WHERE delivered_ns IS NULL AND failed_ns IS NULL AND next_attempt_ns <= ? ORDER BY id LIMIT ?`, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("read due notifications: %w", err)
	}
	return scanOutbox(rows)
}

// NextOutboxDue implements notify.Outbox.
func (db *DB) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := db.R.QueryRowContext(ctx, `SELECT min(next_attempt_ns) FROM outbox WHERE delivered_ns IS NULL AND failed_ns IS NULL`).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read next notification: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, next.Int64), true, nil
}

// MarkOutboxDelivered implements notify.Outbox.
func (db *DB) MarkOutboxDelivered(ctx context.Context, id int64, at time.Time) error {
	return db.updateOutbox(ctx, id, `UPDATE outbox SET delivered_ns = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, at.UnixNano(), id)
}

// RetryOutbox implements notify.Outbox.
func (db *DB) RetryOutbox(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	return db.updateOutbox(ctx, id, `UPDATE outbox SET attempts = ?, next_attempt_ns = ?, last_error = ? WHERE id = ?`, attempts, next.UnixNano(), lastErr, id)
}

// FailOutbox implements notify.Outbox.
func (db *DB) FailOutbox(ctx context.Context, id int64, at time.Time, lastErr string) error {
	return db.updateOutbox(ctx, id, `UPDATE outbox SET failed_ns = ?, attempts = attempts + 1, last_error = ? WHERE id = ?`, at.UnixNano(), lastErr, id)
}

func (db *DB) updateOutbox(ctx context.Context, id int64, q string, args ...any) error {
	res, err := db.W.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update notification %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("update notification %d: no such notification", id)
	}
	return nil
}

// OutboxMessages implements notify.Outbox; receiver "" lists all.
func (db *DB) OutboxMessages(ctx context.Context, receiver string, limit int) ([]notify.Message, error) {
	q, args := `SELECT `+outboxColumns+` FROM outbox ORDER BY id DESC LIMIT ?`, []any{limit}
	if receiver != "" {
		q, args = `SELECT `+outboxColumns+` FROM outbox WHERE receiver = ? ORDER BY id DESC LIMIT ?`, []any{receiver, limit}
	}
	rows, err := db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return scanOutbox(rows)
}
