package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"snowlight/tracks"
)

// maxFollow bounds the links a Follow walks each way, so a corrupt cycle cannot run forever.
const maxFollow = 100000

// ErrNotFound is returned for an unknown sighting or person.
var ErrNotFound = errors.New("not found")

// stepColumns selects a step: the sighting, its camera's position and its incoming link.
const stepColumns = `s.id, t.id, s.camera, c.lat, c.lon, s.enter_ns, s.exit_ns, s.person_id,
	s.box_x, s.box_y, s.box_w, s.box_h, s.face_ref, s.body_ref,
	f.id, l.score, l.confidence, l.evidence, l.decided_ns`

const stepJoins = `JOIN sightings t ON t.rid = s.trajectory
	LEFT JOIN cameras c ON c.id = s.camera
	LEFT JOIN links l ON l.to_rid = s.rid
	LEFT JOIN sightings f ON f.rid = l.from_rid`

func scanSteps(rows *sql.Rows) ([]tracks.Step, error) {
	defer rows.Close()
	var out []tracks.Step
	for rows.Next() {
		var st tracks.Step
		var lat, lon sql.NullFloat64
		var enter, exit int64
		var person, from, evidence sql.NullString
		var score, conf sql.NullFloat64
		var decided sql.NullInt64
		if err := rows.Scan(&st.Sighting, &st.Trajectory, &st.Camera, &lat, &lon, &enter, &exit, &person,
			&st.Box.X, &st.Box.Y, &st.Box.W, &st.Box.H, &st.FaceRef, &st.BodyRef,
			&from, &score, &conf, &evidence, &decided); err != nil {
			return nil, err
		}
		st.Lat, st.Lon, st.HasPos = lat.Float64, lon.Float64, lat.Valid
		st.Enter, st.Exit = fromNanos(enter), fromNanos(exit)
		st.PersonID = person.String
		if from.Valid {
			l := &tracks.Link{From: from.String, To: st.Sighting, Score: score.Float64, Confidence: conf.Float64, Decided: fromNanos(decided.Int64)}
			if err := json.Unmarshal([]byte(evidence.String), &l.Evidence); err != nil {
				return nil, fmt.Errorf("link to %s: evidence: %w", st.Sighting, err)
			}
			st.Link = l
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func window(from, to time.Time) (int64, int64, error) {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("time window %v..%v is empty", from, to)
	}
	return lo, hi, nil
}

// PersonTrajectory implements tracks.Archive. A zero from or to leaves that side open.
func (db *DB) PersonTrajectory(ctx context.Context, personID string, from, to time.Time) ([]tracks.Trajectory, error) {
	lo, hi, err := window(from, to)
	if err != nil {
		return nil, fmt.Errorf("trajectory of %s: %w", personID, err)
	}
	maxDur, err := db.maxDuration(ctx)
	if err != nil {
		return nil, fmt.Errorf("trajectory of %s: %w", personID, err)
	}
	// One pass: the person's trajectories by primary key, each one's steps in the window by the
	// (trajectory, enter) index.
	rows, err := db.R.QueryContext(ctx, `SELECT `+stepColumns+` FROM trajectory_persons tp
		JOIN sightings s ON s.trajectory = tp.trajectory `+stepJoins+`
		WHERE tp.person_id = ? AND s.enter_ns >= ? AND s.enter_ns <= ? AND s.exit_ns >= ?
		ORDER BY tp.trajectory, s.enter_ns, s.rid`, personID, satSub(lo, maxDur), hi, lo)
	if err != nil {
		return nil, fmt.Errorf("trajectory of %s: %w", personID, err)
	}
	steps, err := scanSteps(rows)
	if err != nil {
		return nil, fmt.Errorf("trajectory of %s: %w", personID, err)
	}
	var out []tracks.Trajectory
	for _, st := range steps {
		if n := len(out); n == 0 || out[n-1].ID != st.Trajectory {
			out = append(out, tracks.Trajectory{ID: st.Trajectory, PersonID: personID})
		}
		out[len(out)-1].Steps = append(out[len(out)-1].Steps, st)
	}
	// Earliest trajectory first.
	slices.SortStableFunc(out, func(a, b tracks.Trajectory) int { return a.Steps[0].Enter.Compare(b.Steps[0].Enter) })
	return out, nil
}

// Follow implements tracks.Archive: it walks the links back and forth from the sighting, keeping
// the steps that overlap from..to (a zero bound is open) and stopping where the trajectory leaves
// the window.
func (db *DB) Follow(ctx context.Context, sightingID string, from, to time.Time) (tracks.Trajectory, error) {
	lo, hi, err := window(from, to)
	if err != nil {
		return tracks.Trajectory{}, fmt.Errorf("follow %s: %w", sightingID, err)
	}
	var start int64
	if err := db.R.QueryRowContext(ctx, `SELECT rid FROM sightings WHERE id = ?`, sightingID).Scan(&start); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return tracks.Trajectory{}, fmt.Errorf("follow %s: %w", sightingID, ErrNotFound)
		}
		return tracks.Trajectory{}, fmt.Errorf("follow %s: %w", sightingID, err)
	}
	rows, err := db.R.QueryContext(ctx, `
WITH RECURSIVE
back(rid, n) AS (
	SELECT ?, 0
	UNION ALL
	SELECT l.from_rid, back.n + 1 FROM back JOIN links l ON l.to_rid = back.rid
	JOIN sightings p ON p.rid = l.from_rid
	WHERE back.n < ? AND p.exit_ns >= ?
),
fwd(rid, n) AS (
	SELECT ?, 0
	UNION ALL
	SELECT l.to_rid, fwd.n + 1 FROM fwd JOIN links l ON l.from_rid = fwd.rid
	JOIN sightings q ON q.rid = l.to_rid
	WHERE fwd.n < ? AND q.enter_ns <= ?
),
chain(rid) AS (SELECT rid FROM back UNION SELECT rid FROM fwd)
SELECT `+stepColumns+` FROM chain JOIN sightings s ON s.rid = chain.rid `+stepJoins+`
WHERE s.exit_ns >= ? AND s.enter_ns <= ?
ORDER BY s.enter_ns, s.rid`, start, maxFollow, lo, start, maxFollow, hi, lo, hi)
	if err != nil {
		return tracks.Trajectory{}, fmt.Errorf("follow %s: %w", sightingID, err)
	}
	steps, err := scanSteps(rows)
	if err != nil {
		return tracks.Trajectory{}, fmt.Errorf("follow %s: %w", sightingID, err)
	}
	t := tracks.Trajectory{Steps: steps}
	if len(steps) > 0 {
		t.ID = steps[0].Trajectory
		t.PersonID = tracks.MajorityPerson(steps)
	}
	return t, nil
}

// AtCamera implements tracks.Archive: the sightings at the camera that overlap from..to, at most
// limit (0: no limit).
func (db *DB) AtCamera(ctx context.Context, camera string, from, to time.Time, limit int) ([]tracks.Step, error) {
	lo, hi, err := window(from, to)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", camera, err)
	}
	if limit <= 0 {
		limit = -1
	}
	maxDur, err := db.maxDuration(ctx)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", camera, err)
	}
	rows, err := db.R.QueryContext(ctx, `SELECT `+stepColumns+` FROM sightings s `+stepJoins+`
		WHERE s.camera = ? AND s.enter_ns >= ? AND s.enter_ns <= ? AND s.exit_ns >= ?
		ORDER BY s.enter_ns, s.rid LIMIT ?`, camera, satSub(lo, maxDur), hi, lo, limit)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", camera, err)
	}
	steps, err := scanSteps(rows)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", camera, err)
	}
	return steps, nil
}

// Sighting returns a stored sighting as it was saved (snapshot references, no bytes).
func (db *DB) Sighting(ctx context.Context, id string) (tracks.Sighting, error) {
	var s tracks.Sighting
	var track, enter, exit int64
	var final bool
	var faceEmb, appEmb, detail, colours []byte
	err := db.R.QueryRowContext(ctx, `SELECT id, camera, track_id, enter_ns, exit_ns, face_emb, app_emb, final, detail, colours
		FROM sightings WHERE id = ?`, id).Scan(&s.ID, &s.Camera, &track, &enter, &exit, &faceEmb, &appEmb, &final, &detail, &colours)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("sighting %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("sighting %s: %w", id, err)
	}
	s.TrackID, s.Enter, s.Exit, s.Final = uint64(track), fromNanos(enter), fromNanos(exit), final
	if s.FaceEmbedding, err = decodeVector(faceEmb); err != nil {
		return s, fmt.Errorf("sighting %s: face: %w", id, err)
	}
	if s.AppearanceEmbedding, err = decodeVector(appEmb); err != nil {
		return s, fmt.Errorf("sighting %s: appearance: %w", id, err)
	}
	if s.Colours, err = decodeColours(colours); err != nil {
		return s, fmt.Errorf("sighting %s: %w", id, err)
	}
	var d sightingDetail
	if len(detail) > 0 {
		if err := json.Unmarshal(detail, &d); err != nil {
			return s, fmt.Errorf("sighting %s: detail: %w", id, err)
		}
	}
	s.Boxes, s.Face, s.Body, s.Evidence = d.Boxes, d.Face, d.Body, d.Evidence
	return s, nil
}

// maxDuration is the longest stay stored, which bounds how early a sighting overlapping a window
// may have entered.
func (db *DB) maxDuration(ctx context.Context) (int64, error) {
	var v int64
	err := db.R.QueryRowContext(ctx, `SELECT value FROM sighting_stats WHERE key = 'max_duration_ns'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// satSub is a-b without wrapping below the smallest int64.
func satSub(a, b int64) int64 {
	if b > 0 && a < -1<<63+b {
		return -1 << 63
	}
	return a - b
}
