package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrationsApplyOnceAndRefuseNewerDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := component{"demo", []string{`CREATE TABLE demo (id INTEGER PRIMARY KEY)`}}
	v2 := component{"demo", append(v1.migrations, `ALTER TABLE demo ADD COLUMN name TEXT`)}
	for _, c := range []component{v1, v1, v2, v2} { // applying twice must be a no-op
		if err := db.migrate(ctx, []component{c}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.W.Exec(`INSERT INTO demo(id, name) VALUES (1, 'x')`); err != nil {
		t.Fatal(err)
	}
	err = db.migrate(ctx, []component{v1})
	if err == nil || !strings.Contains(err.Error(), "newer database") {
		t.Fatalf("older binary on newer database: %v", err)
	}
	var n int
	if err := db.R.QueryRow(`SELECT count(*) FROM demo`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader sees %d rows (%v)", n, err)
	}
	db.Close()
}
