package server

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"snowlight/colour"
	"snowlight/detect"
	"snowlight/detect/photo"
	"snowlight/search"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/web"
)

// sightingIndex is the search index over the store's final sightings: opened (or rebuilt from the
// store) at start, fed each final sighting as the center stores it, told by retention what it
// deleted, closed at shutdown.
type sightingIndex struct {
	s  *Server
	ix *search.Index
	// work carries stored final sightings to the index, so the center never waits on a search's lock.
	work chan search.Entry
	// behind is set once a sighting could not be queued: the next start rebuilds the index, since its
	// count then differs from the store's.
	behind atomic.Bool
	// undeleted are ids retention deleted whose removal from the index failed, tried again with the
	// next deletion (and gone at the next start's rebuild at the latest).
	mu        sync.Mutex
	undeleted []string
	// appearance embeds uploaded pictures of a person (OSNet, one at a time); nil without models.
	appearance *detect.Embedder
}

// searchDir is where the index lives under the data directory.
const searchDir = "search"

// openIndex opens the index, or rebuilds it from the store when it cannot be opened or holds another
// number of sightings than the store does (a crash between the store's write and the index's, or a
// missed update).
func openIndex(ctx context.Context, s *Server) (*sightingIndex, error) {
	x := &sightingIndex{s: s, work: make(chan search.Entry, 4096)}
	opts := search.Options{Dir: filepath.Join(s.cfg.DataDir, searchDir)}
	want, err := s.db.FinalSightings(ctx)
	if err != nil {
		return nil, err
	}
	ix, err := search.Open(opts)
	switch {
	case err != nil:
		s.log.Warn("search index damaged: rebuilding it from the database", "err", err)
	case ix.Len() != want:
		s.log.Info("search index out of date: rebuilding it from the database", "index", ix.Len(), "database", want)
		ix.Close()
		ix = nil
	}
	if err != nil || ix == nil {
		start := time.Now()
		if ix, err = search.Build(ctx, opts, entries(s.db.SightingFeatures(ctx, time.Time{}))); err != nil {
			return nil, fmt.Errorf("search index: %w", err)
		}
		s.log.Info("search index built", "sightings", ix.Len(), "took", time.Since(start).Round(time.Millisecond))
	}
	x.ix = ix
	if s.cfg.Models != "" {
		if x.appearance, err = detect.NewAppearanceEmbedder(s.infer, s.cfg.Models); err != nil {
			ix.Close()
			return nil, fmt.Errorf("search: appearance model: %w", err)
		}
	}
	return x, nil
}

// entries adapts the store's features walk to the index's entries.
func entries(fs iter.Seq2[store.Features, error]) iter.Seq2[search.Entry, error] {
	return func(yield func(search.Entry, error) bool) {
		for f, err := range fs {
			if !yield(entry(f.ID, f.Camera, f.Enter, f.Appearance, f.Colours), err) || err != nil {
				return
			}
		}
	}
}

func entry(id, camera string, enter time.Time, app []float32, c colour.Description) search.Entry {
	if len(app) != search.Dim {
		app = nil // another model's vector: the sighting is found by its colours only
	}
	return search.Entry{ID: id, Camera: camera, Time: enter, Appearance: app, Colours: c}
}

// add queues a stored final sighting; it never blocks the center.
func (x *sightingIndex) add(s tracks.Sighting) {
	select {
	case x.work <- entry(s.ID, s.Camera, s.Enter, s.AppearanceEmbedding, s.Colours):
	default:
		if !x.behind.Swap(true) {
			x.s.log.Error("search index is behind: sightings are missing from it until the next start rebuilds it")
		}
	}
}

// run indexes queued sightings until ctx ends, then those still queued.
func (x *sightingIndex) run(ctx context.Context) error {
	for {
		select {
		case e := <-x.work:
			x.index(e)
		case <-ctx.Done():
			for {
				select {
				case e := <-x.work:
					x.index(e)
				default:
					return nil
				}
			}
		}
	}
}

func (x *sightingIndex) index(e search.Entry) {
	if err := x.ix.Add(e); err != nil {
		x.s.log.Error("search index: sighting not indexed", "sighting", e.ID, "err", err)
	}
}

// deleted takes what retention deleted out of the index's files too, so a deleted sighting can be
// neither found nor read from the disk.
func (x *sightingIndex) deleted(ctx context.Context, ids []string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	all := append(x.undeleted, ids...)
	if _, err := x.ix.Delete(ctx, all); err != nil {
		x.undeleted = all
		return fmt.Errorf("search index: %d deleted sightings left in it for the next try: %w", len(all), err)
	}
	x.undeleted = nil
	return nil
}

func (x *sightingIndex) close() error {
	var err error
	if x.ix != nil {
		err = x.ix.Close()
	}
	if x.appearance != nil {
		x.appearance.Close()
	}
	return err
}

// searchAPI answers searches for the web API.
type searchAPI struct{ s *Server }

// cropLimits admit a picture of a person from a phone or a camera, never a bomb.
func cropLimits() photo.Limits {
	return photo.Limits{MaxBytes: 8 << 20, MaxPixels: 24_000_000, MaxSide: 8192, MaxDecodedBytes: 100_000_000}
}

func (x searchAPI) Sightings(ctx context.Context, q web.SearchQuery) ([]web.SearchHit, error) {
	ix := x.s.index
	sq := search.Query{From: q.From, To: q.To, Cameras: q.Cameras, Limit: q.Limit}
	if q.Colours != "" {
		c, err := colour.ParseQuery(q.Colours)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, web.ErrInvalid)
		}
		sq.Colours = c
	}
	switch {
	case q.Example != "":
		s, err := x.s.db.Sighting(ctx, q.Example)
		if err != nil {
			return nil, storeErr(err)
		}
		if len(s.AppearanceEmbedding) != search.Dim {
			return nil, fmt.Errorf("sighting %s has no appearance to search by (no whole-body view was embedded): %w", s.ID, web.ErrInvalid)
		}
		if q.Cameras != nil && !slices.Contains(q.Cameras, s.Camera) {
			return nil, fmt.Errorf("sighting %s: %w", s.ID, web.ErrNotFound) // outside the caller's cameras
		}
		sq.Example = s.AppearanceEmbedding
	case len(q.Crop) > 0:
		v, err := ix.embed(q.Crop)
		if err != nil {
			return nil, err
		}
		sq.Example = v
	}
	// The example itself is the best hit: ask for one more and leave it out.
	if q.Example != "" {
		sq.Limit++
	}
	hits, err := ix.ix.Search(ctx, sq)
	if err != nil {
		if errors.Is(err, search.ErrInvalid) {
			return nil, fmt.Errorf("%v: %w", err, web.ErrInvalid)
		}
		return nil, err
	}
	tr := trajectoriesAPI{x.s}
	out := make([]web.SearchHit, 0, len(hits))
	for _, h := range hits {
		if h.ID == q.Example || len(out) == q.Limit {
			continue
		}
		s, err := x.s.db.Sighting(ctx, h.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted by retention while the query ran
		}
		if err != nil {
			return nil, err
		}
		hit := web.SearchHit{Sighting: tr.sightingView(s), Score: float64(h.Score), Colour: float64(h.Colour)}
		if !s.Colours.IsZero() {
			up, _ := s.Colours.Upper.Main()
			low, _ := s.Colours.Lower.Main()
			hit.Clothes = &web.ClothesView{Upper: regionName(s.Colours.Upper, up), Lower: regionName(s.Colours.Lower, low)}
		}
		out = append(out, hit)
	}
	return out, nil
}

// regionName is how a witness would name a region's colour: "dark blue", "red", "unknown".
func regionName(r colour.Region, main colour.Name) string {
	switch {
	case !r.Known():
		return "unknown"
	case r.Dark >= colour.MinShare*2 && main != colour.Black:
		return "dark " + main.String()
	}
	return main.String()
}

// embed computes the appearance embedding of an uploaded picture of one person (the whole picture is
// the person's box).
func (x *sightingIndex) embed(data []byte) ([]float32, error) {
	if x.appearance == nil {
		return nil, fmt.Errorf("searching by a picture needs the appearance model (serve with models): %w", web.ErrUnavailable)
	}
	img, _, err := detect.DecodePhoto(data, cropLimits())
	if err != nil {
		return nil, fmt.Errorf("the picture: %v: %w", err, web.ErrInvalid)
	}
	defer img.Close()
	if img.Cols() < 16 || img.Rows() < 32 {
		return nil, fmt.Errorf("the picture is %dx%d: too small to show a person: %w", img.Cols(), img.Rows(), web.ErrInvalid)
	}
	v, err := x.appearance.Embed(img)
	if err != nil {
		return nil, fmt.Errorf("embed the picture: %w", err)
	}
	return v, nil
}
