package search_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"snowlight/search"
	"snowlight/search/searchbench"
)

// BenchmarkSearch: one query by example over 200 000 synthetic sightings, everything in scope
// (`snowlight bench search` measures ten million).
func BenchmarkSearch(b *testing.B) {
	g := searchbench.City{Sightings: 200_000, Seed: 1}.Generate()
	x, err := search.Build(context.Background(), search.Options{Dir: b.TempDir()}, g.Entries())
	require.NoError(b, err)
	defer x.Close()
	q := search.Query{Example: g.Entry(1234).Appearance}
	b.ResetTimer()
	for b.Loop() {
		_, err := x.Search(context.Background(), q)
		require.NoError(b, err)
	}
}
