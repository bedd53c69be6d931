package watchlist

import (
	"context"
	"time"
)

// Store keeps the watch list. The product keeps it in its database (package store); errors wrap
// ErrNotFound for an unknown id and ErrExists for a taken one.
type Store interface {
	// List returns every entry, expired ones too, sorted by name then id.
	List(ctx context.Context) ([]Person, error)
	// Get returns one entry.
	Get(ctx context.Context, id string) (Person, error)
	// Add stores a new entry (it must pass Person.Validate) with the bytes of its enrolment photos:
	// photos[i] is the image of p.Photos[i]. A nil photos[i] means the image is kept elsewhere and
	// p.Photos[i].Ref names it. Nothing is stored when anything fails.
	Add(ctx context.Context, p Person, photos [][]byte) error
	// Remove deletes an entry with its embeddings and photos.
	Remove(ctx context.Context, id string) error
	// Active returns the entries that have not expired at now, by id: the list to match against.
	Active(ctx context.Context, now time.Time) ([]Person, error)
	// Expired returns the entries that expired at or before now, by id, for the report that names them.
	Expired(ctx context.Context, now time.Time) ([]Person, error)
	// AddNegatives records faces a human judged not to be person id (from alert, a dismissed alert),
	// so the matcher stops confusing them with the person.
	AddNegatives(ctx context.Context, id, alert string, faces [][]float32) error
	// AddConfirmed records faces operators confirmed as person id (from alert, a confirmed alert);
	// they live and expire with the entry.
	AddConfirmed(ctx context.Context, id, alert string, faces [][]float32) error
	// Photo returns the bytes of enrolment photo i of an entry; the error wraps ErrNotFound when there
	// is no such photo or the Store does not hold its bytes (see Photo.Ref).
	Photo(ctx context.Context, id string, i int) ([]byte, error)
}
