package pipeline_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/colour"
	"snowlight/search"
	"snowlight/store"
	"snowlight/testvideos"
)

// searchTopK is how many hits a person looks through: the other sightings of the person searched by
// must be among them.
const searchTopK = 5

// checkSearch searches the replayed scene's sightings as an investigator would, through the index
// built from the store (appearance embeddings and clothing colours as the edge computed them):
//
//   - by example: from every sighting the truth can name, of a person seen on at least two passes,
//     the person's other passes must each have a sighting among the first searchTopK hits (pieces of
//     the query's own pass left out: they are the same walk); at least 90% of the queries pass, and
//     of those from people on no watch list;
//   - by description: "red top, dark trousers" finds the scene's person who wears them (rose) first.
//
// Search uses no identity: enrolled people count as unknown here.
func checkSearch(t *testing.T, db *store.DB, truth *testvideos.Truth, rep *scoreReport) {
	t.Helper()
	ctx := context.Background()
	ix, err := search.Build(ctx, search.Options{}, entries(db.SightingFeatures(ctx, time.Time{})))
	require.NoError(t, err)
	defer ix.Close()

	byID := map[string]*stored{}
	passes := map[string]map[int]bool{} // person -> passes with a stored sighting
	for _, s := range rep.sightings {
		byID[s.s.ID] = s
		if s.person != "" {
			if passes[s.person] == nil {
				passes[s.person] = map[int]bool{}
			}
			passes[s.person][s.pass] = true
		}
	}
	enrolled := map[string]bool{}
	for _, p := range truth.Persons {
		enrolled[p.ID] = p.Enrolled
	}
	var lines []string
	var queries, ok, unknownQ, unknownOK int
	for _, q := range rep.sightings {
		if q.person == "" || len(passes[q.person]) < 2 || len(q.s.AppearanceEmbedding) != search.Dim {
			continue
		}
		hits, err := ix.Search(ctx, search.Query{Example: q.s.AppearanceEmbedding, Limit: searchTopK + 8})
		require.NoError(t, err)
		want := map[int]bool{}
		for p := range passes[q.person] {
			if p != q.pass {
				want[p] = true
			}
		}
		var top []string
		found := map[int]bool{}
		for _, h := range hits {
			hs := byID[h.ID]
			if h.ID == q.s.ID || hs != nil && hs.person == q.person && hs.pass == q.pass {
				continue // the example, or another piece of its own pass
			}
			if len(top) == searchTopK {
				break
			}
			who := "?"
			if hs != nil && hs.person != "" {
				who = hs.person
				if hs.person == q.person {
					found[hs.pass] = true
				}
			}
			top = append(top, fmt.Sprintf("%s@%s %.2f", who, h.Camera, h.Score))
		}
		pass := len(found) == len(want)
		queries++
		if pass {
			ok++
		}
		if !enrolled[q.person] {
			unknownQ++
			if pass {
				unknownOK++
			}
		}
		lines = append(lines, fmt.Sprintf("%-6s %-4s %5.1fs  other passes %d/%d in top %d  %v  [%s]", q.person, q.s.Camera,
			q.s.Enter.Sub(truth.Start).Seconds(), len(found), len(want), searchTopK, pass, strings.Join(top, ", ")))
	}
	sort.Strings(lines)
	t.Logf("search by example, %d queries (%d from people on no watch list):\n%s", queries, unknownQ, strings.Join(lines, "\n"))
	t.Logf("search by example: %d/%d queries find every other pass in the top %d (%.0f%%); people on no watch list %d/%d",
		ok, queries, searchTopK, 100*float64(ok)/float64(max(queries, 1)), unknownOK, unknownQ)
	require.Positive(t, unknownQ, "no query from a person on no watch list")
	assert.GreaterOrEqual(t, float64(ok), 0.9*float64(queries), "search by example: queries finding the person's other sightings")
	assert.GreaterOrEqual(t, float64(unknownOK), 0.9*float64(unknownQ), "search by example from people on no watch list")

	q, err := colour.ParseQuery("red top, dark trousers")
	require.NoError(t, err)
	hits, err := ix.Search(ctx, search.Query{Colours: q, Limit: 10})
	require.NoError(t, err)
	var ranked []string
	for _, h := range hits {
		who := "?"
		if s := byID[h.ID]; s != nil && s.person != "" {
			who = s.person
		}
		ranked = append(ranked, fmt.Sprintf("%s@%s %.2f", who, h.Camera, h.Score))
	}
	t.Logf("\"red top, dark trousers\": %s", strings.Join(ranked, ", "))
	require.NotEmpty(t, hits, "nobody in a red top and dark trousers")
	first := byID[hits[0].ID]
	require.NotNil(t, first)
	assert.Equal(t, "rose", first.person, "the first hit of \"red top, dark trousers\"")
	assert.True(t, slices.ContainsFunc(truth.Persons, func(p testvideos.PersonTruth) bool { return p.ID == "rose" }))
}

// entries feeds the store's features walk to the index, as the server does.
func entries(fs iter.Seq2[store.Features, error]) iter.Seq2[search.Entry, error] {
	return func(yield func(search.Entry, error) bool) {
		for f, err := range fs {
			e := search.Entry{ID: f.ID, Camera: f.Camera, Time: f.Enter, Appearance: f.Appearance, Colours: f.Colours}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}
