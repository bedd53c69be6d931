package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"snowlight/alerts"
)

// exportsComponent records case evidence exports: who exported what for which case and why, and, once
// written, the bundle's object key and the SHA-256 of its signed manifest, so a bundle handed over can
// be traced to its request.
func exportsComponent() component {
	return component{name: "exports", migrations: []string{`
CREATE TABLE case_exports (
	id              TEXT PRIMARY KEY,
	case_number     TEXT NOT NULL,
	reason          TEXT NOT NULL,
	subject         TEXT NOT NULL,
	created_by      TEXT NOT NULL,
	created_ns      INTEGER NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
	finished_ns     INTEGER,
	error           TEXT NOT NULL DEFAULT '',
	object_key      TEXT NOT NULL DEFAULT '',
	size            INTEGER NOT NULL DEFAULT 0,
	files           INTEGER NOT NULL DEFAULT 0,
	manifest_sha256 TEXT NOT NULL DEFAULT '',
	fingerprint     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_exports_case ON case_exports(case_number, created_ns);
`}}
}

// Export statuses.
const (
	ExportRunning = "running"
	ExportDone    = "done"
	ExportFailed  = "failed"
)

// CaseExport is one export of a case's evidence.
type CaseExport struct {
	ID, Case, Reason string
	// Subject is what the bundle follows: "person/<id>" or "sighting/<id>".
	Subject   string
	CreatedBy string
	Created   time.Time
	Status    string
	Finished  time.Time // zero while running
	Error     string    // why it failed
	// Once done: where the bundle is, its size and number of evidence files, the SHA-256 of its
	// manifest and the fingerprint of the key that signed it.
	ObjectKey      string
	Size           int64
	Files          int
	ManifestSHA256 string
	Fingerprint    string
}

// AddExport records an export as it starts (Status is set to running).
func (db *DB) AddExport(ctx context.Context, e CaseExport) error {
	if e.ID == "" || e.Case == "" || e.Subject == "" || e.CreatedBy == "" {
		return fmt.Errorf("record export: id, case, subject and creator are required")
	}
	_, err := db.W.ExecContext(ctx, `INSERT INTO case_exports(id, case_number, reason, subject, created_by, created_ns, status)
		VALUES (?, ?, ?, ?, ?, ?, 'running')`, e.ID, e.Case, e.Reason, e.Subject, e.CreatedBy, e.Created.UnixNano())
	if err != nil {
		return fmt.Errorf("record export %s: %w", e.ID, err)
	}
	return nil
}

// FinishExport records how a running export ended: e.Status done (with the bundle's fields) or failed
// (with Error).
func (db *DB) FinishExport(ctx context.Context, e CaseExport) error {
	if e.Status != ExportDone && e.Status != ExportFailed {
		return fmt.Errorf("finish export %s: status %q is not done or failed", e.ID, e.Status)
	}
	res, err := db.W.ExecContext(ctx, `UPDATE case_exports SET status = ?, finished_ns = ?, error = ?, object_key = ?, size = ?,
		files = ?, manifest_sha256 = ?, fingerprint = ? WHERE id = ? AND status = 'running'`,
		e.Status, e.Finished.UnixNano(), e.Error, e.ObjectKey, e.Size, e.Files, e.ManifestSHA256, e.Fingerprint, e.ID)
	if err != nil {
		return fmt.Errorf("finish export %s: %w", e.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish export %s: no running export with that id: %w", e.ID, ErrNotFound)
	}
	return nil
}

// FailRunningExports marks exports a stopped process left running as failed, saying why.
func (db *DB) FailRunningExports(ctx context.Context, at time.Time, why string) (int, error) {
	res, err := db.W.ExecContext(ctx, `UPDATE case_exports SET status = 'failed', finished_ns = ?, error = ? WHERE status = 'running'`,
		at.UnixNano(), why)
	if err != nil {
		return 0, fmt.Errorf("fail running exports: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

const exportColumns = `id, case_number, reason, subject, created_by, created_ns, status, finished_ns, error, object_key, size, files,
	manifest_sha256, fingerprint`

func scanExport(r rowScanner) (CaseExport, error) {
	var e CaseExport
	var created int64
	var finished sql.NullInt64
	err := r.Scan(&e.ID, &e.Case, &e.Reason, &e.Subject, &e.CreatedBy, &created, &e.Status, &finished, &e.Error, &e.ObjectKey,
		&e.Size, &e.Files, &e.ManifestSHA256, &e.Fingerprint)
	e.Created = fromNanos(created)
	if finished.Valid {
		e.Finished = fromNanos(finished.Int64)
	}
	return e, err
}

// Export returns one export.
func (db *DB) Export(ctx context.Context, id string) (CaseExport, error) {
	e, err := scanExport(db.R.QueryRowContext(ctx, `SELECT `+exportColumns+` FROM case_exports WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("export %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("export %s: %w", id, err)
	}
	return e, nil
}

// Exports lists a case's exports, newest first, at most limit.
func (db *DB) Exports(ctx context.Context, caseNumber string, limit int) ([]CaseExport, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT `+exportColumns+` FROM case_exports WHERE case_number = ?
		ORDER BY created_ns DESC, id LIMIT ?`, caseNumber, limit)
	if err != nil {
		return nil, fmt.Errorf("exports of case %s: %w", caseNumber, err)
	}
	defer rows.Close()
	var out []CaseExport
	for rows.Next() {
		e, err := scanExport(rows)
		if err != nil {
			return nil, fmt.Errorf("exports of case %s: %w", caseNumber, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AlertsNaming returns the alerts whose evidence names any of the sightings, by first seen: the alerts
// an export of those sightings carries (their snapshots and clips).
func (db *DB) AlertsNaming(ctx context.Context, sightings []string) ([]alerts.Alert, error) {
	seen := map[string]bool{}
	var out []alerts.Alert
	for chunk := range slices.Chunk(sightings, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.R.QueryContext(ctx, `SELECT a.data FROM alerts a WHERE EXISTS (SELECT 1 FROM json_each(a.data, '$.evidence.sightings') j
			WHERE j.value IN (?`+strings.Repeat(", ?", len(chunk)-1)+`))`, args...)
		if err != nil {
			return nil, fmt.Errorf("alerts naming sightings: %w", err)
		}
		for rows.Next() {
			var data string
			if err = rows.Scan(&data); err != nil {
				break
			}
			var a alerts.Alert
			if a, err = decodeAlert(data); err != nil {
				break
			}
			if !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, a)
			}
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("alerts naming sightings: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b alerts.Alert) int { return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}
