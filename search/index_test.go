package search_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/colour"
	"snowlight/search"
	"snowlight/search/searchbench"
)

// build indexes a small synthetic city, in memory or in dir, with small segments so that every path
// (sealed coded, active coded, uncoded first segment) is exercised.
func build(t *testing.T, g *searchbench.Generated, dir string) *search.Index {
	t.Helper()
	x, err := search.Build(context.Background(), search.Options{Dir: dir, SegmentRows: 1000, Candidates: 500}, g.Entries())
	require.NoError(t, err)
	t.Cleanup(func() { x.Close() })
	return x
}

func ids(hits []search.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// exact ranks every entry by the float32 cosine: the reference the index must agree with.
func exact(g *searchbench.Generated, q []float32, keep func(search.Entry) bool, k int) []string {
	type s struct {
		id    string
		score float64
	}
	var all []s
	for i := range g.Len() {
		e := g.Entry(i)
		if keep != nil && !keep(e) {
			continue
		}
		var d, n, m float64
		for j := range q {
			d += float64(q[j]) * float64(e.Appearance[j])
			n += float64(q[j]) * float64(q[j])
			m += float64(e.Appearance[j]) * float64(e.Appearance[j])
		}
		all = append(all, s{e.ID, d / math.Sqrt(n*m)})
	}
	slices.SortFunc(all, func(a, b s) int {
		if a.score > b.score {
			return -1
		}
		return 1
	})
	out := make([]string, 0, k)
	for _, x := range all[:min(k, len(all))] {
		out = append(out, x.id)
	}
	return out
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

// TestSearchByExample: on 6000 sightings the index's top 10 agree with an exact float32 ranking, and
// the query's own sighting comes first with a score of about 1.
func TestSearchByExample(t *testing.T) {
	g := searchbench.City{Sightings: 6000, Cameras: 20, Seed: 3}.Generate()
	for _, dir := range []string{"", t.TempDir()} {
		x := build(t, g, dir)
		require.Equal(t, 6000, x.Len())
		found := 0
		for i := 0; i < g.Len(); i += 300 {
			e := g.Entry(i)
			hits, err := x.Search(context.Background(), search.Query{Example: e.Appearance, Limit: 10})
			require.NoError(t, err)
			require.Len(t, hits, 10)
			assert.Equal(t, e.ID, hits[0].ID, "dir %q: the query's own sighting first", dir)
			assert.InDelta(t, 1, hits[0].Score, 0.01)
			assert.Equal(t, e.Camera, hits[0].Camera)
			assert.True(t, e.Time.Equal(hits[0].Time))
			for j := 1; j < len(hits); j++ {
				assert.LessOrEqual(t, hits[j].Score, hits[j-1].Score)
			}
			found += overlap(ids(hits), exact(g, e.Appearance, nil, 10))
		}
		assert.GreaterOrEqual(t, found, 195, "dir %q: recall@10 of 20 queries", dir) // of 200
	}
}

// TestSearchFilters: the window, the cameras (nil: all; empty: none) and colours restrict what is found,
// and combine with the example.
func TestSearchFilters(t *testing.T) {
	g := searchbench.City{Sightings: 5000, Cameras: 10, Seed: 4}.Generate()
	x := build(t, g, "")
	ctx := context.Background()
	q := g.Entry(2500)
	from, to := q.Time.Add(-12*time.Hour), q.Time.Add(12*time.Hour)
	cams := []string{"cam-1", "cam-2", "cam-3"}
	red := colour.Query{Upper: colour.Term{Names: 1 << colour.Red}}
	keep := func(e search.Entry) bool {
		_, ok := red.Match(e.Colours)
		return !e.Time.Before(from) && !e.Time.After(to) && slices.Contains(cams, e.Camera) && ok
	}
	hits, err := x.Search(ctx, search.Query{Example: q.Appearance, From: from, To: to, Cameras: cams, Colours: red, Limit: 10})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	for _, h := range hits {
		assert.Contains(t, cams, h.Camera)
		assert.False(t, h.Time.Before(from) || h.Time.After(to))
		assert.GreaterOrEqual(t, h.Colour, float32(0.09))
	}
	assert.GreaterOrEqual(t, overlap(ids(hits), exact(g, q.Appearance, keep, 10)), 9)

	none, err := x.Search(ctx, search.Query{Example: q.Appearance, Cameras: []string{}})
	require.NoError(t, err)
	assert.Empty(t, none, "an empty scope finds nothing")

	// By description alone: every hit wears red on top, the best shares first.
	hits, err = x.Search(ctx, search.Query{Colours: red, Limit: 50})
	require.NoError(t, err)
	require.Len(t, hits, 50)
	for i, h := range hits {
		assert.Equal(t, h.Score, h.Colour)
		if i > 0 {
			assert.LessOrEqual(t, h.Score, hits[i-1].Score)
		}
	}

	for name, bad := range map[string]search.Query{
		"short example":  {Example: make([]float32, 10)},
		"zero example":   {Example: make([]float32, search.Dim)},
		"window reverse": {From: to, To: from},
		"limit":          {Limit: search.MaxLimit + 1},
	} {
		_, err := x.Search(ctx, bad)
		assert.ErrorIs(t, err, search.ErrInvalid, name)
	}
}

// TestPersistence: a closed index reopens with its sealed segments and the unsealed entries of its log;
// a torn last log record (a crash mid-write) loses that entry only; a damaged segment is an error that
// names the file.
func TestPersistence(t *testing.T) {
	g := searchbench.City{Sightings: 2500, Seed: 5}.Generate()
	dir := t.TempDir()
	x, err := search.Open(search.Options{Dir: dir, SegmentRows: 1000})
	require.NoError(t, err)
	for i := range g.Len() {
		require.NoError(t, x.Add(g.Entry(i)))
	}
	q := search.Query{Example: g.Entry(2400).Appearance, Limit: 5}
	before, err := x.Search(context.Background(), q)
	require.NoError(t, err)
	require.NoError(t, x.Close())
	_, err = x.Search(context.Background(), q)
	assert.ErrorIs(t, err, search.ErrClosed)

	x, err = search.Open(search.Options{Dir: dir, SegmentRows: 1000})
	require.NoError(t, err)
	assert.Equal(t, 2500, x.Len())
	after, err := x.Search(context.Background(), q)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	require.NoError(t, x.Close())

	wal := filepath.Join(dir, "active.wal")
	st, err := os.Stat(wal)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(wal, st.Size()-3))
	x, err = search.Open(search.Options{Dir: dir, SegmentRows: 1000})
	require.NoError(t, err)
	assert.Equal(t, 2499, x.Len())
	require.NoError(t, x.Close())

	seg := filepath.Join(dir, "seg-00000002.idx")
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	data[len(data)/2] ^= 1
	require.NoError(t, os.WriteFile(seg, data, 0o600))
	_, err = search.Open(search.Options{Dir: dir, SegmentRows: 1000})
	require.Error(t, err)
	assert.Contains(t, err.Error(), seg)
}

// TestDelete: deleted entries are never found again, and their ids and vectors are gone from every
// file of the index, not marked; deleting a whole segment removes its file.
func TestDelete(t *testing.T) {
	g := searchbench.City{Sightings: 3000, Seed: 6}.Generate()
	dir := t.TempDir()
	x := build(t, g, dir)
	ctx := context.Background()
	var gone []string
	for i := 0; i < 1000; i++ { // the whole first segment
		gone = append(gone, g.Entry(i).ID)
	}
	gone = append(gone, g.Entry(1500).ID, g.Entry(2999).ID, "no-such-sighting")
	n, err := x.Delete(ctx, gone)
	require.NoError(t, err)
	assert.Equal(t, 1002, n)
	assert.Equal(t, 1998, x.Len())
	for _, i := range []int{0, 500, 1500, 2999} {
		hits, err := x.Search(ctx, search.Query{Example: g.Entry(i).Appearance, Limit: 50})
		require.NoError(t, err)
		assert.NotContains(t, ids(hits), g.Entry(i).ID)
	}
	_, err = os.Stat(filepath.Join(dir, "seg-00000001.idx"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, []byte(g.Entry(1500).ID+"s")), f) // ids are packed: "s1500" then the next
		assert.False(t, bytes.Contains(data, []byte(g.Entry(2999).ID)), f)
	}
	require.NoError(t, x.Close())
	x, err = search.Open(search.Options{Dir: dir, SegmentRows: 1000})
	require.NoError(t, err)
	defer x.Close()
	assert.Equal(t, 1998, x.Len())
}

// TestConcurrent: queries, adds and deletes from several goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	g := searchbench.City{Sightings: 3000, Seed: 7}.Generate()
	x, err := search.Open(search.Options{Dir: t.TempDir(), SegmentRows: 500})
	require.NoError(t, err)
	defer x.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range g.Len() {
			assert.NoError(t, x.Add(g.Entry(i)))
		}
	})
	for range 2 {
		wg.Go(func() {
			for i := 0; i < 60; i++ {
				_, err := x.Search(ctx, search.Query{Example: g.Entry(i * 40).Appearance})
				assert.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 20; i++ {
			_, err := x.Delete(ctx, []string{g.Entry(i * 100).ID})
			assert.NoError(t, err)
		}
	})
	wg.Wait()
	assert.GreaterOrEqual(t, x.Len(), 2980)
}

func TestAddRejects(t *testing.T) {
	x, err := search.Open(search.Options{})
	require.NoError(t, err)
	now := time.Now()
	for name, e := range map[string]search.Entry{
		"no id":        {Camera: "c", Time: now},
		"no camera":    {ID: "a", Time: now},
		"no time":      {ID: "a", Camera: "c"},
		"short vector": {ID: "a", Camera: "c", Time: now, Appearance: []float32{1}},
		"zero vector":  {ID: "a", Camera: "c", Time: now, Appearance: make([]float32, search.Dim)},
	} {
		assert.Error(t, x.Add(e), name)
	}
	assert.Equal(t, 0, x.Len())
}
