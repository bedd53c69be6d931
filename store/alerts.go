package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"snowlight/alerts"
)

// alertsComponent holds alerts and their events (see alerts.Store). An alert is stored whole as JSON,
// with the fields queries filter on copied into columns; alert_events is the append-only log of every
// step, which is also what the console stream resumes from.
func alertsComponent() component {
	return component{name: "alerts", migrations: []string{`
CREATE TABLE alerts (
	id            TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	subject       TEXT NOT NULL,
	status        TEXT NOT NULL,
	priority      INTEGER NOT NULL,
	person_id     TEXT NOT NULL DEFAULT '',
	camera        TEXT NOT NULL,
	first_seen_ns INTEGER NOT NULL,
	last_seen_ns  INTEGER NOT NULL,
	created_ns    INTEGER NOT NULL,
	updated_ns    INTEGER NOT NULL,
	version       INTEGER NOT NULL,
	data          TEXT NOT NULL
);
CREATE INDEX alerts_active ON alerts(kind, subject, last_seen_ns) WHERE status NOT IN ('resolved', 'dismissed');
CREATE INDEX alerts_last_seen ON alerts(last_seen_ns);
CREATE INDEX alerts_status ON alerts(status, last_seen_ns);
CREATE INDEX alerts_person ON alerts(person_id, last_seen_ns) WHERE person_id != '';
CREATE TABLE alert_events (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
	at_ns    INTEGER NOT NULL,
	action   TEXT NOT NULL,
	data     TEXT NOT NULL,
	snapshot TEXT NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events(alert_id, seq);
`, `
DROP INDEX alerts_last_seen;
DROP INDEX alerts_status;
DROP INDEX alerts_person;
CREATE INDEX alerts_last_seen ON alerts(last_seen_ns, id);
CREATE INDEX alerts_status ON alerts(status, last_seen_ns, id);
CREATE INDEX alerts_person ON alerts(person_id, last_seen_ns, id);
CREATE INDEX alerts_camera ON alerts(camera, last_seen_ns, id);
`, `
CREATE TABLE alert_triggers (
	key      TEXT PRIMARY KEY,
	alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX alert_triggers_alert ON alert_triggers(alert_id);
`}}
}

// ApplyAlertChange implements alerts.Store.
func (db *DB) ApplyAlertChange(ctx context.Context, c alerts.Change) ([]alerts.Event, error) {
	a := c.Alert
	a.History = nil
	data, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode alert: %w", err)
	}
	personID := ""
	if a.Person != nil {
		personID = a.Person.ID
	}
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("save alert: %w", err)
	}
	defer tx.Rollback()
	if c.New {
		_, err = tx.ExecContext(ctx, `INSERT INTO alerts(id, kind, subject, status, priority, person_id, camera,
			first_seen_ns, last_seen_ns, created_ns, updated_ns, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, string(a.Kind), a.Subject, string(a.Status), int(a.Priority), personID, a.Place.Camera,
			a.FirstSeen.UnixNano(), a.LastSeen.UnixNano(), a.Created.UnixNano(), a.Updated.UnixNano(), a.Version, string(data))
		if err != nil {
			return nil, fmt.Errorf("insert alert: %w", err)
		}
	} else {
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET status = ?, priority = ?, camera = ?, first_seen_ns = ?,
			last_seen_ns = ?, updated_ns = ?, version = ?, data = ? WHERE id = ? AND version = ?`,
			string(a.Status), int(a.Priority), a.Place.Camera, a.FirstSeen.UnixNano(), a.LastSeen.UnixNano(),
			a.Updated.UnixNano(), a.Version, string(data), a.ID, a.Version-1)
		if err != nil {
			return nil, fmt.Errorf("update alert: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, alerts.ErrConflict
		}
	}
	out := make([]alerts.Event, len(c.Events))
	for i, ev := range c.Events {
		snap := []byte("null")
		if ev.Alert != nil {
			s := *ev.Alert
			s.History = nil
			if snap, err = json.Marshal(s); err != nil {
				return nil, fmt.Errorf("encode alert snapshot: %w", err)
			}
		}
		plain := ev
		plain.Alert, plain.Seq = nil, 0
		evData, err := json.Marshal(plain)
		if err != nil {
			return nil, fmt.Errorf("encode alert event: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO alert_events(alert_id, at_ns, action, data, snapshot) VALUES (?, ?, ?, ?, ?)`,
			a.ID, ev.At.UnixNano(), string(ev.Action), string(evData), string(snap))
		if err != nil {
			return nil, fmt.Errorf("insert alert event: %w", err)
		}
		if ev.Seq, err = res.LastInsertId(); err != nil {
			return nil, fmt.Errorf("insert alert event: %w", err)
		}
		out[i] = ev
	}
	if err := insertOutbox(ctx, tx, c.Outbox); err != nil {
		return nil, err
	}
	if c.Trigger != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_triggers(key, alert_id) VALUES (?, ?)`, c.Trigger, a.ID); err != nil {
			return nil, fmt.Errorf("record trigger %s: %w", c.Trigger, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("save alert: %w", err)
	}
	return out, nil
}

// TriggerAlert implements alerts.Store.
func (db *DB) TriggerAlert(ctx context.Context, key string) (string, bool, error) {
	var id string
	err := db.R.QueryRowContext(ctx, `SELECT alert_id FROM alert_triggers WHERE key = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read trigger %s: %w", key, err)
	}
	return id, true, nil
}

func decodeAlert(data string) (alerts.Alert, error) {
	var a alerts.Alert
	if err := json.Unmarshal([]byte(data), &a); err != nil {
		return a, fmt.Errorf("decode alert: %w", err)
	}
	return a, nil
}

// Alert implements alerts.Store.
func (db *DB) Alert(ctx context.Context, id string) (alerts.Alert, error) {
	var data string
	err := db.R.QueryRowContext(ctx, `SELECT data FROM alerts WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return alerts.Alert{}, alerts.ErrNotFound
	}
	if err != nil {
		return alerts.Alert{}, fmt.Errorf("read alert: %w", err)
	}
	a, err := decodeAlert(data)
	if err != nil {
		return a, err
	}
	rows, err := db.R.QueryContext(ctx, `SELECT seq, data FROM alert_events WHERE alert_id = ? ORDER BY seq`, id)
	if err != nil {
		return a, fmt.Errorf("read alert history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ev, err := scanEvent(rows, false)
		if err != nil {
			return a, err
		}
		a.History = append(a.History, ev)
	}
	return a, rows.Err()
}

func scanEvent(rows *sql.Rows, withSnapshot bool) (alerts.Event, error) {
	var ev alerts.Event
	var seq int64
	var data, snap string
	dest := []any{&seq, &data}
	if withSnapshot {
		dest = append(dest, &snap)
	}
	if err := rows.Scan(dest...); err != nil {
		return ev, fmt.Errorf("read alert event: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return ev, fmt.Errorf("decode alert event %d: %w", seq, err)
	}
	ev.Seq = seq
	if withSnapshot && snap != "null" {
		a, err := decodeAlert(snap)
		if err != nil {
			return ev, err
		}
		ev.Alert = &a
	}
	return ev, nil
}

// LastAlertEvent implements alerts.Store.
func (db *DB) LastAlertEvent(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM alert_events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read the newest alert event: %w", err)
	}
	return seq, nil
}

// ActiveAlert implements alerts.Store.
func (db *DB) ActiveAlert(ctx context.Context, kind alerts.Kind, subject string) (alerts.Alert, bool, error) {
	var data string
	err := db.R.QueryRowContext(ctx, `SELECT data FROM alerts WHERE kind = ? AND subject = ?
		AND status NOT IN ('resolved', 'dismissed') ORDER BY last_seen_ns DESC LIMIT 1`, string(kind), subject).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return alerts.Alert{}, false, nil
	}
	if err != nil {
		return alerts.Alert{}, false, fmt.Errorf("find active alert: %w", err)
	}
	a, err := decodeAlert(data)
	return a, err == nil, err
}

// Alerts implements alerts.Store.
func (db *DB) Alerts(ctx context.Context, q alerts.Query) ([]alerts.Alert, error) {
	var where []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	var sts, kinds []string
	for _, s := range q.Statuses {
		sts = append(sts, string(s))
	}
	for _, k := range q.Kinds {
		kinds = append(kinds, string(k))
	}
	in("status", sts)
	in("kind", kinds)
	if q.PersonID != "" {
		where = append(where, "person_id = ?")
		args = append(args, q.PersonID)
	}
	if q.Camera != "" {
		where = append(where, "camera = ?")
		args = append(args, q.Camera)
	}
	if !q.Since.IsZero() {
		where = append(where, "last_seen_ns >= ?")
		args = append(args, q.Since.UnixNano())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	sqlq := `SELECT data FROM alerts`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY last_seen_ns DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.R.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []alerts.Alert
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		a, err := decodeAlert(data)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AlertEventsAfter implements alerts.Store.
func (db *DB) AlertEventsAfter(ctx context.Context, after int64, limit int) ([]alerts.Event, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT seq, data, snapshot FROM alert_events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read alert events: %w", err)
	}
	defer rows.Close()
	var out []alerts.Event
	for rows.Next() {
		ev, err := scanEvent(rows, true)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
