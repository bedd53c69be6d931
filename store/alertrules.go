package store

import (
	"context"
	"errors"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/rules"
)

// WatchlistPerson gives the alert rules what they need of a watch-list entry (rules.Persons): its
// category, expiry and safe zone. The rules keep no table of their own.
func (db *DB) WatchlistPerson(ctx context.Context, id string) (rules.Person, bool, error) {
	p, err := db.Person(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return rules.Person{}, false, nil
	}
	if err != nil {
		return rules.Person{}, false, err
	}
	out := rules.Person{ID: p.ID, Name: p.Name, Category: rules.NormalCategory(p.Category), Expires: p.Expires}
	for _, pt := range p.SafeZone {
		out.SafeZone = append(out.SafeZone, dispatch.LatLon{Lat: pt.Lat, Lon: pt.Lon})
	}
	return out, true, nil
}
