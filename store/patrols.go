package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"snowlight/alerts/dispatch"
	"snowlight/geo"
)

// patrolsComponent holds the patrol units (see dispatch.Store); the grid areas come from configuration.
func patrolsComponent() component {
	return component{name: "patrols", migrations: []string{`
CREATE TABLE patrol_units (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	area           TEXT NOT NULL,
	receiver       TEXT NOT NULL DEFAULT '',
	lat            REAL NOT NULL DEFAULT 0,
	lon            REAL NOT NULL DEFAULT 0,
	position_at_ns INTEGER NOT NULL DEFAULT 0,
	status         TEXT NOT NULL,
	updated_ns     INTEGER NOT NULL
);
`}}
}

const patrolColumns = `id, name, area, receiver, lat, lon, position_at_ns, status, updated_ns`

func scanPatrol(sc interface{ Scan(...any) error }) (dispatch.Unit, error) {
	var u dispatch.Unit
	var posAt, updated int64
	var status string
	if err := sc.Scan(&u.ID, &u.Name, &u.Area, &u.Receiver, &u.Position.Lat, &u.Position.Lon, &posAt, &status, &updated); err != nil {
		return u, err
	}
	u.Status = dispatch.Status(status)
	if posAt != 0 {
		u.PositionAt = time.Unix(0, posAt)
	}
	u.Updated = time.Unix(0, updated)
	return u, nil
}

// PatrolUnits implements dispatch.Store.
func (db *DB) PatrolUnits(ctx context.Context) ([]dispatch.Unit, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT `+patrolColumns+` FROM patrol_units ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list patrol units: %w", err)
	}
	defer rows.Close()
	var out []dispatch.Unit
	for rows.Next() {
		u, err := scanPatrol(rows)
		if err != nil {
			return nil, fmt.Errorf("list patrol units: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// PatrolUnit implements dispatch.Store.
func (db *DB) PatrolUnit(ctx context.Context, id string) (dispatch.Unit, error) {
	u, err := scanPatrol(db.R.QueryRowContext(ctx, `SELECT `+patrolColumns+` FROM patrol_units WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w %q", dispatch.ErrUnknownUnit, id)
	}
	if err != nil {
		return u, fmt.Errorf("patrol unit %s: %w", id, err)
	}
	return u, nil
}

// PutPatrolUnit implements dispatch.Store.
func (db *DB) PutPatrolUnit(ctx context.Context, u dispatch.Unit) error {
	var posAt int64
	if !u.PositionAt.IsZero() {
		posAt = u.PositionAt.UnixNano()
	}
	_, err := db.W.ExecContext(ctx, `INSERT INTO patrol_units(`+patrolColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, area = excluded.area, receiver = excluded.receiver, updated_ns = excluded.updated_ns`,
		u.ID, u.Name, u.Area, u.Receiver, u.Position.Lat, u.Position.Lon, posAt, string(u.Status), u.Updated.UnixNano())
	if err != nil {
		return fmt.Errorf("save patrol unit %s: %w", u.ID, err)
	}
	return nil
}

// SetPatrolPosition implements dispatch.Store. A report older than the one stored is ignored: phones
// resend late.
func (db *DB) SetPatrolPosition(ctx context.Context, id string, p geo.LatLon, at time.Time) error {
	return db.updatePatrol(ctx, id, `UPDATE patrol_units SET lat = ?, lon = ?, position_at_ns = max(position_at_ns, ?),
		updated_ns = ? WHERE id = ? AND position_at_ns <= ?`, p.Lat, p.Lon, at.UnixNano(), at.UnixNano(), id, at.UnixNano())
}

// SetPatrolStatus implements dispatch.Store.
func (db *DB) SetPatrolStatus(ctx context.Context, id string, s dispatch.Status, at time.Time) error {
	return db.updatePatrol(ctx, id, `UPDATE patrol_units SET status = ?, updated_ns = ? WHERE id = ?`, string(s), at.UnixNano(), id)
}

func (db *DB) updatePatrol(ctx context.Context, id, q string, args ...any) error {
	res, err := db.W.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update patrol unit %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.PatrolUnit(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
