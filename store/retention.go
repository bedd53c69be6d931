package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"snowlight/alerts"
	"snowlight/retention"
	"snowlight/watchlist"
)

// retentionComponent is the retention job's bookkeeping: retention_pending holds the object keys of
// rows already deleted whose objects are not yet verified gone (written in the transaction that
// deletes the rows, cleared once the object store no longer has them). The indexes serve the job's
// scans: sightings by exit time, object keys back to the sightings naming them (content addressing
// lets several share one), and trajectories back to the persons they carry.
func retentionComponent() component {
	return component{name: "retention", migrations: []string{`
CREATE TABLE retention_pending (
	key             TEXT PRIMARY KEY,
	source          TEXT NOT NULL,
	marked_ns       INTEGER NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_attempt_ns INTEGER,
	last_error      TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX retention_sightings_exit ON sightings(exit_ns);
CREATE INDEX retention_sightings_face_ref ON sightings(face_ref) WHERE face_ref != '';
CREATE INDEX retention_sightings_body_ref ON sightings(body_ref) WHERE body_ref != '';
CREATE INDEX retention_trajectory_persons ON trajectory_persons(trajectory, person_id);
`}}
}

// Compile-time check: the SQLite store is the retention job's store.
var _ retention.Store = (*DB)(nil)

// Expressions over a sighting s, with named parameters :now and :live.
const (
	sightingListed = `((s.person_id IS NOT NULL AND s.person_id IN (SELECT id FROM persons WHERE expires_ns IS NULL OR expires_ns > :now))
		OR EXISTS (SELECT 1 FROM trajectory_persons tp JOIN persons p ON p.id = tp.person_id
			WHERE tp.trajectory = s.trajectory AND (p.expires_ns IS NULL OR p.expires_ns > :now)))`
	sightingHeld = `(EXISTS (SELECT 1 FROM case_holds h WHERE h.released_ns IS NULL AND h.kind = 'sighting' AND h.ref = s.id)
		OR EXISTS (SELECT 1 FROM case_holds h WHERE h.released_ns IS NULL AND h.kind = 'trajectory' AND h.traj = s.trajectory))`
	sightingLiveRoot = `(s.rid = s.trajectory AND EXISTS (SELECT 1 FROM sightings m WHERE m.trajectory = s.rid AND m.enter_ns >= :live))`
	sightingRowCols  = `s.rid, s.id, s.trajectory, s.exit_ns, s.face_ref, s.body_ref, ` + sightingListed + `, ` + sightingHeld + `, ` + sightingLiveRoot
)

// sightingCandidatesSQL scans sightings by exit time from a cursor, keeping those due under their
// rule.
const sightingCandidatesSQL = `SELECT ` + sightingRowCols + ` FROM sightings s
	WHERE (s.exit_ns, s.rid) > (:aexit, :arid) AND s.exit_ns < :maxcut
	AND s.exit_ns < CASE WHEN ` + sightingListed + ` THEN :lcut ELSE :ucut END
	ORDER BY s.exit_ns, s.rid LIMIT :n`

func sightingArgs(q retention.SightingQuery) []any {
	return []any{sql.Named("now", q.Now.UnixNano()), sql.Named("live", q.LiveSince.UnixNano()),
		sql.Named("ucut", q.UnlistedBefore.UnixNano()), sql.Named("lcut", q.ListedBefore.UnixNano())}
}

func scanSightingRows(rows *sql.Rows) ([]retention.SightingRow, error) {
	defer rows.Close()
	var out []retention.SightingRow
	for rows.Next() {
		var r retention.SightingRow
		var exit int64
		var face, body string
		if err := rows.Scan(&r.RID, &r.ID, &r.Trajectory, &exit, &face, &body, &r.Listed, &r.Held, &r.LiveRoot); err != nil {
			return nil, err
		}
		r.Exit = fromNanos(exit)
		for _, k := range []string{face, body} {
			if k != "" {
				r.Keys = append(r.Keys, k)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SightingCandidates implements retention.Store.
func (db *DB) SightingCandidates(ctx context.Context, q retention.SightingQuery) ([]retention.SightingRow, error) {
	maxCut := q.UnlistedBefore
	if q.ListedBefore.After(maxCut) {
		maxCut = q.ListedBefore
	}
	rows, err := db.R.QueryContext(ctx, sightingCandidatesSQL,
		append(sightingArgs(q), sql.Named("aexit", q.After.ExitNS), sql.Named("arid", q.After.RID),
			sql.Named("maxcut", maxCut.UnixNano()), sql.Named("n", q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("retention candidates: %w", err)
	}
	out, err := scanSightingRows(rows)
	if err != nil {
		return nil, fmt.Errorf("retention candidates: %w", err)
	}
	return out, nil
}

// jsonList passes a list as one parameter, read back with json_each.
func jsonList[T any](xs []T) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

// DeleteSightings implements retention.Store.
func (db *DB) DeleteSightings(ctx context.Context, rids []int64, q retention.SightingQuery, at time.Time) ([]retention.SightingRow, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete sightings: %w", err)
	}
	defer tx.Rollback()
	// The conditions are read again inside the transaction: a hold placed since the selection wins.
	rows, err := tx.QueryContext(ctx, `SELECT `+sightingRowCols+` FROM sightings s
		WHERE s.rid IN (SELECT value FROM json_each(:rids))`, append(sightingArgs(q), sql.Named("rids", jsonList(rids)))...)
	if err != nil {
		return nil, fmt.Errorf("delete sightings: %w", err)
	}
	cands, err := scanSightingRows(rows)
	if err != nil {
		return nil, fmt.Errorf("delete sightings: %w", err)
	}
	var del []retention.SightingRow
	var delRIDs []int64
	for _, s := range cands {
		cut := q.UnlistedBefore
		if s.Listed {
			cut = q.ListedBefore
		}
		if s.Held || s.LiveRoot || !s.Exit.Before(cut) {
			continue
		}
		del = append(del, s)
		delRIDs = append(delRIDs, s.RID)
	}
	if len(del) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sightings WHERE rid IN (SELECT value FROM json_each(?))`, jsonList(delRIDs)); err != nil {
		return nil, fmt.Errorf("delete sightings: %w", err)
	}
	gone := map[int64]bool{}
	var trajs []int64
	seen := map[int64]bool{}
	for _, s := range del {
		gone[s.RID] = true
		if !seen[s.Trajectory] {
			seen[s.Trajectory] = true
			trajs = append(trajs, s.Trajectory)
		}
		for _, k := range s.Keys {
			if err := markObject(ctx, tx, k, "sighting/"+s.ID, at); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range trajs {
		if err := repairTrajectory(ctx, tx, t, gone[t]); err != nil {
			return nil, fmt.Errorf("delete sightings: trajectory %d: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete sightings: %w", err)
	}
	return del, nil
}

// repairTrajectory keeps a trajectory that lost sightings consistent: named after its first
// remaining sighting when its first one went (queries join every step to it), and carrying only
// the persons a remaining sighting carries (as ApplyDecisions keeps it).
func repairTrajectory(ctx context.Context, tx *sql.Tx, t int64, rootGone bool) error {
	if rootGone {
		var next int64
		err := tx.QueryRowContext(ctx, `SELECT rid FROM sightings WHERE trajectory = ? ORDER BY enter_ns, rid LIMIT 1`, t).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			_, err := tx.ExecContext(ctx, `DELETE FROM trajectory_persons WHERE trajectory = ?`, t)
			return err
		}
		if err != nil {
			return err
		}
		for _, q := range []string{
			`UPDATE sightings SET trajectory = ?1 WHERE trajectory = ?2`,
			`UPDATE OR IGNORE trajectory_persons SET trajectory = ?1 WHERE trajectory = ?2`,
			`DELETE FROM trajectory_persons WHERE trajectory = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, next, t); err != nil {
				return err
			}
		}
		t = next
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM trajectory_persons WHERE trajectory = ?1 AND NOT EXISTS
		(SELECT 1 FROM sightings s WHERE s.trajectory = ?1 AND s.person_id = trajectory_persons.person_id)`, t)
	return err
}

func markObject(ctx context.Context, tx *sql.Tx, key, source string, at time.Time) error {
	if !retention.IsObjectKey(key) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO retention_pending(key, source, marked_ns) VALUES (?, ?, ?)
		ON CONFLICT(key) DO NOTHING`, key, source, at.UnixNano()); err != nil {
		return fmt.Errorf("mark object %s: %w", key, err)
	}
	return nil
}

// alertEvidence is the part of a stored alert (or event snapshot) retention reads.
type alertEvidence struct {
	Evidence alerts.Evidence `json:"evidence"`
}

func evidenceKeys(data string, into map[string]bool) []string {
	var a alertEvidence
	if data == "" || data == "null" || json.Unmarshal([]byte(data), &a) != nil {
		return nil
	}
	var out []string
	for _, k := range append(append([]string{}, a.Evidence.FaceCrops...), a.Evidence.Snapshot, a.Evidence.Clip) {
		if k != "" && !into[k] {
			into[k] = true
			out = append(out, k)
		}
	}
	return out
}

type alertQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readAlertRows reads alerts with their keys (current evidence and every event's), sightings and hold.
func readAlertRows(ctx context.Context, x alertQueryer, where string, args ...any) ([]retention.AlertRow, error) {
	rows, err := x.QueryContext(ctx, `SELECT a.id, a.status, a.updated_ns, a.data,
		EXISTS (SELECT 1 FROM case_holds h WHERE h.released_ns IS NULL AND h.kind = 'alert' AND h.ref = a.id)
		FROM alerts a WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []retention.AlertRow
	var datas []string
	for rows.Next() {
		var r retention.AlertRow
		var updated int64
		var data string
		if err := rows.Scan(&r.ID, &r.Status, &updated, &data, &r.Held); err != nil {
			rows.Close()
			return nil, err
		}
		r.Updated = fromNanos(updated)
		out = append(out, r)
		datas = append(datas, data)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		seen := map[string]bool{}
		out[i].Keys = evidenceKeys(datas[i], seen)
		var a alertEvidence
		if err := json.Unmarshal([]byte(datas[i]), &a); err != nil {
			return nil, fmt.Errorf("alert %s: %w", out[i].ID, err)
		}
		out[i].Sightings = a.Evidence.Sightings
		evs, err := x.QueryContext(ctx, `SELECT snapshot FROM alert_events WHERE alert_id = ?`, out[i].ID)
		if err != nil {
			return nil, err
		}
		for evs.Next() {
			var snap string
			if err := evs.Scan(&snap); err != nil {
				evs.Close()
				return nil, err
			}
			out[i].Keys = append(out[i].Keys, evidenceKeys(snap, seen)...)
		}
		evs.Close()
		if err := evs.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const finalAlert = `a.status IN ('resolved', 'dismissed') AND a.updated_ns < ?`

// AlertCandidates implements retention.Store.
func (db *DB) AlertCandidates(ctx context.Context, q retention.AlertQuery) ([]retention.AlertRow, error) {
	out, err := readAlertRows(ctx, db.R, finalAlert+` AND a.id > ? ORDER BY a.id LIMIT ?`, q.FinalBefore.UnixNano(), q.After, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("retention candidates: alerts: %w", err)
	}
	return out, nil
}

// DeleteAlerts implements retention.Store.
func (db *DB) DeleteAlerts(ctx context.Context, ids []string, finalBefore, at time.Time) ([]retention.AlertRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete alerts: %w", err)
	}
	defer tx.Rollback()
	cands, err := readAlertRows(ctx, tx, finalAlert+` AND a.id IN (SELECT value FROM json_each(?))`, finalBefore.UnixNano(), jsonList(ids))
	if err != nil {
		return nil, fmt.Errorf("delete alerts: %w", err)
	}
	var del []retention.AlertRow
	var delIDs []string
	for _, a := range cands {
		if a.Held {
			continue
		}
		del = append(del, a)
		delIDs = append(delIDs, a.ID)
		for _, k := range a.Keys {
			if err := markObject(ctx, tx, k, "alert/"+a.ID, at); err != nil {
				return nil, err
			}
		}
	}
	if len(del) == 0 {
		return nil, nil
	}
	// Events go with their alert (ON DELETE CASCADE).
	if _, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE id IN (SELECT value FROM json_each(?))`, jsonList(delIDs)); err != nil {
		return nil, fmt.Errorf("delete alerts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete alerts: %w", err)
	}
	return del, nil
}

// AlertSightings implements retention.Store.
func (db *DB) AlertSightings(ctx context.Context) (map[string]int, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT j.value, count(*) FROM alerts a, json_each(a.data, '$.evidence.sightings') j
		WHERE j.type = 'text' GROUP BY j.value`)
	if err != nil {
		return nil, fmt.Errorf("sightings named by alerts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("sightings named by alerts: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// ExpiredEntries implements retention.Store: entries expired at now that still hold embeddings or
// photos.
func (db *DB) ExpiredEntries(ctx context.Context, now time.Time) ([]retention.ExpiredEntry, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT p.id, p.category, p.expires_ns,
			(SELECT count(*) FROM person_embeddings e WHERE e.person_id = p.id),
			(SELECT count(*) FROM person_photos f WHERE f.person_id = p.id),
			(SELECT json_group_array(f.ref) FROM person_photos f WHERE f.person_id = p.id AND f.ref != '')
		FROM persons p WHERE p.expires_ns <= ?
			AND (EXISTS (SELECT 1 FROM person_embeddings e WHERE e.person_id = p.id)
				OR EXISTS (SELECT 1 FROM person_photos f WHERE f.person_id = p.id))
		ORDER BY p.id`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("expired watch-list entries: %w", err)
	}
	defer rows.Close()
	var out []retention.ExpiredEntry
	for rows.Next() {
		var e retention.ExpiredEntry
		var cat, refs string
		var exp int64
		if err := rows.Scan(&e.ID, &cat, &exp, &e.Embeddings, &e.Photos, &refs); err != nil {
			return nil, fmt.Errorf("expired watch-list entries: %w", err)
		}
		// The report names the category as stored; a misspelt one is no reason to keep biometrics.
		e.Category, e.Expired = watchlist.Category(cat), fromNanos(exp)
		var keys []string
		if err := json.Unmarshal([]byte(refs), &keys); err != nil {
			return nil, fmt.Errorf("expired watch-list entry %s: photo references: %w", e.ID, err)
		}
		for _, k := range keys {
			if retention.IsObjectKey(k) {
				e.PhotoKeys = append(e.PhotoKeys, k)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeEntry implements retention.Store: the entry's embeddings and photos go in one transaction,
// photos kept in the object store are marked for verified deletion, and the entry itself stays (it
// is named in the report and the audit log).
func (db *DB) PurgeEntry(ctx context.Context, id string, expiredBefore, at time.Time) (int, error) {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
	}
	defer tx.Rollback()
	// Checked again here: an entry renewed since it was listed keeps its embeddings.
	var expired int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM persons WHERE id = ? AND expires_ns <= ?`,
		id, expiredBefore.UnixNano()).Scan(&expired); err != nil {
		return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
	}
	if expired == 0 {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM person_embeddings WHERE person_id = ?`, id)
	if err != nil {
		return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
	}
	refs, err := photoRefs(ctx, tx, id)
	if err != nil {
		return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
	}
	// Photos and the faces judged on alerts are biometric data too: they go with the embeddings.
	for _, table := range []string{"person_photos", "person_negatives", "person_confirmed"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE person_id = ?`, id); err != nil {
			return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
		}
	}
	for _, r := range refs {
		if err := markObject(ctx, tx, r, "person/"+id, at); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("purge watch-list entry %s: %w", id, err)
	}
	return int(n), nil
}

const doneNotifications = `(delivered_ns IS NOT NULL AND delivered_ns < ?1) OR (failed_ns IS NOT NULL AND failed_ns < ?1)`

// DeleteNotifications implements retention.Store.
func (db *DB) DeleteNotifications(ctx context.Context, before time.Time, limit int, countOnly bool) (int, error) {
	if countOnly {
		var n int
		if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE `+doneNotifications, before.UnixNano()).Scan(&n); err != nil {
			return 0, fmt.Errorf("count old notifications: %w", err)
		}
		return n, nil
	}
	res, err := db.W.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE `+doneNotifications+` LIMIT ?2)`,
		before.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete old notifications: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PendingObjects implements retention.Store.
func (db *DB) PendingObjects(ctx context.Context, after string, limit int) ([]retention.PendingObject, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT key, source, marked_ns, attempts, last_error FROM retention_pending
		WHERE key > ? ORDER BY key LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("marked objects: %w", err)
	}
	defer rows.Close()
	var out []retention.PendingObject
	for rows.Next() {
		var p retention.PendingObject
		var marked int64
		if err := rows.Scan(&p.Key, &p.Source, &marked, &p.Attempts, &p.LastError); err != nil {
			return nil, fmt.Errorf("marked objects: %w", err)
		}
		p.Marked = fromNanos(marked)
		out = append(out, p)
	}
	return out, rows.Err()
}

// ObjectReferences implements retention.Store: sightings (face and body snapshots), watch-list
// photos, and alerts' current evidence (face crops, snapshot, clip).
func (db *DB) ObjectReferences(ctx context.Context, keys []string) (map[string][]retention.Ref, error) {
	out := map[string][]retention.Ref{}
	if len(keys) == 0 {
		return out, nil
	}
	list := jsonList(keys)
	for _, q := range objectReferenceQueries() {
		rows, err := db.R.QueryContext(ctx, q.sql, list)
		if err != nil {
			return nil, fmt.Errorf("object references: %w", err)
		}
		for rows.Next() {
			var key, id string
			if err := rows.Scan(&key, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("object references: %w", err)
			}
			out[key] = append(out[key], retention.Ref{Kind: q.kind, ID: id})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("object references: %w", err)
		}
	}
	return out, nil
}

// objectReferenceQueries find the rows naming any of a JSON list of keys, by kind. Sightings are
// found through their key indexes; watch-list photos and alerts are scanned (a few thousand rows;
// alerts keep their evidence in JSON).
func objectReferenceQueries() []struct{ kind, sql string } {
	return []struct{ kind, sql string }{
		{"sighting", `SELECT face_ref, id FROM sightings WHERE face_ref != '' AND face_ref IN (SELECT value FROM json_each(?))`},
		{"sighting", `SELECT body_ref, id FROM sightings WHERE body_ref != '' AND body_ref IN (SELECT value FROM json_each(?))`},
		{"person", `SELECT ref, person_id FROM person_photos WHERE ref != '' AND ref IN (SELECT value FROM json_each(?))`},
		{"alert", `SELECT t.value, a.id FROM alerts a, json_tree(a.data, '$.evidence') t
			WHERE t.type = 'text' AND t.value IN (SELECT value FROM json_each(?))`},
	}
}

// ClearPending implements retention.Store.
func (db *DB) ClearPending(ctx context.Context, keys []string) error {
	if _, err := db.W.ExecContext(ctx, `DELETE FROM retention_pending WHERE key IN (SELECT value FROM json_each(?))`, jsonList(keys)); err != nil {
		return fmt.Errorf("clear object marks: %w", err)
	}
	return nil
}

// PendingFailed implements retention.Store.
func (db *DB) PendingFailed(ctx context.Context, key string, at time.Time, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if _, err := db.W.ExecContext(ctx, `UPDATE retention_pending SET attempts = attempts + 1, last_attempt_ns = ?, last_error = ?
		WHERE key = ?`, at.UnixNano(), msg, key); err != nil {
		return fmt.Errorf("note failed deletion of %s: %w", key, err)
	}
	return nil
}

// Remaining implements retention.Store.
func (db *DB) Remaining(ctx context.Context, kind string, ids []string) (int, error) {
	var table string
	switch kind {
	case "sighting":
		table = "sightings"
	case "alert":
		table = "alerts"
	default:
		return 0, fmt.Errorf("remaining rows: unknown kind %q", kind)
	}
	var n int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE id IN (SELECT value FROM json_each(?))`, jsonList(ids)).Scan(&n); err != nil {
		return 0, fmt.Errorf("remaining %ss: %w", kind, err)
	}
	return n, nil
}
