package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"snowlight/bus/rpc"
	"snowlight/watchlist"
	"snowlight/web"
)

// watchList keeps the cameras' matchers in step with the watch list in the database: every active
// entry at start, each enrolment, removal and false match as it is committed, and the whole list again
// every minute, so entries that expired stop matching on time even where nobody removed them.
type watchList struct {
	s      *Server
	policy watchlist.Policy
}

// expiryCheck is how often the whole list goes to the cameras again.
const expiryCheck = time.Minute

// sync gives the cameras every active entry.
func (w *watchList) sync(ctx context.Context) error {
	persons, err := w.s.db.Watchlist().Active(ctx, w.s.now())
	if err != nil {
		return fmt.Errorf("load watch list: %w", err)
	}
	if err := w.s.cameras.SyncWatchList(ctx, persons); err != nil {
		return fmt.Errorf("give the cameras the watch list: %w", err)
	}
	return nil
}

// put gives the cameras an entry as it is now in the database.
func (w *watchList) put(ctx context.Context, id string) error {
	p, err := w.s.db.Watchlist().Get(ctx, id)
	if err != nil {
		return fmt.Errorf("watch-list entry %s: %w", id, err)
	}
	if p.Expired(w.s.now()) {
		return w.s.cameras.RemovePerson(ctx, id)
	}
	return w.s.cameras.PutPerson(ctx, p)
}

func (w *watchList) run(ctx context.Context) error {
	t := time.NewTicker(expiryCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := w.sync(ctx); err != nil && ctx.Err() == nil {
			w.s.log.Error("watch list not given to the cameras again", "err", err)
		}
	}
}

// enrol puts a person on the watch list from photos, under id (a new id when empty). Each photo must
// show exactly one usable face; the result says per photo whether it was used and why not. The faces
// are found and embedded where the face models are: the cameras' side.
func (w *watchList) enrol(ctx context.Context, id string, e web.Enrolment) (watchlist.Person, []web.PhotoResult, error) {
	if id == "" {
		id = watchlist.NewID()
	}
	now := w.s.now()
	p := watchlist.Person{ID: id, Name: e.Name, Category: e.Category,
		Enrolled: now, EnrolledBy: e.EnrolledBy, LegalBasis: e.LegalBasis, ApprovedBy: e.ApprovedBy,
		Expires: e.Expires, GuardianContact: e.GuardianContact, SafeZone: slices.Clone(e.SafeZone)}
	if err := w.policy.CheckEntry(&p, now); err != nil {
		return watchlist.Person{}, nil, fmt.Errorf("%v: %w", err, web.ErrInvalid)
	}
	req := rpc.EmbedRequest{Photos: make([]rpc.Photo, len(e.Photos))}
	for i, ph := range e.Photos {
		req.Photos[i] = rpc.Photo{Name: ph.Name, Data: ph.Data}
	}
	emb, err := w.s.cameras.Embed(ctx, req)
	if err != nil {
		if errors.Is(err, rpc.ErrUnavailable) {
			return watchlist.Person{}, nil, fmt.Errorf("face recognition is off: %v (run `make models` and start the cameras' "+
				"side with --models DIR): %w", err, web.ErrUnavailable)
		}
		return watchlist.Person{}, nil, err
	}
	p.EmbeddingModel = emb.Model
	results := make([]web.PhotoResult, len(e.Photos))
	var photos [][]byte
	for i, r := range emb.Photos {
		results[i].Name = e.Photos[i].Name
		if r.Problem != "" {
			results[i].Error = r.Problem
			continue
		}
		results[i].Used, results[i].Score = true, float64(r.Photo.Score)
		p.Photos = append(p.Photos, r.Photo)
		p.Embeddings = append(p.Embeddings, r.Embedding)
		photos = append(photos, e.Photos[i].Data)
	}
	if len(p.Embeddings) == 0 {
		return watchlist.Person{}, results, web.ErrNoUsableFace
	}
	if err := w.s.db.Watchlist().Add(ctx, p, photos); err != nil {
		if errors.Is(err, watchlist.ErrExists) {
			return watchlist.Person{}, results, fmt.Errorf("%v: %w", err, web.ErrConflict)
		}
		return watchlist.Person{}, results, fmt.Errorf("%v: %w", err, web.ErrInvalid)
	}
	if err := w.s.cameras.PutPerson(ctx, p); err != nil {
		// Enrolled all the same; the next sync gives it to the cameras.
		w.s.log.Error("enrolled person not yet given to the cameras", "person", p.ID, "err", err)
	}
	return p, results, nil
}

// remove takes a person off the watch list, and off every camera's matcher.
func (w *watchList) remove(ctx context.Context, id string) error {
	if err := w.s.db.Watchlist().Remove(ctx, id); err != nil {
		return err
	}
	return w.s.cameras.RemovePerson(ctx, id)
}

// contentType names an enrolment photo's format for the browser.
func contentType(b []byte) string { return http.DetectContentType(b) }

// Enrol puts a person on the watch list under a chosen id (the demo and imports use their own ids).
func (s *Server) Enrol(ctx context.Context, id string, e web.Enrolment) (watchlist.Person, []web.PhotoResult, error) {
	return s.watch.enrol(ctx, id, e)
}
