package alerts_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
)

// A trigger with a key counts once, also for an engine started afresh on the same database (a center
// restarted, the bus delivering the same sighting again): nothing is raised, folded or sent twice.
func TestKeyedTriggerCountsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snowlight.db")
	f := newFixture(t, path, nil)
	ctx := t.Context()
	tr := f.hit(mia, camElm, f.clock.Now(), "s1", 0.71)
	tr.Key = "sighting/s1/watchlist_hit//a"
	a, created, err := f.eng.Raise(ctx, tr)
	require.NoError(t, err)
	require.True(t, created)

	again, created, err := f.eng.Raise(ctx, tr)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, a.ID, again.ID)
	assert.Equal(t, a.Version, again.Version, "the same trigger again changed the alert")

	restarted := newFixture(t, path, nil)
	again, created, err = restarted.eng.Raise(ctx, tr)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, 1, again.Triggers)

	// A new key folds into the alert as before, once.
	tr.Key, tr.At = "sighting/s1/watchlist_hit//b", tr.At.Add(5e9)
	for range 2 {
		a, created, err = restarted.eng.Raise(ctx, tr)
		require.NoError(t, err)
		assert.False(t, created)
	}
	assert.Equal(t, 2, a.Triggers)
	list, err := restarted.eng.Alerts(ctx, alerts.Query{})
	require.NoError(t, err)
	assert.Len(t, list, 1)
}
