package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"snowlight/retention"
)

// caseholdsComponent holds what cases keep from the retention job (see retention.HoldStore). A row is
// one item held for one case; releasing it sets released_* and keeps the row as history. A trajectory
// hold stores the trajectory's key (traj, the rid of its first sighting) so it covers sightings the
// trajectory gains later, and lists the sightings it had when placed (via) so a later re-decision
// that moves one elsewhere does not free it.
func caseholdsComponent() component {
	return component{name: "caseholds", migrations: []string{`
CREATE TABLE case_holds (
	id             INTEGER PRIMARY KEY,
	case_number    TEXT NOT NULL,
	kind           TEXT NOT NULL CHECK (kind IN ('sighting', 'trajectory', 'alert')),
	ref            TEXT NOT NULL,
	traj           INTEGER,
	via            TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL,
	held_by        TEXT NOT NULL,
	held_ns        INTEGER NOT NULL,
	released_ns    INTEGER,
	released_by    TEXT NOT NULL DEFAULT '',
	release_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX case_holds_active ON case_holds(case_number, kind, ref) WHERE released_ns IS NULL;
CREATE INDEX case_holds_ref ON case_holds(kind, ref) WHERE released_ns IS NULL;
CREATE INDEX case_holds_traj ON case_holds(traj) WHERE released_ns IS NULL AND kind = 'trajectory';
CREATE INDEX case_holds_case ON case_holds(case_number, id);
`}}
}

// Compile-time check: the SQLite store keeps case holds.
var _ retention.HoldStore = (*DB)(nil)

const holdColumns = `id, case_number, kind, ref, via, reason, held_by, held_ns, released_ns, released_by, release_reason`

type rowScanner interface{ Scan(dest ...any) error }

func scanHold(r rowScanner) (retention.Hold, error) {
	var h retention.Hold
	var kind string
	var held int64
	var released sql.NullInt64
	var relBy, relReason string
	if err := r.Scan(&h.ID, &h.Case, &kind, &h.Item.ID, &h.Via, &h.Reason, &h.By, &held, &released, &relBy, &relReason); err != nil {
		return h, err
	}
	h.Item.Kind, h.At = retention.ItemKind(kind), fromNanos(held)
	if released.Valid {
		h.Released = &retention.Release{By: relBy, Reason: relReason, At: fromNanos(released.Int64)}
	}
	return h, nil
}

// PlaceHolds implements retention.HoldStore.
func (db *DB) PlaceHolds(ctx context.Context, caseNumber, reason, by string, at time.Time, items []retention.Item) ([]retention.Hold, error) {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("place holds: %w", err)
	}
	defer tx.Rollback()
	var out []retention.Hold
	seen := map[int64]bool{}
	add := func(it retention.Item, traj any, via string) error {
		h, err := placeHold(ctx, tx, caseNumber, it, traj, via, reason, by, at)
		if err != nil {
			return err
		}
		if !seen[h.ID] {
			seen[h.ID] = true
			out = append(out, h)
		}
		return nil
	}
	for _, it := range items {
		switch it.Kind {
		case retention.HoldSighting:
			if err := exists(ctx, tx, `SELECT 1 FROM sightings WHERE id = ?`, it.ID); err != nil {
				return nil, fmt.Errorf("hold %s: %w", it, err)
			}
			if err := add(it, nil, ""); err != nil {
				return nil, err
			}
		case retention.HoldTrajectory:
			var rootID string
			var root int64
			err := tx.QueryRowContext(ctx, `SELECT t.id, t.rid FROM sightings s JOIN sightings t ON t.rid = s.trajectory WHERE s.id = ?`,
				it.ID).Scan(&rootID, &root)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("hold %s: %w", it, retention.ErrNotFound)
			}
			if err != nil {
				return nil, fmt.Errorf("hold %s: %w", it, err)
			}
			if err := add(retention.Item{Kind: retention.HoldTrajectory, ID: rootID}, root, ""); err != nil {
				return nil, err
			}
			members, err := trajectoryMembers(ctx, tx, root)
			if err != nil {
				return nil, fmt.Errorf("hold %s: %w", it, err)
			}
			for _, m := range members {
				if err := add(retention.Item{Kind: retention.HoldSighting, ID: m}, nil, "trajectory/"+rootID); err != nil {
					return nil, err
				}
			}
		case retention.HoldAlert:
			if err := exists(ctx, tx, `SELECT 1 FROM alerts WHERE id = ?`, it.ID); err != nil {
				return nil, fmt.Errorf("hold %s: %w", it, err)
			}
			if err := add(it, nil, ""); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("hold %s: %w: unknown kind", it, retention.ErrInvalid)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("place holds: %w", err)
	}
	return out, nil
}

func exists(ctx context.Context, tx *sql.Tx, q string, args ...any) error {
	var one int
	err := tx.QueryRowContext(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return retention.ErrNotFound
	}
	return err
}

func trajectoryMembers(ctx context.Context, tx *sql.Tx, root int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM sightings WHERE trajectory = ? ORDER BY enter_ns, rid`, root)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// placeHold returns the case's active hold of the item, creating it if there is none.
func placeHold(ctx context.Context, tx *sql.Tx, caseNumber string, it retention.Item, traj any, via, reason, by string, at time.Time) (retention.Hold, error) {
	h, err := scanHold(tx.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM case_holds
		WHERE case_number = ? AND kind = ? AND ref = ? AND released_ns IS NULL`, caseNumber, string(it.Kind), it.ID))
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return h, fmt.Errorf("hold %s: %w", it, err)
	}
	h, err = scanHold(tx.QueryRowContext(ctx, `INSERT INTO case_holds(case_number, kind, ref, traj, via, reason, held_by, held_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+holdColumns,
		caseNumber, string(it.Kind), it.ID, traj, via, reason, by, at.UnixNano()))
	if err != nil {
		return h, fmt.Errorf("hold %s: %w", it, err)
	}
	return h, nil
}

// ReleaseHolds implements retention.HoldStore.
func (db *DB) ReleaseHolds(ctx context.Context, caseNumber string, items []retention.Item, rel retention.Release, dryRun bool) ([]retention.Hold, error) {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("release holds: %w", err)
	}
	defer tx.Rollback()
	const set = `UPDATE case_holds SET released_ns = ?, released_by = ?, release_reason = ?
		WHERE case_number = ? AND released_ns IS NULL`
	args := []any{rel.At.UnixNano(), rel.By, rel.Reason, caseNumber}
	var out []retention.Hold
	release := func(cond string, more ...any) error {
		rows, err := tx.QueryContext(ctx, set+cond+` RETURNING `+holdColumns, append(args[:4:4], more...)...)
		if err != nil {
			return fmt.Errorf("release holds of case %s: %w", caseNumber, err)
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHold(rows)
			if err != nil {
				return fmt.Errorf("release holds of case %s: %w", caseNumber, err)
			}
			out = append(out, h)
		}
		return rows.Err()
	}
	if len(items) == 0 {
		if err := release(""); err != nil {
			return nil, err
		}
	}
	for _, it := range items {
		before := len(out)
		ref := it.ID
		if it.Kind == retention.HoldTrajectory {
			// Any sighting of the trajectory names it, as when holding.
			var root string
			err := tx.QueryRowContext(ctx, `SELECT t.id FROM sightings s JOIN sightings t ON t.rid = s.trajectory WHERE s.id = ?`, it.ID).Scan(&root)
			if err == nil {
				ref = root
			} else if !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("release %s: %w", it, err)
			}
			if err := release(` AND ((kind = 'trajectory' AND ref = ?) OR via = ?)`, ref, "trajectory/"+ref); err != nil {
				return nil, err
			}
		} else if err := release(` AND kind = ? AND ref = ?`, string(it.Kind), ref); err != nil {
			return nil, err
		}
		if len(out) == before {
			// All or nothing: a release naming something the case does not hold is a mistake to fix.
			return nil, fmt.Errorf("case %s does not hold %s: %w", caseNumber, it, retention.ErrNotFound)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("case %s holds nothing: %w", caseNumber, retention.ErrNotFound)
	}
	if dryRun {
		return out, nil // the deferred rollback undoes it
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("release holds of case %s: %w", caseNumber, err)
	}
	return out, nil
}

// Holds implements retention.HoldStore.
func (db *DB) Holds(ctx context.Context, q retention.HoldQuery) ([]retention.Hold, error) {
	where, args := []string{"id > ?"}, []any{q.After}
	if q.Case != "" {
		where, args = append(where, "case_number = ?"), append(args, q.Case)
	}
	if q.Item.Kind != "" {
		where, args = append(where, "kind = ? AND ref = ?"), append(args, string(q.Item.Kind), q.Item.ID)
	}
	if !q.All {
		where = append(where, "released_ns IS NULL")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, min(limit, 1000))
	rows, err := db.R.QueryContext(ctx, `SELECT `+holdColumns+` FROM case_holds WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	defer rows.Close()
	var out []retention.Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("list holds: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
