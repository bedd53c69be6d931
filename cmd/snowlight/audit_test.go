package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/store"
)

// TestAuditVerifyAgainstAnchors: commands seal their entries with the audit key, refuse to act without
// it once the chain is keyed, and `audit verify` with the object store finds entries removed from the
// end and entries rewritten with recomputed unkeyed hashes, which the chain alone does not show.
func TestAuditVerifyAgainstAnchors(t *testing.T) {
	key := strings.Repeat("0123456789abcdef", 3)
	for _, c := range []struct {
		name   string
		tamper []string
		want   string
	}{
		{"newest entries deleted", []string{`DELETE FROM audit_log WHERE id > 1`}, "BROKEN at entry 2: the chain ends at entry 1 but an anchor at"},
		{"entry rewritten and rehashed", nil, "BROKEN at entry 2: it has no key although the entry before it has"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TEST_AUDIT_KEY", key)
			dir := t.TempDir()
			db, objects := filepath.Join(dir, "s.db"), filepath.Join(dir, "objects")
			withKey := []string{"--audit-key", "env:TEST_AUDIT_KEY"}
			for _, name := range []string{"root", "olga", "ivan"} {
				_, errs, code := cli(t, append([]string{"user", "add", "--db", db, "--name", name, "--role", "admin"}, withKey...)...)
				require.Zero(t, code, errs)
			}
			// Without the key nothing happens, not even the action: it could not be recorded.
			_, errs, code := cli(t, "user", "add", "--db", db, "--name", "eve", "--role", "admin")
			assert.Equal(t, 1, code)
			assert.Contains(t, errs, "give the current audit key")
			out, _, _ := cli(t, "user", "list", "--db", db)
			assert.NotContains(t, out, "eve")

			anchorChain(t, db, objects, key) // as serve does every minute and at shutdown
			verify := append([]string{"audit", "verify", "--db", db, "--objects", objects}, withKey...)
			out, errs, code = cli(t, verify...)
			require.Zero(t, code, errs)
			assert.Contains(t, out, "audit chain intact: 3 entries (0 sealed without a key)")
			assert.Contains(t, out, "matches 1 anchors, the newest of entry 3")
			out, _, code = cli(t, "audit", "verify", "--db", db, "--objects", objects)
			assert.Equal(t, 1, code, "verified a keyed chain without the key")
			assert.Contains(t, out, "which was not given")

			tamper(t, db, c.tamper)
			out, errs, code = cli(t, verify...)
			assert.Equal(t, 1, code, errs)
			assert.Contains(t, out, c.want)
		})
	}
}

func anchorChain(t *testing.T, dbPath, objects, key string) {
	t.Helper()
	db, err := store.Open(context.Background(), dbPath)
	require.NoError(t, err)
	defer db.Close()
	dir, err := objstore.OpenDir(objects, objstore.DirOptions{})
	require.NoError(t, err)
	keys, err := audit.NewKeyring(key)
	require.NoError(t, err)
	_, wrote, err := audit.NewLog(db, audit.Options{Keys: keys, Anchors: objstore.Records{Store: dir, Prefix: audit.AnchorPrefix}}).Anchor(context.Background())
	require.NoError(t, err)
	require.True(t, wrote)
}

// tamper edits the database out of band: the statements given, or else entry 2 rewritten with every
// hash from it on recomputed with plain SHA-256.
func tamper(t *testing.T, dbPath string, stmts []string) {
	t.Helper()
	db, err := store.Open(context.Background(), dbPath)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range append([]string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}, stmts...) {
		_, err := db.W.Exec(q)
		require.NoError(t, err)
	}
	if stmts != nil {
		return
	}
	es, err := audit.New(db, nil).List(context.Background(), audit.Filter{})
	require.NoError(t, err)
	for i := 1; i < len(es); i++ {
		e := es[i]
		e.Target, e.Key, e.Prev = "someone-else", "", es[i-1].Hash
		e.Hash = e.ComputeHash()
		es[i] = e
		_, err := db.W.Exec(`UPDATE audit_log SET target = ?, key_id = '', prev_hash = ?, hash = ? WHERE id = ?`, e.Target, e.Prev, e.Hash, e.ID)
		require.NoError(t, err)
	}
}
