// Package search finds sightings by example (the appearance embeddings closest to a query's) and by
// description (clothing colours), within a time window and the caller's cameras, over tens of millions
// of sightings on a small machine.
//
// It is an exact-rerank scan, not a graph index (docs/ARCHITECTURE.md argues the choice with
// measurements): entries live in time-ordered segments stored by column; a query skips the segments
// outside its window, tests every row of the rest for time, camera and colours, ranks the survivors by
// the Hamming distance of 512-bit codes (the embedding's signs around the mean), and ranks the best
// Candidates of those exactly with int8 copies of the embeddings. Segments are files mapped read-only;
// deleting entries rewrites their segments, so retention leaves no copy behind.
package search

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"snowlight/colour"
)

// Entry is one sighting as the index keeps it.
type Entry struct {
	ID     string
	Camera string
	// Time is when the sighting began (tracks.Sighting.Enter); a query's window is tested against it.
	Time time.Time
	// Appearance is the sighting's OSNet embedding (tracks.Sighting.AppearanceEmbedding, Dim values);
	// nil when none was computed: the entry is then found by description only.
	Appearance []float32
	// Colours is what the sighting's body crop wears (the zero value: unknown).
	Colours colour.Description
}

// Options configures an index.
type Options struct {
	// Dir holds the segment files and the log; "" keeps everything in memory (tests).
	Dir string
	// SegmentRows is how many entries a segment holds before it is sealed (default 65536: about 40 MB
	// of file, a tenth of a second to write).
	SegmentRows int
	// Candidates is how many rows, best by code distance, a query ranks exactly (default 4000;
	// docs/BENCHMARKS.md measures recall against it).
	Candidates int
	// Workers scan segments in parallel (default GOMAXPROCS).
	Workers int
}

func (o Options) withDefaults() Options {
	if o.SegmentRows <= 0 {
		o.SegmentRows = 65536
	}
	if o.Candidates <= 0 {
		o.Candidates = 4000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// minCentre is how many vectors the first sealed segment needs for its mean to become the index's
// centre; until then segments are scanned exactly.
const minCentre = 256

// Index is the search index. Safe for concurrent use: queries share a read lock; Add, Delete and
// sealing a full segment take the write lock (a seal writes one segment, a tenth of a second).
type Index struct {
	opts Options

	mu     sync.RWMutex
	centre []float32 // nil until the first seal with minCentre vectors
	sealed []*segment
	active *segment
	log    *wal // nil in memory
	closed bool
}

// Open opens the index in opts.Dir (created if missing), mapping its segments and replaying the log
// of the unsealed entries. A damaged segment is an error naming the file: rebuild the index from the
// store (Build).
func Open(opts Options) (*Index, error) {
	opts = opts.withDefaults()
	x := &Index{opts: opts}
	if opts.Dir == "" {
		x.active = newSegment(1)
		return x, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open search index: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(opts.Dir, "seg-*.idx"))
	if err != nil {
		return nil, fmt.Errorf("open search index: %w", err)
	}
	sort.Strings(names)
	next := uint64(1)
	for _, n := range names {
		s, centre, err := openSegment(n)
		if err != nil {
			x.closeSegments()
			return nil, fmt.Errorf("open search index: %w", err)
		}
		x.sealed = append(x.sealed, s)
		next = max(next, s.seq+1)
		switch {
		case centre == nil:
		case x.centre == nil:
			x.centre = centre
		case !slices.Equal(centre, x.centre):
			x.closeSegments()
			return nil, fmt.Errorf("open search index: %s was coded around another centre: rebuild the index", n)
		}
	}
	seq, rows, err := readWAL(opts.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		seq, rows = next, nil
	case err != nil:
		x.closeSegments()
		return nil, fmt.Errorf("open search index: %w", err)
	case seq < next: // sealed before the crash that kept the log
		seq, rows = next, nil
	}
	x.active = newSegment(seq)
	for _, r := range rows {
		x.active.appendRow(r, x.codeOf(r))
	}
	if x.log, err = createWAL(opts.Dir, seq, rows); err != nil {
		x.closeSegments()
		return nil, fmt.Errorf("open search index: %w", err)
	}
	return x, nil
}

// Build makes a new index in opts.Dir from entries (the store's sightings, oldest first), replacing
// whatever index was there. Entries go straight into sealed segments, without the log.
func Build(ctx context.Context, opts Options, entries iter.Seq2[Entry, error]) (*Index, error) {
	opts = opts.withDefaults()
	if opts.Dir != "" {
		if err := removeIndexFiles(opts.Dir); err != nil {
			return nil, fmt.Errorf("build search index: %w", err)
		}
	}
	x, err := Open(opts)
	if err != nil {
		return nil, err
	}
	n := 0
	for e, err := range entries {
		if err == nil {
			err = x.add(e, false)
		}
		if err != nil {
			x.Close()
			return nil, fmt.Errorf("build search index: entry %d: %w", n, err)
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			x.Close()
			return nil, fmt.Errorf("build search index: %w", ctx.Err())
		}
	}
	if x.log != nil { // the last, unsealed rows
		x.log.close()
		if x.log, err = createWAL(opts.Dir, x.active.seq, x.activeRows()); err != nil {
			x.Close()
			return nil, fmt.Errorf("build search index: %w", err)
		}
	}
	return x, nil
}

func removeIndexFiles(dir string) error {
	for _, pat := range []string{"seg-*.idx", "seg-*.idx.tmp", walName, walName + ".tmp"} {
		names, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := os.Remove(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("search index closed")

// Add indexes one entry. Add each sighting once, when final; to replace one, Delete it first.
func (x *Index) Add(e Entry) error { return x.add(e, true) }

func (x *Index) add(e Entry, logged bool) error {
	r, err := toRow(e)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	if logged && x.log != nil {
		if err := x.log.append(r); err != nil {
			return err
		}
	}
	x.active.appendRow(r, x.codeOf(r))
	if x.active.rows() >= x.opts.SegmentRows {
		return x.seal()
	}
	return nil
}

func toRow(e Entry) (row, error) {
	switch {
	case e.ID == "" || len(e.ID) > 1024:
		return row{}, fmt.Errorf("index sighting: id of %d bytes", len(e.ID))
	case e.Camera == "" || len(e.Camera) > 1024:
		return row{}, fmt.Errorf("index sighting %s: camera name of %d bytes", e.ID, len(e.Camera))
	case e.Time.IsZero():
		return row{}, fmt.Errorf("index sighting %s: no time", e.ID)
	}
	r := row{id: e.ID, camera: e.Camera, time: e.Time.UnixMilli(), colours: e.Colours}
	if e.Appearance != nil {
		v, ok := normalised(e.Appearance)
		if !ok {
			return row{}, fmt.Errorf("index sighting %s: appearance must be %d finite values, not all zero (got %d)", e.ID, Dim, len(e.Appearance))
		}
		r.vec = make([]int8, Dim)
		r.scale = quantise(r.vec, v)
	}
	return r, nil
}

// codeOf is r's code around the index's centre, nil without one or without a vector (uncoded rows in
// a coded segment get a zero code; their scale 0 keeps them out of appearance queries).
func (x *Index) codeOf(r row) []uint64 {
	if x.centre == nil {
		return nil
	}
	code := make([]uint64, codeWords)
	if r.scale != 0 {
		encodeInt8(code, r.vec, r.scale, x.centre)
	}
	return code
}

// seal turns the full active segment into a sealed one (written and mapped when the index has a
// directory) and starts the next. Called with the write lock held.
func (x *Index) seal() error {
	a := x.active
	if x.centre == nil {
		if c := meanOf(a); c != nil {
			x.centre = c
			a = a.without(func(int) bool { return false }, c) // the rows coded around their own mean
		}
	}
	next := newSegment(a.seq + 1)
	if x.opts.Dir == "" {
		a.camNum = nil
		x.sealed = append(x.sealed, a)
		x.active = next
		return nil
	}
	path, err := a.write(x.opts.Dir, centreIf(a, x.centre))
	if err != nil {
		return err
	}
	s, _, err := openSegment(path)
	if err != nil {
		return err
	}
	log, err := createWAL(x.opts.Dir, next.seq, nil)
	if err != nil {
		s.close()
		return err
	}
	if x.log != nil {
		x.log.close()
	}
	x.sealed = append(x.sealed, s)
	x.active, x.log = next, log
	return nil
}

// centreIf is the centre a segment's codes were made with: nil when it has none.
func centreIf(s *segment, centre []float32) []float32 {
	if s.codes == nil {
		return nil
	}
	return centre
}

// meanOf is the mean of a segment's vectors, nil when it has fewer than minCentre.
func meanOf(s *segment) []float32 {
	sum := make([]float64, Dim)
	n := 0
	for i, sc := range s.scales {
		if sc == 0 {
			continue
		}
		for j, q := range s.vecs[i*Dim : (i+1)*Dim] {
			sum[j] += float64(q) * float64(sc)
		}
		n++
	}
	if n < minCentre {
		return nil
	}
	c := make([]float32, Dim)
	for j := range c {
		c[j] = float32(sum[j] / float64(n))
	}
	return c
}

func (x *Index) activeRows() []row {
	rows := make([]row, x.active.rows())
	for i := range rows {
		rows[i] = x.active.rowAt(i)
	}
	return rows
}

// Delete removes the entries with these ids and reports how many there were. Sealed segments holding
// any are rewritten without them (the old file is replaced, not patched), so what retention deletes is
// gone from the disk, not marked.
func (x *Index) Delete(ctx context.Context, ids []string) (int, error) {
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return 0, ErrClosed
	}
	deleted := 0
	marked := func(s *segment) ([]bool, int) {
		var mark []bool
		n := 0
		for i := range s.rows() {
			if drop[string(s.idBytes(i))] {
				if mark == nil {
					mark = make([]bool, s.rows())
				}
				mark[i] = true
				n++
			}
		}
		return mark, n
	}
	kept := make([]*segment, 0, len(x.sealed))
	for i, s := range x.sealed {
		if err := ctx.Err(); err != nil {
			x.sealed = append(kept, x.sealed[i:]...)
			return deleted, fmt.Errorf("delete from search index: %w", err)
		}
		mark, n := marked(s)
		if n == 0 {
			kept = append(kept, s)
			continue
		}
		r, err := x.replace(s, s.without(func(i int) bool { return mark[i] }, centreIf(s, x.centre)))
		if err != nil {
			x.sealed = append(append(kept, s), x.sealed[i+1:]...)
			return deleted, fmt.Errorf("delete from search index: %w", err)
		}
		deleted += n
		if r != nil {
			kept = append(kept, r)
		}
	}
	x.sealed = kept
	mark, n := marked(x.active)
	if n == 0 {
		return deleted, nil
	}
	x.active = x.active.without(func(i int) bool { return mark[i] }, centreIf(x.active, x.centre))
	deleted += n
	if x.log != nil {
		x.log.close()
		log, err := createWAL(x.opts.Dir, x.active.seq, x.activeRows())
		if err != nil {
			x.log = nil
			return deleted, fmt.Errorf("delete from search index: %w", err)
		}
		x.log = log
	}
	return deleted, nil
}

// replace puts n, a copy of sealed segment s without some rows, in s's place: in memory, or written
// over s's file (renamed into place, so the old bytes go with the old inode) and mapped. An empty n
// removes the file and returns nil.
func (x *Index) replace(s, n *segment) (*segment, error) {
	n.camNum = nil
	if x.opts.Dir == "" {
		if n.rows() == 0 {
			return nil, nil
		}
		return n, nil
	}
	if n.rows() == 0 {
		if err := os.Remove(s.path); err != nil {
			return nil, err
		}
		return nil, errors.Join(s.close(), syncDir(x.opts.Dir))
	}
	path, err := n.write(x.opts.Dir, centreIf(n, x.centre))
	if err != nil {
		return nil, err
	}
	r, _, err := openSegment(path)
	if err != nil {
		return nil, err
	}
	return r, s.close()
}

// Len is the number of entries.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := x.active.rows()
	for _, s := range x.sealed {
		n += s.rows()
	}
	return n
}

// Stats describes the index's size.
type Stats struct {
	Entries  int `json:"entries"`
	Segments int `json:"segments"`
	// ScanBytes is what a query over everything reads from every row (times, cameras, codes); FileBytes
	// the mapped segment files (mostly the int8 vectors, read for candidates only).
	ScanBytes int64 `json:"scan_bytes"`
	FileBytes int64 `json:"file_bytes"`
}

// Stats reports the index's size.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	st := Stats{Segments: len(x.sealed) + 1}
	for _, s := range append([]*segment{x.active}, x.sealed...) {
		st.Entries += s.rows()
		st.ScanBytes += int64(len(s.times))*8 + int64(len(s.cams))*2 + int64(len(s.codes))*8
		st.FileBytes += int64(len(s.mapping))
	}
	return st
}

// Close syncs the log and unmaps the segments.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	var errs []error
	if x.log != nil {
		errs = append(errs, x.log.close())
	}
	errs = append(errs, x.closeSegments())
	return errors.Join(errs...)
}

func (x *Index) closeSegments() error {
	var errs []error
	for _, s := range x.sealed {
		errs = append(errs, s.close())
	}
	x.sealed = nil
	return errors.Join(errs...)
}
