package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/colour"
)

// TestSightingFeatures: the colours a sighting was saved with come back, and the features walk yields
// final sightings only, by enter time from since, across pages, with what the index needs.
func TestSightingFeatures(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	red := colour.Description{Upper: colour.Region{Dark: 40}}
	red.Upper.Shares[colour.Red] = 80
	a := sighting("a", "A", 10*time.Second, 20*time.Second, "")
	a.Colours = red
	interim := sighting("i", "B", 5*time.Second, 6*time.Second, "")
	interim.Final = false
	c := sighting("c", "C", 30*time.Second, 31*time.Second, "")
	c.AppearanceEmbedding = nil
	mustSave(t, db, a, interim, c, sighting("b", "B", 10*time.Second, 12*time.Second, ""),
		sighting("old", "A", -time.Hour, -time.Hour+time.Second, ""))

	got, err := db.Sighting(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, red, got.Colours)
	got, err = db.Sighting(ctx, "b")
	require.NoError(t, err)
	assert.True(t, got.Colours.IsZero(), "saved without colours")

	for _, page := range []int{1, 2, 2000} {
		var ids []string
		for f, err := range db.sightingFeatures(ctx, st0, page) {
			require.NoError(t, err)
			ids = append(ids, f.ID)
			switch f.ID {
			case "a":
				assert.Equal(t, red, f.Colours)
				assert.Equal(t, "A", f.Camera)
				assert.True(t, f.Enter.Equal(st0.Add(10*time.Second)))
				assert.Equal(t, []float32{1, 0, 0}, f.Appearance)
			case "c":
				assert.Nil(t, f.Appearance)
			}
		}
		// a and b enter together: saved order breaks the tie.
		assert.Equal(t, []string{"a", "b", "c"}, ids, "page of %d", page)
	}
	n, err := db.FinalSightings(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
}
