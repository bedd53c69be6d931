// Package retention deletes what the product may no longer keep and keeps what a case needs.
//
// The Job enforces the retention periods (docs/SECURITY.md, "Retention"): sightings of people on no
// watch list after Policy.Unlisted, final alerts with their evidence after Policy.Alerts, the
// embeddings and photos of expired watch-list entries after Policy.ExpiredGrace. It deletes rows from
// the database and objects from the object store, then checks that both are gone. Anything a case
// holds (Holds) is kept until the case releases it.
//
// Deleting is mark-then-sweep, so a crash at any point loses nothing and the next run finishes the
// job: each short write transaction deletes a batch of rows and records the object keys they named in
// the same transaction; the sweep then deletes those objects, verifies with Stat that they are gone and
// only then clears the marks. An object that a kept row still names (content addressing lets two
// sightings share a snapshot) is not deleted.
package retention

import (
	"context"
	"errors"
	"strings"
	"time"

	"snowlight/objstore"
	"snowlight/watchlist"
)

// Errors the stores and the services return; test with errors.Is.
var (
	// ErrNotFound means a held item or a case does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the request is malformed; the message says how.
	ErrInvalid = errors.New("invalid")
)

// Store is what the Job needs from the database. Package store implements it over SQLite. Methods
// that delete run one short write transaction each and re-check, inside it, every condition that
// protects a row (case holds, age, listing), so a hold placed while a run is under way wins.
type Store interface {
	// AlertCandidates returns final alerts (resolved or dismissed) last changed before q.FinalBefore,
	// with ids after q.After, by id, at most q.Limit, each with its object keys and whether a case
	// holds it.
	AlertCandidates(ctx context.Context, q AlertQuery) ([]AlertRow, error)
	// DeleteAlerts deletes the alerts among ids that are still final, older than finalBefore and not
	// held, with their events, marks their object keys for the sweep, and returns what it deleted.
	DeleteAlerts(ctx context.Context, ids []string, finalBefore, at time.Time) ([]AlertRow, error)
	// AlertSightings counts, for every sighting some alert names as evidence, the alerts naming it.
	AlertSightings(ctx context.Context) (map[string]int, error)

	// SightingCandidates returns sightings due for deletion under q (old enough for their rule), in
	// exit order after q.After, at most q.Limit, each with its object keys and flags.
	SightingCandidates(ctx context.Context, q SightingQuery) ([]SightingRow, error)
	// DeleteSightings deletes the sightings among rids that q still makes due and that are neither
	// held nor the first sighting of a live trajectory, marks their snapshots' keys, repairs the
	// trajectories they leave (a trajectory whose first sighting goes is renamed after its next one),
	// and returns what it deleted.
	DeleteSightings(ctx context.Context, rids []int64, q SightingQuery, at time.Time) ([]SightingRow, error)

	// ExpiredEntries returns watch-list entries that expired at or before now and still have
	// embeddings or photos.
	ExpiredEntries(ctx context.Context, now time.Time) ([]ExpiredEntry, error)
	// PurgeEntry deletes the embeddings (and photo references, marking those that are object keys)
	// of the entry if it expired before expiredBefore; it returns how many embeddings went.
	PurgeEntry(ctx context.Context, id string, expiredBefore, at time.Time) (int, error)

	// DeleteNotifications deletes at most limit delivered or abandoned notifications older than
	// before (their payloads describe alerts); count only counts them.
	DeleteNotifications(ctx context.Context, before time.Time, limit int, countOnly bool) (int, error)

	// PendingObjects returns marked object keys after after, in key order, at most limit.
	PendingObjects(ctx context.Context, after string, limit int) ([]PendingObject, error)
	// ObjectReferences returns, for each of keys that a row still names, the rows naming it.
	ObjectReferences(ctx context.Context, keys []string) (map[string][]Ref, error)
	// ClearPending removes marks.
	ClearPending(ctx context.Context, keys []string) error
	// PendingFailed records a failed attempt on a mark.
	PendingFailed(ctx context.Context, key string, at time.Time, msg string) error
	// Remaining counts the rows of kind ("sighting" or "alert") among ids that still exist.
	Remaining(ctx context.Context, kind string, ids []string) (int, error)
}

// AlertQuery selects alert candidates.
type AlertQuery struct {
	FinalBefore time.Time
	After       string
	Limit       int
}

// AlertRow is an alert as retention sees it.
type AlertRow struct {
	ID      string
	Status  string
	Updated time.Time
	Held    bool
	// Keys are the object keys of its evidence, as the alert has it now and as any of its events
	// recorded it (evidence folded away later still names objects).
	Keys []string
	// Sightings are the sightings it names as evidence.
	Sightings []string
}

// SightingQuery says which sightings are due.
type SightingQuery struct {
	// Now decides which watch-list entries are active: a sighting is listed when its person, or a
	// person its trajectory carries, has an entry active at Now.
	Now time.Time
	// UnlistedBefore and ListedBefore: a sighting is due when it left the camera before the one
	// that applies to it.
	UnlistedBefore, ListedBefore time.Time
	// LiveSince protects a trajectory's first sighting while the trajectory gained a sighting at or
	// after it: the stitcher names trajectories after their first sighting and may still extend it.
	LiveSince time.Time
	After     SightingCursor
	Limit     int
}

// SightingCursor is where a scan of sightings continues: after this exit time and row.
type SightingCursor struct {
	ExitNS, RID int64
}

// SightingRow is a sighting as retention sees it.
type SightingRow struct {
	RID        int64
	ID         string
	Trajectory int64
	Exit       time.Time
	Listed     bool
	Held       bool
	// LiveRoot is set on the first sighting of a trajectory that is still growing.
	LiveRoot bool
	Keys     []string
}

// Cursor is the scan position after this row.
func (r SightingRow) Cursor() SightingCursor {
	return SightingCursor{ExitNS: r.Exit.UnixNano(), RID: r.RID}
}

// ExpiredEntry is a watch-list entry past its expiry that still holds biometric data.
type ExpiredEntry struct {
	ID         string             `json:"id"`
	Category   watchlist.Category `json:"category"`
	Expired    time.Time          `json:"expired"`
	Embeddings int                `json:"embeddings"`
	Photos     int                `json:"photos"`
	// PurgeAt is when the grace period ends; Purged says the data was deleted by this run.
	PurgeAt time.Time `json:"purge_at"`
	Purged  bool      `json:"purged"`
	// PhotoKeys are the object keys of the photos kept in the object store (for a dry run's
	// accounting); photos the database holds go with the entry's embeddings.
	PhotoKeys []string `json:"-"`
}

// PendingObject is an object key marked for deletion.
type PendingObject struct {
	Key       string
	Source    string // the row whose deletion marked it, e.g. sighting/cam1-..., alert/a1
	Marked    time.Time
	Attempts  int
	LastError string
}

// Ref is a row that names an object.
type Ref struct {
	Kind string // sighting, alert, person
	ID   string
}

// IsObjectKey reports whether s can be an evidence object's key: a valid key with a kind prefix
// (kind/name). Watch-list photo references that are plain file names are not.
func IsObjectKey(s string) bool {
	return strings.Contains(s, "/") && objstore.ValidateKey(s) == nil
}

// ObjectKind is the kind an object key starts with (face, body, snapshot, clip, ...).
func ObjectKind(key string) string {
	kind, _, ok := strings.Cut(key, "/")
	if !ok {
		return "other"
	}
	return kind
}
