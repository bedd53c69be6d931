package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"snowlight/watchlist"
)

// watchlistComponent holds the people on the watch list with their enrolment embeddings and photos,
// and what the law and the alert rules need to know about them.
//
// Version 4 keeps, per person, the faces operators confirmed as them.
//
// Version 3 keeps, per person, the faces humans dismissed as false matches of them.
//
// Version 2 gives the enrolment photos a table of their own (what each photo is, where its face was,
// and its bytes), so watchlist.Person is stored whole: the photo names that embeddings carried move
// there as references, the free-form detail column goes, and categories take their canonical
// spelling (at_risk).
func watchlistComponent() component {
	return component{name: "watchlist", migrations: []string{`
CREATE TABLE persons (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	category         TEXT NOT NULL,
	threshold        REAL,
	embedding_model  TEXT NOT NULL DEFAULT '',
	enrolled_ns      INTEGER NOT NULL,
	enrolled_by      TEXT NOT NULL DEFAULT '',
	legal_basis      TEXT NOT NULL DEFAULT '',
	approver         TEXT NOT NULL DEFAULT '',
	expires_ns       INTEGER,
	guardian_contact TEXT NOT NULL DEFAULT '',
	safe_zone        TEXT,
	detail           TEXT
) WITHOUT ROWID;
CREATE INDEX persons_expires ON persons(expires_ns) WHERE expires_ns IS NOT NULL;
CREATE TABLE person_embeddings (
	person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	idx       INTEGER NOT NULL,
	photo     TEXT NOT NULL DEFAULT '',
	embedding BLOB NOT NULL,
	PRIMARY KEY (person_id, idx)
) WITHOUT ROWID;
`, `
CREATE TABLE person_photos (
	person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	idx       INTEGER NOT NULL,
	source    TEXT NOT NULL DEFAULT '',
	sha256    TEXT NOT NULL DEFAULT '',
	face_x    REAL NOT NULL DEFAULT 0,
	face_y    REAL NOT NULL DEFAULT 0,
	face_w    REAL NOT NULL DEFAULT 0,
	face_h    REAL NOT NULL DEFAULT 0,
	score     REAL NOT NULL DEFAULT 0,
	ref       TEXT NOT NULL DEFAULT '',
	data      BLOB,
	PRIMARY KEY (person_id, idx),
	CHECK ((data IS NULL) = (ref != ''))
);
CREATE INDEX person_photos_ref ON person_photos(ref) WHERE ref != '';
INSERT INTO person_photos(person_id, idx, source, ref)
	SELECT person_id, idx, photo, photo FROM person_embeddings WHERE photo != '';
ALTER TABLE person_embeddings DROP COLUMN photo;
ALTER TABLE persons DROP COLUMN detail;
UPDATE persons SET category = replace(lower(trim(category)), '-', '_');
`, `
CREATE TABLE person_negatives (
	person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	alert_id  TEXT NOT NULL,
	idx       INTEGER NOT NULL,
	added_ns  INTEGER NOT NULL,
	embedding BLOB NOT NULL,
	PRIMARY KEY (person_id, alert_id, idx)
) WITHOUT ROWID;
`, `
CREATE TABLE person_confirmed (
	person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	alert_id  TEXT NOT NULL,
	idx       INTEGER NOT NULL,
	added_ns  INTEGER NOT NULL,
	embedding BLOB NOT NULL,
	PRIMARY KEY (person_id, alert_id, idx)
) WITHOUT ROWID;
`}}
}

// Watchlist is the watch list kept in the database; it implements watchlist.Store.
//
// Enrolment photos are kept as blobs in their own table rather than in the object store: they live and
// die with the entry (added in one transaction with it, purged by retention in the one that purges its
// embeddings, removed with it by the foreign key), so no object can outlive or go missing from its
// entry; no lifecycle rule written for evidence can expire them; and they are few and small (a handful
// of photos per person, each within the enrolment photo limits). A photo kept elsewhere (Photo.Ref, an
// object-store key) is recorded by reference, and marked for the retention job's verified deletion
// when its entry goes.
type Watchlist struct {
	db *DB
}

// Watchlist returns the database's watch list.
func (db *DB) Watchlist() *Watchlist { return &Watchlist{db: db} }

// Add implements watchlist.Store.
func (w *Watchlist) Add(ctx context.Context, p watchlist.Person, photos [][]byte) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("add to the watch list: %w", err)
	}
	if len(photos) != len(p.Photos) {
		return fmt.Errorf("add %s to the watch list: %d photo records, %d images", p.ID, len(p.Photos), len(photos))
	}
	p.Photos = append([]watchlist.Photo(nil), p.Photos...)
	for i, data := range photos {
		ph := &p.Photos[i]
		switch {
		case data == nil && ph.Ref == "":
			return fmt.Errorf("add %s to the watch list: photo %d (%s) has neither bytes nor a reference", p.ID, i, ph.Source)
		case data != nil && ph.Ref != "":
			return fmt.Errorf("add %s to the watch list: photo %d (%s) has bytes and a reference %q", p.ID, i, ph.Source, ph.Ref)
		case data != nil:
			sum := sha256.Sum256(data)
			if h := hex.EncodeToString(sum[:]); ph.SHA256 == "" {
				ph.SHA256 = h
			} else if ph.SHA256 != h {
				return fmt.Errorf("add %s to the watch list: photo %d (%s) has sha256 %s, its record says %s", p.ID, i, ph.Source, h, ph.SHA256)
			}
		}
	}
	var zone, threshold, expires any
	if len(p.SafeZone) > 0 {
		b, err := json.Marshal(p.SafeZone)
		if err != nil {
			return fmt.Errorf("add %s to the watch list: %w", p.ID, err)
		}
		zone = string(b)
	}
	if p.Threshold > 0 {
		threshold = float64(p.Threshold)
	}
	if !p.Expires.IsZero() {
		expires = p.Expires.UnixNano()
	}
	tx, err := w.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add %s to the watch list: %w", p.ID, err)
	}
	defer tx.Rollback()
	var taken int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM persons WHERE id = ?`, p.ID).Scan(&taken); err != nil {
		return fmt.Errorf("add %s to the watch list: %w", p.ID, err)
	}
	if taken > 0 {
		return fmt.Errorf("add %s to the watch list: %w", p.ID, watchlist.ErrExists)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO persons(id, name, category, threshold, embedding_model, enrolled_ns,
			enrolled_by, legal_basis, approver, expires_ns, guardian_contact, safe_zone)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, string(p.Category), threshold, p.EmbeddingModel, p.Enrolled.UnixNano(), p.EnrolledBy,
		p.LegalBasis, p.ApprovedBy, expires, p.GuardianContact, zone); err != nil {
		return fmt.Errorf("add %s to the watch list: %w", p.ID, err)
	}
	for i, e := range p.Embeddings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO person_embeddings(person_id, idx, embedding) VALUES (?, ?, ?)`,
			p.ID, i, encodeVector(e)); err != nil {
			return fmt.Errorf("add %s to the watch list: embedding %d: %w", p.ID, i, err)
		}
	}
	for i, ph := range p.Photos {
		var data any
		if photos[i] != nil {
			data = photos[i]
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO person_photos(person_id, idx, source, sha256, face_x, face_y, face_w, face_h,
				score, ref, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, i, ph.Source, ph.SHA256, ph.Face.X, ph.Face.Y, ph.Face.W, ph.Face.H, ph.Score, ph.Ref, data); err != nil {
			return fmt.Errorf("add %s to the watch list: photo %d: %w", p.ID, i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add %s to the watch list: %w", p.ID, err)
	}
	return nil
}

// Remove implements watchlist.Store. Its sightings keep the person id they were matched to.
func (w *Watchlist) Remove(ctx context.Context, id string) error {
	tx, err := w.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remove %s from the watch list: %w", id, err)
	}
	defer tx.Rollback()
	refs, err := photoRefs(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("remove %s from the watch list: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM persons WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("remove %s from the watch list: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("remove %s from the watch list: %w", id, watchlist.ErrNotFound)
	}
	now := time.Now()
	for _, r := range refs {
		if err := markObject(ctx, tx, r, "person/"+id, now); err != nil {
			return fmt.Errorf("remove %s from the watch list: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("remove %s from the watch list: %w", id, err)
	}
	return nil
}

// photoRefs are the references of an entry's photos kept outside the database.
func photoRefs(ctx context.Context, tx *sql.Tx, id string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT ref FROM person_photos WHERE person_id = ? AND ref != '' ORDER BY idx`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const personColumns = `id, name, category, threshold, embedding_model, enrolled_ns, enrolled_by, legal_basis, approver,
	expires_ns, guardian_contact, safe_zone`

// Get implements watchlist.Store.
func (w *Watchlist) Get(ctx context.Context, id string) (watchlist.Person, error) {
	ps, err := w.query(ctx, true, `WHERE id = ?`, id)
	if err != nil {
		return watchlist.Person{}, fmt.Errorf("watch-list entry %s: %w", id, err)
	}
	if len(ps) == 0 {
		return watchlist.Person{}, fmt.Errorf("watch-list entry %s: %w", id, watchlist.ErrNotFound)
	}
	return ps[0], nil
}

// List implements watchlist.Store.
func (w *Watchlist) List(ctx context.Context) ([]watchlist.Person, error) {
	ps, err := w.query(ctx, true, `ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("watch list: %w", err)
	}
	return ps, nil
}

// Active implements watchlist.Store.
func (w *Watchlist) Active(ctx context.Context, now time.Time) ([]watchlist.Person, error) {
	ps, err := w.query(ctx, true, `WHERE expires_ns IS NULL OR expires_ns > ? ORDER BY id`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("watch list: %w", err)
	}
	return ps, nil
}

// Expired implements watchlist.Store.
func (w *Watchlist) Expired(ctx context.Context, now time.Time) ([]watchlist.Person, error) {
	ps, err := w.query(ctx, true, `WHERE expires_ns <= ? ORDER BY id`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("expired watch-list entries: %w", err)
	}
	return ps, nil
}

// Photo implements watchlist.Store.
func (w *Watchlist) Photo(ctx context.Context, id string, i int) ([]byte, error) {
	var data []byte
	var ref string
	err := w.db.R.QueryRowContext(ctx, `SELECT data, ref FROM person_photos WHERE person_id = ? AND idx = ?`, id, i).Scan(&data, &ref)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("photo %d of watch-list entry %s: %w", i, id, watchlist.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("photo %d of watch-list entry %s: %w", i, id, err)
	case data == nil:
		return nil, fmt.Errorf("photo %d of watch-list entry %s is kept outside the database (%s): %w", i, id, ref, watchlist.ErrNotFound)
	}
	return data, nil
}

// query reads the entries a clause selects; with biometrics, their embeddings and photo records too.
func (w *Watchlist) query(ctx context.Context, biometrics bool, clause string, args ...any) ([]watchlist.Person, error) {
	rows, err := w.db.R.QueryContext(ctx, `SELECT `+personColumns+` FROM persons `+clause, args...)
	if err != nil {
		return nil, err
	}
	var out []watchlist.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !biometrics || len(out) == 0 {
		return out, nil
	}
	byID := make(map[string]*watchlist.Person, len(out))
	ids := make([]string, len(out))
	for i := range out {
		byID[out[i].ID], ids[i] = &out[i], out[i].ID
	}
	if err := w.loadEmbeddings(ctx, ids, byID); err != nil {
		return nil, err
	}
	if err := w.loadPhotos(ctx, ids, byID); err != nil {
		return nil, err
	}
	for _, f := range alertFaces {
		if err := w.loadFaces(ctx, f, ids, byID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// faceTable is a table of faces operators judged on alerts, per person, and the entry's field for them.
type faceTable struct {
	table, what string
	field       func(*watchlist.Person) *[][]float32
}

// alertFaces are the faces judged on alerts: false matches, and faces confirmed as the person.
var alertFaces = []faceTable{
	{"person_negatives", "false matches", func(p *watchlist.Person) *[][]float32 { return &p.Negatives }},
	{"person_confirmed", "confirmed faces", func(p *watchlist.Person) *[][]float32 { return &p.Confirmed }},
}

// AddNegatives implements watchlist.Store. Recording the same alert twice changes nothing.
func (w *Watchlist) AddNegatives(ctx context.Context, id, alert string, faces [][]float32) error {
	return w.addFaces(ctx, alertFaces[0].table, alertFaces[0].what, id, alert, faces)
}

// AddConfirmed implements watchlist.Store. Recording the same alert twice changes nothing.
func (w *Watchlist) AddConfirmed(ctx context.Context, id, alert string, faces [][]float32) error {
	return w.addFaces(ctx, alertFaces[1].table, alertFaces[1].what, id, alert, faces)
}

func (w *Watchlist) addFaces(ctx context.Context, table, what, id, alert string, faces [][]float32) error {
	tx, err := w.db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s of %s: %w", what, id, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM persons WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("%s of %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s of %s: %w", what, id, watchlist.ErrNotFound)
	}
	now := time.Now().UnixNano()
	for i, f := range faces {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+table+`(person_id, alert_id, idx, added_ns, embedding)
			VALUES (?, ?, ?, ?, ?)`, id, alert, i, now, encodeVector(f)); err != nil {
			return fmt.Errorf("%s of %s: %w", what, id, err)
		}
	}
	return tx.Commit()
}

func (w *Watchlist) loadFaces(ctx context.Context, f faceTable, ids []string, byID map[string]*watchlist.Person) error {
	rows, err := w.db.R.QueryContext(ctx, `SELECT person_id, embedding FROM `+f.table+`
		WHERE person_id IN (SELECT value FROM json_each(?)) ORDER BY person_id, added_ns, alert_id, idx`, jsonList(ids))
	if err != nil {
		return fmt.Errorf("%s: %w", f.what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return fmt.Errorf("%s: %w", f.what, err)
		}
		v, err := decodeVector(b)
		if err != nil {
			return fmt.Errorf("watch-list entry %s: %s: %w", id, f.what, err)
		}
		field := f.field(byID[id])
		*field = append(*field, v)
	}
	return rows.Err()
}

func scanPerson(rows *sql.Rows) (watchlist.Person, error) {
	var p watchlist.Person
	var cat string
	var threshold sql.NullFloat64
	var enrolled int64
	var expires sql.NullInt64
	var zone sql.NullString
	if err := rows.Scan(&p.ID, &p.Name, &cat, &threshold, &p.EmbeddingModel, &enrolled, &p.EnrolledBy,
		&p.LegalBasis, &p.ApprovedBy, &expires, &p.GuardianContact, &zone); err != nil {
		return p, err
	}
	// An entry that cannot be read fails the read, naming it: silently dropping someone from the
	// watch list is worse than refusing to start.
	c, err := watchlist.ParseCategory(cat)
	if err != nil {
		return p, fmt.Errorf("watch-list entry %s: %w", p.ID, err)
	}
	p.Category, p.Threshold, p.Enrolled = c, float32(threshold.Float64), fromNanos(enrolled)
	if expires.Valid {
		p.Expires = fromNanos(expires.Int64)
	}
	if zone.Valid {
		if err := json.Unmarshal([]byte(zone.String), &p.SafeZone); err != nil {
			return p, fmt.Errorf("watch-list entry %s: safe zone: %w", p.ID, err)
		}
	}
	return p, nil
}

func (w *Watchlist) loadEmbeddings(ctx context.Context, ids []string, byID map[string]*watchlist.Person) error {
	rows, err := w.db.R.QueryContext(ctx, `SELECT person_id, embedding FROM person_embeddings
		WHERE person_id IN (SELECT value FROM json_each(?)) ORDER BY person_id, idx`, jsonList(ids))
	if err != nil {
		return fmt.Errorf("embeddings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return fmt.Errorf("embeddings: %w", err)
		}
		v, err := decodeVector(b)
		if err != nil {
			return fmt.Errorf("watch-list entry %s: %w", id, err)
		}
		p := byID[id]
		p.Embeddings = append(p.Embeddings, v)
	}
	return rows.Err()
}

func (w *Watchlist) loadPhotos(ctx context.Context, ids []string, byID map[string]*watchlist.Person) error {
	rows, err := w.db.R.QueryContext(ctx, `SELECT person_id, source, sha256, face_x, face_y, face_w, face_h, score, ref
		FROM person_photos WHERE person_id IN (SELECT value FROM json_each(?)) ORDER BY person_id, idx`, jsonList(ids))
	if err != nil {
		return fmt.Errorf("photos: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ph watchlist.Photo
		if err := rows.Scan(&id, &ph.Source, &ph.SHA256, &ph.Face.X, &ph.Face.Y, &ph.Face.W, &ph.Face.H, &ph.Score, &ph.Ref); err != nil {
			return fmt.Errorf("photos: %w", err)
		}
		p := byID[id]
		p.Photos = append(p.Photos, ph)
	}
	return rows.Err()
}
