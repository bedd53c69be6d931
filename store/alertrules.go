package store

import (
	"context"
	"fmt"

	"snowlight/watchlist"
)

// WatchlistPerson gives the alert rules (rules.Persons) a watch-list entry without its biometric data:
// the rules need its category, expiry and safe zone, never its face. The rules keep no table of their
// own.
func (db *DB) WatchlistPerson(ctx context.Context, id string) (watchlist.Person, bool, error) {
	ps, err := db.Watchlist().query(ctx, false, `WHERE id = ?`, id)
	if err != nil {
		return watchlist.Person{}, false, fmt.Errorf("watch-list entry %s: %w", id, err)
	}
	if len(ps) == 0 {
		return watchlist.Person{}, false, nil
	}
	return ps[0], true, nil
}
