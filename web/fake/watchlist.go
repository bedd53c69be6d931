package fake

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // enrolment photos
	_ "image/png"
	"slices"
	"sync"
	"time"

	"snowlight/web"
)

// Watchlist keeps persons and their photos in memory.
//
// It cannot find faces: a photo counts as usable when it decodes as an image at least MinSide pixels
// on its shorter side, and FaceCheck, when set, replaces that rule. The real watch list runs the face
// detector (package detect).
type Watchlist struct {
	Now       func() time.Time
	MinSide   int
	FaceCheck func(web.PhotoUpload) web.PhotoResult

	mu      sync.Mutex
	seq     int
	persons map[string]*person
}

type person struct {
	view   web.PersonView
	photos []web.Photo
}

// NewWatchlist returns an empty list.
func NewWatchlist(now func() time.Time) *Watchlist {
	if now == nil {
		now = time.Now
	}
	return &Watchlist{Now: now, MinSide: 64, persons: map[string]*person{}}
}

// Add puts a person on the list directly, with photos, as configuration would.
func (w *Watchlist) Add(v web.PersonView, photos ...web.Photo) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v.Photos = len(photos)
	w.persons[v.ID] = &person{view: v, photos: photos}
}

func (w *Watchlist) view(p *person) web.PersonView {
	v := p.view
	v.Expired = !v.Expires.IsZero() && !w.Now().Before(v.Expires)
	return v
}

func (w *Watchlist) List(ctx context.Context) ([]web.PersonView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]web.PersonView, 0, len(w.persons))
	for _, p := range w.persons {
		out = append(out, w.view(p))
	}
	slices.SortFunc(out, func(a, b web.PersonView) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (w *Watchlist) Get(ctx context.Context, id string) (web.PersonView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.persons[id]
	if !ok {
		return web.PersonView{}, fmt.Errorf("no person %s on the watch list: %w", id, web.ErrNotFound)
	}
	return w.view(p), nil
}

func (w *Watchlist) check(ph web.PhotoUpload) web.PhotoResult {
	if w.FaceCheck != nil {
		return w.FaceCheck(ph)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(ph.Data))
	switch {
	case err != nil:
		return web.PhotoResult{Name: ph.Name, Error: "the file is not a readable JPEG or PNG image"}
	case min(cfg.Width, cfg.Height) < w.MinSide:
		return web.PhotoResult{Name: ph.Name, Error: fmt.Sprintf("too small (%dx%d): the face must be at least %d pixels across", cfg.Width, cfg.Height, w.MinSide)}
	}
	return web.PhotoResult{Name: ph.Name, Used: true, Score: 1}
}

func (w *Watchlist) Enrol(ctx context.Context, e web.Enrolment) (web.EnrolResult, error) {
	var res web.EnrolResult
	var photos []web.Photo
	for _, ph := range e.Photos {
		r := w.check(ph)
		res.Photos = append(res.Photos, r)
		if r.Used {
			photos = append(photos, web.Photo{ContentType: ph.ContentType, Data: ph.Data})
		}
	}
	if len(photos) == 0 {
		return res, fmt.Errorf("enrol %s: %w", e.Name, web.ErrNoUsableFace)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	v := web.PersonView{ID: fmt.Sprintf("p%d", w.seq), Name: e.Name, Category: e.Category, GuardianContact: e.GuardianContact,
		SafeZone: e.SafeZone, Expires: e.Expires, LegalBasis: e.LegalBasis, ApprovedBy: e.ApprovedBy, EnrolledBy: e.EnrolledBy,
		Enrolled: w.Now(), Photos: len(photos)}
	for w.persons[v.ID] != nil {
		w.seq++
		v.ID = fmt.Sprintf("p%d", w.seq)
	}
	w.persons[v.ID] = &person{view: v, photos: photos}
	res.Person = w.view(w.persons[v.ID])
	return res, nil
}

func (w *Watchlist) Remove(ctx context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.persons[id]; !ok {
		return fmt.Errorf("no person %s on the watch list: %w", id, web.ErrNotFound)
	}
	delete(w.persons, id)
	return nil
}

func (w *Watchlist) Photo(ctx context.Context, id string, i int) (web.Photo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.persons[id]
	if !ok || i < 0 || i >= len(p.photos) {
		return web.Photo{}, fmt.Errorf("no photo %d of person %s: %w", i, id, web.ErrNotFound)
	}
	return p.photos[i], nil
}
