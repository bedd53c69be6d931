package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"snowlight/colour"
)

// Query asks for sightings like an example, matching a description, or both.
type Query struct {
	// Example is the appearance embedding to search by (a sighting's, or one computed from an uploaded
	// crop); nil searches by description only.
	Example []float32
	// From and To bound the entries' times (inclusive; zero: unbounded).
	From, To time.Time
	// Cameras limits the search to these cameras: the caller's scope. nil means every camera; an empty
	// non-nil list means none.
	Cameras []string
	// Colours is the description; the zero Query asks nothing.
	Colours colour.Query
	// Limit is how many hits to return (default 20, at most MaxLimit).
	Limit int
	// MinScore drops hits less similar than this to the example.
	MinScore float32
	// Candidates overrides Options.Candidates for this query (0: the index's).
	Candidates int
	// Exact ranks every row by its int8 vector instead of the best candidates by code: the reference
	// recall is measured against, and affordable for a small scope (tens of thousands of rows).
	Exact bool
}

// MaxLimit is the most hits a query returns.
const MaxLimit = 1000

// Hit is one sighting found.
type Hit struct {
	ID     string    `json:"id"`
	Camera string    `json:"camera"`
	Time   time.Time `json:"time"`
	// Score is the cosine similarity to the example; without an example, the colour score.
	Score float32 `json:"score"`
	// Colour is how well the sighting fits the description (colour.Query.Match; 1 without one).
	Colour float32 `json:"colour"`
}

// ErrInvalid wraps a query that cannot be run.
var ErrInvalid = errors.New("invalid search query")

// ref is a row of a segment of the query's snapshot.
type ref struct {
	seg, row int32
}

type candidate struct {
	ref
	dist int32 // Hamming distance of the codes
}

type scored struct {
	ref
	score, colour float32
	time          int64
}

// scoredWorse ranks by score, then the more recent first, then by position (deterministic).
func scoredWorse(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	if a.time != b.time {
		return a.time < b.time
	}
	return cmp.Or(cmp.Compare(a.seg, b.seg), cmp.Compare(a.row, b.row)) > 0
}

func candidateWorse(a, b candidate) bool {
	if a.dist != b.dist {
		return a.dist > b.dist
	}
	return cmp.Or(cmp.Compare(a.seg, b.seg), cmp.Compare(a.row, b.row)) > 0
}

// plan is a query prepared for scanning.
type plan struct {
	q          Query
	colours    colour.Matcher
	example    []float32 // normalised
	code       [codeWords]uint64
	from, to   int64
	limit      int
	candidates int
}

// Search runs a query. It holds the index's read lock while it scans, so an Add waits for it.
func (x *Index) Search(ctx context.Context, q Query) ([]Hit, error) {
	p, err := x.prepare(q)
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, ErrClosed
	}
	segs := make([]*segment, 0, len(x.sealed)+1)
	for i := range len(x.sealed) + 1 {
		s := x.active
		if i < len(x.sealed) {
			s = x.sealed[i]
		}
		if s.rows() > 0 && s.maxT >= p.from && s.minT <= p.to {
			segs = append(segs, s)
		}
	}
	if x.centre != nil && p.example != nil {
		encode(p.code[:], p.example, x.centre)
	}

	workers := min(x.opts.Workers, len(segs))
	results := make([]*best[scored], workers)
	cands := make([]*best[candidate], workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		results[w] = newBest(p.limit, scoredWorse)
		cands[w] = newBest(p.candidates, candidateWorse)
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(segs) {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				p.scan(int32(i), segs[i], results[w], cands[w])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}

	// The candidates of every worker, best first, ranked exactly.
	all := newBest(p.limit, scoredWorse)
	for _, r := range results {
		for _, s := range r.items {
			all.push(s)
		}
	}
	var pool []candidate
	for _, c := range cands {
		pool = append(pool, c.items...)
	}
	slices.SortFunc(pool, func(a, b candidate) int {
		if candidateWorse(a, b) {
			return 1
		}
		return -1
	})
	for _, c := range pool[:min(len(pool), p.candidates)] {
		s := segs[c.seg]
		if s.scales[c.row] == 0 {
			continue
		}
		score := dot(p.example, s.vecs[int(c.row)*Dim:]) * s.scales[c.row]
		if score < p.q.MinScore {
			continue
		}
		colourScore, _ := p.colours.Match(&s.colours[c.row])
		all.push(scored{ref: c.ref, score: score, colour: colourScore, time: s.times[c.row]})
	}

	hits := all.items
	slices.SortFunc(hits, func(a, b scored) int {
		if scoredWorse(a, b) {
			return 1
		}
		return -1
	})
	out := make([]Hit, len(hits))
	for i, h := range hits {
		s := segs[h.seg]
		out[i] = Hit{ID: s.id(int(h.row)), Camera: s.camNames[s.cams[h.row]],
			Time: time.UnixMilli(s.times[h.row]).UTC(), Score: h.score, Colour: h.colour}
	}
	return out, nil
}

func (x *Index) prepare(q Query) (*plan, error) {
	p := &plan{q: q, colours: q.Colours.Matcher(), from: -1 << 63, to: 1<<63 - 1, limit: q.Limit, candidates: x.opts.Candidates}
	if p.limit <= 0 {
		p.limit = 20
	}
	if p.limit > MaxLimit {
		return nil, fmt.Errorf("%w: limit %d is over %d", ErrInvalid, q.Limit, MaxLimit)
	}
	if q.Candidates > 0 {
		p.candidates = q.Candidates
	}
	p.candidates = max(p.candidates, p.limit)
	if !q.From.IsZero() {
		p.from = q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		p.to = q.To.UnixMilli()
	}
	if p.from > p.to {
		return nil, fmt.Errorf("%w: the window ends (%s) before it starts (%s)", ErrInvalid, q.To, q.From)
	}
	if q.Example != nil {
		v, ok := normalised(q.Example)
		if !ok {
			return nil, fmt.Errorf("%w: the example must be %d finite values, not all zero (got %d)", ErrInvalid, Dim, len(q.Example))
		}
		p.example = v
	}
	return p, nil
}

// scan tests every row of one segment. Rows passing the filters go, with an example, to the
// candidates by code distance (or straight to exact ranking when the segment is uncoded); without one,
// to the results by colour score.
func (p *plan) scan(si int32, s *segment, results *best[scored], cands *best[candidate]) {
	var allow []bool // nil: every camera of the segment
	if p.q.Cameras != nil {
		allow = make([]bool, len(s.camNames))
		some, all := false, true
		for i, n := range s.camNames {
			allow[i] = slices.Contains(p.q.Cameras, n)
			some, all = some || allow[i], all && allow[i]
		}
		switch {
		case !some:
			return
		case all:
			allow = nil
		}
	}
	colours := !p.q.Colours.Any()
	inWindow := s.minT >= p.from && s.maxT <= p.to
	coded := s.codes != nil && p.example != nil && !p.q.Exact
	thr := int32(Dim + 1)
	if cands.full() {
		thr = cands.worst().dist
	}
	push := func(i int, d int32) {
		cands.push(candidate{ref: ref{si, int32(i)}, dist: d})
		if cands.full() {
			thr = cands.worst().dist
		}
	}
	// The common cases get loops of their own: the scan is bound by memory bandwidth and branches, so
	// each reads only the columns it tests (64 of the 80 bytes a row is tested on are its code). Rows
	// without a vector have a zero code and are dropped when ranked.
	switch {
	case coded && inWindow && !colours && allow == nil: // by example, everything in scope
		for i := range s.rows() {
			if d := int32(hamming(&p.code, s.codes[i*codeWords:])); d < thr {
				push(i, d)
			}
		}
		return
	case coded && inWindow && !colours: // by example, some cameras (a scope)
		for i, c := range s.cams[:s.rows()] {
			if !allow[c] {
				continue
			}
			if d := int32(hamming(&p.code, s.codes[i*codeWords:])); d < thr {
				push(i, d)
			}
		}
		return
	case p.example == nil && colours && inWindow && allow == nil: // by description, everything in scope
		for i := range s.colours[:s.rows()] {
			score, ok := p.colours.Match(&s.colours[i])
			// Most rows of a broad description lose to the kept best at once: test before the push.
			if ok && (!results.full() || score >= results.worst().score) {
				results.push(scored{ref: ref{si, int32(i)}, score: score, colour: score, time: s.times[i]})
			}
		}
		return
	}
	for i := range s.rows() {
		if !inWindow && (s.times[i] < p.from || s.times[i] > p.to) {
			continue
		}
		if allow != nil && !allow[s.cams[i]] {
			continue
		}
		colourScore := float32(1)
		if colours {
			var ok bool
			if colourScore, ok = p.colours.Match(&s.colours[i]); !ok {
				continue
			}
		}
		r := ref{si, int32(i)}
		switch {
		case p.example == nil:
			if !results.full() || colourScore >= results.worst().score {
				results.push(scored{ref: r, score: colourScore, colour: colourScore, time: s.times[i]})
			}
		case coded: // a row without a vector has a zero code and is dropped when ranked
			if d := int32(hamming(&p.code, s.codes[i*codeWords:])); d < thr {
				push(i, d)
			}
		case s.scales[i] == 0: // no appearance: not found by example
		default:
			score := dot(p.example, s.vecs[i*Dim:]) * s.scales[i]
			if score >= p.q.MinScore {
				results.push(scored{ref: r, score: score, colour: colourScore, time: s.times[i]})
			}
		}
	}
}
