package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// watchlistComponent holds the people on the watch lists with their enrolment embeddings, and what
// the law and the alert rules need to know about them.
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
`}}
}

// Person is one watch-list entry as stored: who, why, until when, and the embeddings to match.
type Person struct {
	ID       string
	Name     string
	Category string // at-risk, missing, suspect, ...
	// Threshold overrides the category's similarity threshold for this person; 0 keeps it.
	Threshold float64
	// Embeddings are the enrolment face embeddings, one per photo (Photos[i] names the photo of
	// Embeddings[i] when known); EmbeddingModel identifies the model that produced them.
	Embeddings     [][]float32
	Photos         []string
	EmbeddingModel string
	Enrolled       time.Time
	EnrolledBy     string
	// LegalBasis, Approver and Expires are what the law asks of a watch-list entry; an expired
	// entry is returned by ActivePersons no more.
	LegalBasis string
	Approver   string
	Expires    time.Time
	// GuardianContact and SafeZone serve at-risk people: who to notify, and the area (a polygon of
	// lat/lon points) outside which they should not be.
	GuardianContact string
	SafeZone        []LatLon
	// Detail keeps whatever else enrolment records (photos' faces, hashes), as JSON.
	Detail json.RawMessage
}

// LatLon is a WGS84 point in degrees.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

func (p *Person) validate() error {
	switch {
	case p.ID == "" || p.Name == "" || p.Category == "":
		return errors.New("id, name and category are required")
	case p.Threshold < 0 || p.Threshold > 1 || math.IsNaN(p.Threshold):
		return fmt.Errorf("threshold %v outside [0,1]", p.Threshold)
	case len(p.Photos) > 0 && len(p.Photos) != len(p.Embeddings):
		return fmt.Errorf("%d photos for %d embeddings", len(p.Photos), len(p.Embeddings))
	case len(p.SafeZone) == 1 || len(p.SafeZone) == 2:
		return fmt.Errorf("a safe zone needs at least 3 points, got %d", len(p.SafeZone))
	case p.Enrolled.IsZero():
		return errors.New("enrolment time is required")
	}
	for i, e := range p.Embeddings {
		if len(e) == 0 || len(e) != len(p.Embeddings[0]) {
			return fmt.Errorf("embedding %d has %d values, the first %d", i, len(e), len(p.Embeddings[0]))
		}
	}
	for _, pt := range p.SafeZone {
		if math.Abs(pt.Lat) > 90 || math.Abs(pt.Lon) > 180 || math.IsNaN(pt.Lat+pt.Lon) {
			return fmt.Errorf("safe zone point %v,%v is not a latitude/longitude", pt.Lat, pt.Lon)
		}
	}
	if len(p.Detail) > 0 && !json.Valid(p.Detail) {
		return errors.New("detail is not JSON")
	}
	return nil
}

// SavePerson adds or replaces a watch-list entry and its embeddings.
func (db *DB) SavePerson(ctx context.Context, p Person) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("save person %s: %w", p.ID, err)
	}
	var zone, threshold, expires, detail any
	if len(p.SafeZone) > 0 {
		b, err := json.Marshal(p.SafeZone)
		if err != nil {
			return fmt.Errorf("save person %s: %w", p.ID, err)
		}
		zone = string(b)
	}
	if p.Threshold > 0 {
		threshold = p.Threshold
	}
	if !p.Expires.IsZero() {
		expires = p.Expires.UnixNano()
	}
	if len(p.Detail) > 0 {
		detail = string(p.Detail)
	}
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save person %s: %w", p.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO persons(id, name, category, threshold, embedding_model, enrolled_ns,
			enrolled_by, legal_basis, approver, expires_ns, guardian_contact, safe_zone, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, category = excluded.category, threshold = excluded.threshold,
			embedding_model = excluded.embedding_model, enrolled_ns = excluded.enrolled_ns, enrolled_by = excluded.enrolled_by,
			legal_basis = excluded.legal_basis, approver = excluded.approver, expires_ns = excluded.expires_ns,
			guardian_contact = excluded.guardian_contact, safe_zone = excluded.safe_zone, detail = excluded.detail`,
		p.ID, p.Name, p.Category, threshold, p.EmbeddingModel, p.Enrolled.UnixNano(), p.EnrolledBy,
		p.LegalBasis, p.Approver, expires, p.GuardianContact, zone, detail); err != nil {
		return fmt.Errorf("save person %s: %w", p.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM person_embeddings WHERE person_id = ?`, p.ID); err != nil {
		return fmt.Errorf("save person %s: %w", p.ID, err)
	}
	for i, e := range p.Embeddings {
		photo := ""
		if i < len(p.Photos) {
			photo = p.Photos[i]
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO person_embeddings(person_id, idx, photo, embedding) VALUES (?, ?, ?, ?)`,
			p.ID, i, photo, encodeVector(e)); err != nil {
			return fmt.Errorf("save person %s: embedding %d: %w", p.ID, i, err)
		}
	}
	return tx.Commit()
}

// DeletePerson removes a watch-list entry; its sightings keep the person id they were matched to.
func (db *DB) DeletePerson(ctx context.Context, id string) error {
	res, err := db.W.ExecContext(ctx, `DELETE FROM persons WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete person %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete person %s: %w", id, ErrNotFound)
	}
	return nil
}

const personColumns = `id, name, category, threshold, embedding_model, enrolled_ns, enrolled_by, legal_basis, approver,
	expires_ns, guardian_contact, safe_zone, detail`

// Person returns one watch-list entry.
func (db *DB) Person(ctx context.Context, id string) (Person, error) {
	ps, err := db.queryPersons(ctx, `SELECT `+personColumns+` FROM persons WHERE id = ?`, id)
	if err != nil {
		return Person{}, fmt.Errorf("person %s: %w", id, err)
	}
	if len(ps) == 0 {
		return Person{}, fmt.Errorf("person %s: %w", id, ErrNotFound)
	}
	return ps[0], nil
}

// ActivePersons returns the entries that have not expired at now, by id.
func (db *DB) ActivePersons(ctx context.Context, now time.Time) ([]Person, error) {
	ps, err := db.queryPersons(ctx, `SELECT `+personColumns+` FROM persons WHERE expires_ns IS NULL OR expires_ns > ? ORDER BY id`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("watch list: %w", err)
	}
	return ps, nil
}

// ExpiredPersons returns the entries that expired at or before now, by id, for the report that
// names them.
func (db *DB) ExpiredPersons(ctx context.Context, now time.Time) ([]Person, error) {
	ps, err := db.queryPersons(ctx, `SELECT `+personColumns+` FROM persons WHERE expires_ns <= ? ORDER BY id`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("expired watch-list entries: %w", err)
	}
	return ps, nil
}

func (db *DB) queryPersons(ctx context.Context, q string, args ...any) ([]Person, error) {
	rows, err := db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []Person
	for rows.Next() {
		var p Person
		var threshold sql.NullFloat64
		var enrolled int64
		var expires sql.NullInt64
		var zone, detail sql.NullString
		if err := rows.Scan(&p.ID, &p.Name, &p.Category, &threshold, &p.EmbeddingModel, &enrolled, &p.EnrolledBy,
			&p.LegalBasis, &p.Approver, &expires, &p.GuardianContact, &zone, &detail); err != nil {
			rows.Close()
			return nil, err
		}
		p.Threshold, p.Enrolled = threshold.Float64, fromNanos(enrolled)
		if expires.Valid {
			p.Expires = fromNanos(expires.Int64)
		}
		if zone.Valid {
			if err := json.Unmarshal([]byte(zone.String), &p.SafeZone); err != nil {
				rows.Close()
				return nil, fmt.Errorf("person %s: safe zone: %w", p.ID, err)
			}
		}
		if detail.Valid {
			p.Detail = json.RawMessage(detail.String)
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := db.loadEmbeddings(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) loadEmbeddings(ctx context.Context, p *Person) error {
	rows, err := db.R.QueryContext(ctx, `SELECT photo, embedding FROM person_embeddings WHERE person_id = ? ORDER BY idx`, p.ID)
	if err != nil {
		return fmt.Errorf("person %s: embeddings: %w", p.ID, err)
	}
	defer rows.Close()
	anyPhoto := false
	for rows.Next() {
		var photo string
		var b []byte
		if err := rows.Scan(&photo, &b); err != nil {
			return fmt.Errorf("person %s: embeddings: %w", p.ID, err)
		}
		v, err := decodeVector(b)
		if err != nil {
			return fmt.Errorf("person %s: %w", p.ID, err)
		}
		p.Embeddings = append(p.Embeddings, v)
		p.Photos = append(p.Photos, photo)
		anyPhoto = anyPhoto || photo != ""
	}
	if !anyPhoto {
		p.Photos = nil
	}
	return rows.Err()
}
