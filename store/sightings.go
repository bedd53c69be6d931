package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"time"

	"snowlight/colour"
	"snowlight/geo"
	"snowlight/tracks"
)

// sightingsComponent holds sightings, the links the stitcher decided between them, and the cameras'
// positions. The indexes serve the three trajectory queries: by person (trajectory_persons, then
// sightings by trajectory), by links in both directions, and by camera and time.
func sightingsComponent() component {
	return component{name: "sightings", migrations: []string{`
CREATE TABLE cameras (
	id  TEXT PRIMARY KEY,
	lat REAL NOT NULL,
	lon REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE sightings (
	rid        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	camera     TEXT NOT NULL,
	track_id   INTEGER NOT NULL,
	enter_ns   INTEGER NOT NULL,
	exit_ns    INTEGER NOT NULL,
	person_id  TEXT,
	trajectory INTEGER NOT NULL,
	box_x REAL NOT NULL, box_y REAL NOT NULL, box_w REAL NOT NULL, box_h REAL NOT NULL,
	face_ref   TEXT NOT NULL DEFAULT '',
	body_ref   TEXT NOT NULL DEFAULT '',
	face_emb   BLOB,
	app_emb    BLOB,
	final      INTEGER NOT NULL,
	detail     BLOB
);
CREATE INDEX sightings_camera_enter ON sightings(camera, enter_ns);
CREATE INDEX sightings_trajectory_enter ON sightings(trajectory, enter_ns);
CREATE TABLE links (
	to_rid     INTEGER PRIMARY KEY REFERENCES sightings(rid) ON DELETE CASCADE,
	from_rid   INTEGER NOT NULL UNIQUE REFERENCES sightings(rid) ON DELETE CASCADE,
	score      REAL NOT NULL,
	confidence REAL NOT NULL,
	evidence   TEXT NOT NULL,
	decided_ns INTEGER NOT NULL
);
CREATE TABLE trajectory_persons (
	person_id  TEXT NOT NULL,
	trajectory INTEGER NOT NULL,
	PRIMARY KEY (person_id, trajectory)
) WITHOUT ROWID;
CREATE TABLE sighting_stats (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
`, `
-- The clothing colours of the best body view (colour.Description's binary form), for searches by a
-- witness's description; NULL when unknown. Final sightings by enter time feed the search index.
ALTER TABLE sightings ADD COLUMN colours BLOB;
CREATE INDEX sightings_final_enter ON sightings(enter_ns) WHERE final = 1;
`}}
}

// Compile-time check: the SQLite store is the tracks archive.
var _ tracks.Archive = (*DB)(nil)

// sightingDetail is what a sighting keeps beyond its indexed columns.
type sightingDetail struct {
	Boxes    []tracks.TimedBox `json:"boxes,omitempty"`
	Face     *tracks.Snapshot  `json:"face,omitempty"`
	Body     *tracks.Snapshot  `json:"body,omitempty"`
	Evidence tracks.Evidence   `json:"evidence"`
}

// CameraPosition is where a camera is, for the positions trajectory queries report.
type CameraPosition struct {
	ID       string
	Position geo.LatLon
}

// SetCameras records camera positions (replacing earlier ones for the same ids).
func (db *DB) SetCameras(ctx context.Context, cams []CameraPosition) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set cameras: %w", err)
	}
	defer tx.Rollback()
	for _, c := range cams {
		if c.ID == "" || c.Position.Validate() != nil {
			return fmt.Errorf("set cameras: camera %q at %v,%v: not a valid id and position", c.ID, c.Position.Lat, c.Position.Lon)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cameras(id, lat, lon) VALUES (?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon`, c.ID, c.Position.Lat, c.Position.Lon); err != nil {
			return fmt.Errorf("set camera %s: %w", c.ID, err)
		}
	}
	return tx.Commit()
}

// ErrSnapshotBytes rejects a sighting whose snapshots still carry JPEG bytes: those belong in the
// object store, and the database keeps only their references.
var ErrSnapshotBytes = errors.New("snapshot bytes must go to the object store; set Ref and clear JPEG")

// SaveSighting implements tracks.Archive: Tx.SaveSighting in a transaction of its own.
func (db *DB) SaveSighting(ctx context.Context, s tracks.Sighting) error {
	return db.Batch(ctx, func(tx *Tx) error { return tx.SaveSighting(ctx, s) })
}

// ApplyDecisions implements tracks.Archive: Tx.ApplyDecisions in a transaction of its own.
func (db *DB) ApplyDecisions(ctx context.Context, ds []tracks.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	return db.Batch(ctx, func(tx *Tx) error { return tx.ApplyDecisions(ctx, ds) })
}

// SaveSighting stores a sighting whose snapshots are object-store references. A new sighting starts
// its own trajectory until a decision links it; saving an id again (the final version of an interim
// sighting) keeps its trajectory.
func (t *Tx) SaveSighting(ctx context.Context, s tracks.Sighting) error {
	if s.ID == "" || s.Camera == "" {
		return fmt.Errorf("save sighting %q: id and camera are required", s.ID)
	}
	if s.Exit.Before(s.Enter) {
		return fmt.Errorf("save sighting %s: exit %v before enter %v", s.ID, s.Exit, s.Enter)
	}
	for _, snap := range []*tracks.Snapshot{s.Face, s.Body} {
		if snap != nil && len(snap.JPEG) > 0 {
			return fmt.Errorf("save sighting %s: %w", s.ID, ErrSnapshotBytes)
		}
	}
	ev := s.Evidence
	ev.Template = nil // the edge's; the face is kept once, as face_embedding
	detail, err := json.Marshal(sightingDetail{Boxes: s.Boxes, Face: s.Face, Body: s.Body, Evidence: ev})
	if err != nil {
		return fmt.Errorf("save sighting %s: encode: %w", s.ID, err)
	}
	var box tracks.Box
	var faceRef, bodyRef string
	if s.Body != nil {
		box, bodyRef = s.Body.Box, s.Body.Ref
	} else if n := len(s.Boxes); n > 0 {
		box = s.Boxes[n/2].Box
	}
	if s.Face != nil {
		faceRef = s.Face.Ref
	}
	var person any
	if p := s.PersonID(); p != "" {
		person = p
	}
	tx := t
	var rid, traj int64
	err = tx.QueryRowContext(ctx, `INSERT INTO sightings(id, camera, track_id, enter_ns, exit_ns, person_id, trajectory,
			box_x, box_y, box_w, box_h, face_ref, body_ref, face_emb, app_emb, final, detail, colours)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET camera = excluded.camera, track_id = excluded.track_id,
			enter_ns = excluded.enter_ns, exit_ns = excluded.exit_ns, person_id = excluded.person_id,
			box_x = excluded.box_x, box_y = excluded.box_y, box_w = excluded.box_w, box_h = excluded.box_h,
			face_ref = excluded.face_ref, body_ref = excluded.body_ref, face_emb = excluded.face_emb,
			app_emb = excluded.app_emb, final = excluded.final, detail = excluded.detail, colours = excluded.colours
		RETURNING rid, trajectory`,
		s.ID, s.Camera, int64(s.TrackID), s.Enter.UnixNano(), s.Exit.UnixNano(), person,
		box.X, box.Y, box.W, box.H, faceRef, bodyRef, encodeVector(s.FaceEmbedding), encodeVector(s.AppearanceEmbedding),
		s.Final, detail, encodeColours(s.Colours)).Scan(&rid, &traj)
	if err != nil {
		return fmt.Errorf("save sighting %s: %w", s.ID, err)
	}
	if traj == 0 {
		traj = rid
		if _, err := tx.ExecContext(ctx, `UPDATE sightings SET trajectory = ? WHERE rid = ?`, rid, rid); err != nil {
			return fmt.Errorf("save sighting %s: %w", s.ID, err)
		}
	}
	if p := s.PersonID(); p != "" {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO trajectory_persons(person_id, trajectory) VALUES (?, ?)`, p, traj); err != nil {
			return fmt.Errorf("save sighting %s: %w", s.ID, err)
		}
	}
	// The longest stay bounds how far before a window a sighting overlapping it can have entered.
	if _, err := tx.ExecContext(ctx, `INSERT INTO sighting_stats(key, value) VALUES ('max_duration_ns', ?)
		ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)`, s.Exit.Sub(s.Enter).Nanoseconds()); err != nil {
		return fmt.Errorf("save sighting %s: %w", s.ID, err)
	}
	return nil
}

// ApplyDecisions records the stitcher's decisions in order. Every sighting a decision names must
// have been saved (in this transaction or before).
func (t *Tx) ApplyDecisions(ctx context.Context, ds []tracks.Decision) error {
	tx := t
	rids := map[string]int64{}
	rid := func(id string) (int64, error) {
		if r, ok := rids[id]; ok {
			return r, nil
		}
		var r int64
		if err := tx.QueryRowContext(ctx, `SELECT rid FROM sightings WHERE id = ?`, id).Scan(&r); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return 0, fmt.Errorf("sighting %s is not saved", id)
			}
			return 0, err
		}
		rids[id] = r
		return r, nil
	}
	type oldTraj struct {
		person string
		traj   int64
	}
	var stale []oldTraj
	// Links first come off every decided sighting, so a link can move between sightings within
	// the batch without tripping the one-successor rule.
	for _, d := range ds {
		to, err := rid(d.Sighting)
		if err != nil {
			return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE to_rid = ?`, to); err != nil {
			return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
		}
	}
	for _, d := range ds {
		to, _ := rid(d.Sighting)
		root, err := rid(d.Trajectory)
		if err != nil {
			return fmt.Errorf("apply decision for %s: trajectory: %w", d.Sighting, err)
		}
		var person sql.NullString
		var was int64
		if err := tx.QueryRowContext(ctx, `SELECT person_id, trajectory FROM sightings WHERE rid = ?`, to).Scan(&person, &was); err != nil {
			return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
		}
		if was != root {
			if _, err := tx.ExecContext(ctx, `UPDATE sightings SET trajectory = ? WHERE rid = ?`, root, to); err != nil {
				return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
			}
		}
		if person.Valid {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO trajectory_persons(person_id, trajectory) VALUES (?, ?)`, person.String, root); err != nil {
				return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
			}
			if was != root {
				stale = append(stale, oldTraj{person.String, was})
			}
		}
		if d.Link == nil {
			continue
		}
		if d.Link.To != d.Sighting {
			return fmt.Errorf("apply decision for %s: link goes to %s", d.Sighting, d.Link.To)
		}
		from, err := rid(d.Link.From)
		if err != nil {
			return fmt.Errorf("apply decision for %s: link: %w", d.Sighting, err)
		}
		ev, err := json.Marshal(d.Link.Evidence)
		if err != nil {
			return fmt.Errorf("apply decision for %s: encode evidence: %w", d.Sighting, err)
		}
		// The predecessor's earlier successor (if its decision is not in this batch) loses the link.
		if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE from_rid = ?`, from); err != nil {
			return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO links(to_rid, from_rid, score, confidence, evidence, decided_ns)
			VALUES (?, ?, ?, ?, ?, ?)`, to, from, d.Link.Score, d.Link.Confidence, string(ev), d.Link.Decided.UnixNano()); err != nil {
			return fmt.Errorf("apply decision for %s: %w", d.Sighting, err)
		}
	}
	// A person stays attached to a trajectory only while one of its sightings carries them.
	for _, s := range stale {
		if _, err := tx.ExecContext(ctx, `DELETE FROM trajectory_persons WHERE person_id = ? AND trajectory = ?
			AND NOT EXISTS (SELECT 1 FROM sightings WHERE trajectory = ? AND person_id = ?)`, s.person, s.traj, s.traj, s.person); err != nil {
			return fmt.Errorf("apply decisions: %w", err)
		}
	}
	return nil
}

// encodeVector stores an embedding as little-endian float32s; nil stays NULL.
func encodeVector(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte) ([]float32, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("embedding of %d bytes is not float32s", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// encodeColours stores a description in its binary form; unknown stays NULL.
func encodeColours(d colour.Description) []byte {
	if d.IsZero() {
		return nil
	}
	b, _ := d.MarshalBinary()
	return b
}

func decodeColours(b []byte) (colour.Description, error) {
	var d colour.Description
	if len(b) == 0 {
		return d, nil
	}
	err := d.UnmarshalBinary(b)
	return d, err
}

// Features is what a search index keeps of a final sighting.
type Features struct {
	ID, Camera string
	Enter      time.Time
	Appearance []float32 // nil when none was computed
	Colours    colour.Description
}

// SightingFeatures yields the final sightings that entered at or after since, oldest first, with what a
// search index needs of them (search.Build reads it). It reads in pages, so the database is never held
// for the whole walk; a sighting saved meanwhile may or may not be yielded.
func (db *DB) SightingFeatures(ctx context.Context, since time.Time) iter.Seq2[Features, error] {
	return db.sightingFeatures(ctx, since, 2000)
}

func (db *DB) sightingFeatures(ctx context.Context, since time.Time, page int) iter.Seq2[Features, error] {
	return func(yield func(Features, error) bool) {
		lastNS, lastRID := since.UnixNano(), int64(math.MinInt64)
		for {
			rows, err := db.R.QueryContext(ctx, `SELECT rid, id, camera, enter_ns, app_emb, colours FROM sightings
				WHERE final = 1 AND (enter_ns > ? OR enter_ns = ? AND rid > ?) ORDER BY enter_ns, rid LIMIT ?`,
				lastNS, lastNS, lastRID, page)
			if err != nil {
				yield(Features{}, fmt.Errorf("sighting features: %w", err))
				return
			}
			var batch []Features
			for rows.Next() {
				var f Features
				var enter int64
				var app, cols []byte
				if err = rows.Scan(&lastRID, &f.ID, &f.Camera, &enter, &app, &cols); err != nil {
					break
				}
				lastNS, f.Enter = enter, fromNanos(enter)
				if f.Appearance, err = decodeVector(app); err != nil {
					err = fmt.Errorf("sighting %s: appearance: %w", f.ID, err)
					break
				}
				if f.Colours, err = decodeColours(cols); err != nil {
					err = fmt.Errorf("sighting %s: %w", f.ID, err)
					break
				}
				batch = append(batch, f)
			}
			if err == nil {
				err = rows.Err()
			}
			rows.Close()
			if err != nil {
				yield(Features{}, fmt.Errorf("sighting features: %w", err))
				return
			}
			for _, f := range batch {
				if !yield(f, nil) {
					return
				}
			}
			if len(batch) < page {
				return
			}
		}
	}
}

// FinalSightings counts the final sightings: what a search index built from SightingFeatures holds.
func (db *DB) FinalSightings(ctx context.Context) (int, error) {
	var n int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM sightings WHERE final = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count final sightings: %w", err)
	}
	return n, nil
}
