package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrationsApplyOnceAndRefuseNewerDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	v1 := component{"demo", []string{`CREATE TABLE demo (id INTEGER PRIMARY KEY)`}}
	v2 := component{"demo", append(v1.migrations, `ALTER TABLE demo ADD COLUMN name TEXT`)}
	for _, c := range []component{v1, v1, v2, v2} { // applying twice must be a no-op
		require.NoError(t, db.migrate(ctx, []component{c}))
	}
	_, err = db.W.Exec(`INSERT INTO demo(id, name) VALUES (1, 'x')`)
	require.NoError(t, err)
	assert.ErrorContains(t, db.migrate(ctx, []component{v1}), "newer database", "an older binary on a newer database")
	var n int
	require.NoError(t, db.R.QueryRow(`SELECT count(*) FROM demo`).Scan(&n))
	assert.Equal(t, 1, n, "rows the reader sees")
}
