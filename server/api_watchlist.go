package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"snowlight/watchlist"
	"snowlight/web"
)

// watchlistAPI is the watch list as the web API sees it.
type watchlistAPI struct{ s *Server }

func (x watchlistAPI) view(p watchlist.Person) web.PersonView {
	v := web.PersonView{ID: p.ID, Name: p.Name, Category: p.Category, GuardianContact: p.GuardianContact,
		Expires: p.Expires, Expired: p.Expired(x.s.now()), LegalBasis: p.LegalBasis, ApprovedBy: p.ApprovedBy,
		EnrolledBy: p.EnrolledBy, Enrolled: p.Enrolled, Photos: len(p.Photos)}
	v.SafeZone = slices.Clone(p.SafeZone)
	return v
}

func watchErr(err error) error {
	if errors.Is(err, watchlist.ErrNotFound) {
		return fmt.Errorf("%v: %w", err, web.ErrNotFound)
	}
	return err
}

func (x watchlistAPI) List(ctx context.Context) ([]web.PersonView, error) {
	ps, err := x.s.db.Watchlist().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.PersonView, 0, len(ps))
	for _, p := range ps {
		out = append(out, x.view(p))
	}
	return out, nil
}

func (x watchlistAPI) Get(ctx context.Context, id string) (web.PersonView, error) {
	p, err := x.s.db.Watchlist().Get(ctx, id)
	if err != nil {
		return web.PersonView{}, watchErr(err)
	}
	return x.view(p), nil
}

func (x watchlistAPI) Enrol(ctx context.Context, e web.Enrolment) (web.EnrolResult, error) {
	p, results, err := x.s.watch.enrol(ctx, "", e)
	if err != nil {
		return web.EnrolResult{Photos: results}, err
	}
	return web.EnrolResult{Person: x.view(p), Photos: results}, nil
}

func (x watchlistAPI) Remove(ctx context.Context, id string) error {
	return watchErr(x.s.watch.remove(ctx, id))
}

func (x watchlistAPI) Photo(ctx context.Context, id string, i int) (web.Photo, error) {
	b, err := x.s.db.Watchlist().Photo(ctx, id, i)
	if err != nil {
		return web.Photo{}, watchErr(err)
	}
	return web.Photo{ContentType: contentType(b), Data: b}, nil
}
