package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"snowlight/detect"
	"snowlight/watchlist"
	"snowlight/web"
)

// watchList keeps the matcher every camera ranks faces with, rebuilt when an entry is enrolled or
// removed and every minute so expired entries stop matching on time.
type watchList struct {
	s      *Server
	policy watchlist.Policy
	// det embeds enrolment photos; nil without models (then nobody can be enrolled or matched).
	det     *detect.Pipeline
	current atomic.Pointer[watchlist.Matcher]
	changed chan struct{}
}

// expiryCheck is how often the list is rebuilt for expiry even when nothing changed.
const expiryCheck = time.Minute

func newWatchList(ctx context.Context, s *Server) (*watchList, error) {
	w := &watchList{s: s, policy: s.dep.Watchlist, changed: make(chan struct{}, 1)}
	if s.cfg.Models != "" {
		dc := detect.DefaultConfig(s.cfg.Models)
		dc.Log, dc.Engine = s.log, s.infer
		var err error
		if w.det, err = detect.NewPipeline(dc); err != nil {
			return nil, fmt.Errorf("enrolment detector: %w", err)
		}
	}
	if err := w.load(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// matcher is the current watch list; nil when face recognition is off or nobody is enrolled.
func (w *watchList) matcher() *watchlist.Matcher { return w.current.Load() }

func (w *watchList) load(ctx context.Context) error {
	if w.det == nil {
		return nil
	}
	now := w.s.now()
	persons, err := w.s.db.Watchlist().Active(ctx, now)
	if err != nil {
		return fmt.Errorf("load watch list: %w", err)
	}
	m, err := watchlist.NewMatcher(persons, w.policy, w.det.EmbeddingModel(), now)
	if err != nil {
		return fmt.Errorf("load watch list: %w", err)
	}
	w.current.Store(m)
	return nil
}

// touch asks for a rebuild after a change.
func (w *watchList) touch() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *watchList) run(ctx context.Context) error {
	t := time.NewTicker(expiryCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.changed:
		}
		if err := w.load(ctx); err != nil {
			w.s.log.Error("watch list not reloaded", "err", err)
		}
	}
}

func (w *watchList) close() {
	if w.det != nil {
		w.det.Close()
	}
}

// Enrol puts a person on the watch list from photos, under id (a new id when empty). Each photo must
// show exactly one usable face; the result says per photo whether it was used and why not.
func (w *watchList) enrol(ctx context.Context, id string, e web.Enrolment) (watchlist.Person, []web.PhotoResult, error) {
	if w.det == nil || !w.det.Recognition() {
		return watchlist.Person{}, nil, fmt.Errorf("face recognition is off: this server runs without models "+
			"(run `make models` and start it with --models DIR): %w", web.ErrUnavailable)
	}
	if id == "" {
		id = watchlist.NewID()
	}
	now := w.s.now()
	p := watchlist.Person{ID: id, Name: e.Name, Category: e.Category, EmbeddingModel: w.det.EmbeddingModel(),
		Enrolled: now, EnrolledBy: e.EnrolledBy, LegalBasis: e.LegalBasis, ApprovedBy: e.ApprovedBy,
		Expires: e.Expires, GuardianContact: e.GuardianContact, SafeZone: slices.Clone(e.SafeZone)}
	if err := w.policy.CheckEntry(&p, now); err != nil {
		return watchlist.Person{}, nil, fmt.Errorf("%v: %w", err, web.ErrInvalid)
	}
	results := make([]web.PhotoResult, len(e.Photos))
	var photos [][]byte
	for i, ph := range e.Photos {
		results[i].Name = ph.Name
		rec, emb, err := w.det.EmbedPhoto(ctx, detect.PhotoInput{Name: ph.Name, Data: ph.Data}, detect.DefaultEnrolmentRules())
		if err != nil {
			results[i].Error = photoProblem(err)
			continue
		}
		results[i].Used, results[i].Score = true, float64(rec.Score)
		p.Photos = append(p.Photos, rec)
		p.Embeddings = append(p.Embeddings, emb)
		photos = append(photos, ph.Data)
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
	w.touch()
	return p, results, nil
}

// photoProblem says in words what was wrong with an enrolment photo.
func photoProblem(err error) string {
	switch {
	case errors.Is(err, detect.ErrNoUsableFace):
		return "no usable face found: use a sharp, frontal photo where the face is at least 40 pixels tall"
	case errors.Is(err, detect.ErrSeveralFaces):
		return "more than one face: crop the photo to the one person"
	}
	return err.Error()
}

// contentType names an enrolment photo's format for the browser.
func contentType(b []byte) string { return http.DetectContentType(b) }

// Enrol puts a person on the watch list under a chosen id (the demo and imports use their own ids).
func (s *Server) Enrol(ctx context.Context, id string, e web.Enrolment) (watchlist.Person, []web.PhotoResult, error) {
	return s.watch.enrol(ctx, id, e)
}
