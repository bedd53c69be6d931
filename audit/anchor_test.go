package audit_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/store"
)

func key(t *testing.T, c byte) audit.Key {
	t.Helper()
	k, err := audit.NewKey(bytes.Repeat([]byte{c}, audit.MinKeyLen))
	require.NoError(t, err)
	return k
}

// chain is a database with a Log whose keys and anchor store (a local object directory) tests choose.
type chain struct {
	db      *store.DB
	anchors objstore.Records
}

func newChain(t *testing.T) *chain {
	t.Helper()
	_, db := newLog(t)
	dir, err := objstore.OpenDir(t.TempDir(), objstore.DirOptions{})
	require.NoError(t, err)
	return &chain{db: db, anchors: objstore.Records{Store: dir, Prefix: "audit/anchors/"}}
}

func (c *chain) log(keys audit.Keyring) *audit.Log {
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	n := 0
	return audit.NewLog(c.db, audit.Options{Keys: keys, Anchors: c.anchors, Now: func() time.Time {
		n++
		return base.Add(time.Duration(n) * time.Second)
	}})
}

// untrigger drops the append-only triggers, as someone editing the database file out of band would.
func (c *chain) untrigger(t *testing.T) {
	t.Helper()
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`} {
		_, err := c.db.W.Exec(q)
		require.NoError(t, err)
	}
}

// rewriteUnkeyed changes entry from's reason and recomputes every hash from there on with plain SHA-256,
// the algorithm anyone can run, dropping the keys.
func (c *chain) rewriteUnkeyed(t *testing.T, from int64) {
	t.Helper()
	c.untrigger(t)
	es, err := audit.New(c.db, nil).List(context.Background(), audit.Filter{Limit: audit.MaxPage})
	require.NoError(t, err)
	prev := ""
	for _, e := range es {
		if e.ID == from {
			e.Reason = "routine check"
		}
		if e.ID >= from {
			e.Key, e.Prev = "", prev
			e.Hash = e.ComputeHash()
			_, err := c.db.W.Exec(`UPDATE audit_log SET reason = ?, key_id = '', prev_hash = ?, hash = ? WHERE id = ?`, e.Reason, e.Prev, e.Hash, e.ID)
			require.NoError(t, err)
		}
		prev = e.Hash
	}
}

func verify(t *testing.T, l *audit.Log) audit.Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), audit.Head{})
	require.NoError(t, err)
	return rep
}

func anchor(t *testing.T, l *audit.Log) audit.Anchor {
	t.Helper()
	a, wrote, err := l.Anchor(context.Background())
	require.NoError(t, err)
	require.True(t, wrote)
	return a
}

// TestAnchorsDetectTruncationAndRewriting tampers with a keyed, anchored chain out of band and checks
// that Verify names what happened.
func TestAnchorsDetectTruncationAndRewriting(t *testing.T) {
	keys := audit.Keyring{Current: key(t, 'a')}
	for _, c := range []struct {
		name   string
		keys   audit.Keyring // of the Log that made the chain; Verify uses the same
		tamper func(t *testing.T, c *chain)
		broken int64
		want   string
	}{
		{"newest entries deleted", keys, func(t *testing.T, c *chain) {
			c.untrigger(t)
			_, err := c.db.W.Exec(`DELETE FROM audit_log WHERE id > 7`)
			require.NoError(t, err)
		}, 8, "the chain ends at entry 7 but an anchor at 2025-03-01T08:00:12Z says entry 10 existed: entries were removed"},
		{"every entry deleted", keys, func(t *testing.T, c *chain) {
			c.untrigger(t)
			_, err := c.db.W.Exec(`DELETE FROM audit_log`)
			require.NoError(t, err)
		}, 1, "says entry 10 existed"},
		{"one entry rewritten, the rest rehashed without the key", keys, func(t *testing.T, c *chain) {
			c.rewriteUnkeyed(t, 5)
		}, 5, "it has no key although the entry before it has: it was rewritten without the key"},
		{"the whole chain rewritten without keys", keys, func(t *testing.T, c *chain) {
			c.rewriteUnkeyed(t, 1)
		}, 5, "its hash differs from the one anchored at 2025-03-01T08:00:06Z: history was rewritten"},
		{"one entry rewritten, hashed with SHA-256 under its key id", keys, func(t *testing.T, c *chain) {
			c.untrigger(t)
			es, err := audit.New(c.db, nil).List(context.Background(), audit.Filter{After: 4, Limit: 1})
			require.NoError(t, err)
			e := es[0]
			e.Reason = "routine check"
			_, err = c.db.W.Exec(`UPDATE audit_log SET reason = ?, hash = ? WHERE id = 5`, e.Reason, e.ComputeHash())
			require.NoError(t, err)
		}, 5, "its content does not match its seal"},
		// A chain made before keys existed is protected by its anchors alone.
		{"unkeyed chain rewritten and rehashed", audit.Keyring{}, func(t *testing.T, c *chain) {
			c.rewriteUnkeyed(t, 5)
		}, 5, "its hash differs from the one anchored"},
		{"unkeyed chain cut short", audit.Keyring{}, func(t *testing.T, c *chain) {
			c.untrigger(t)
			_, err := c.db.W.Exec(`DELETE FROM audit_log WHERE id > 9`)
			require.NoError(t, err)
		}, 10, "entries were removed"},
		{"anchor forged", keys, func(t *testing.T, c *chain) {
			a := audit.Anchor{Head: audit.Head{ID: 11, Hash: string(bytes.Repeat([]byte("e"), 64))}, Time: time.Unix(1, 0),
				Signer: keys.Current.ID(), MAC: string(bytes.Repeat([]byte("f"), 64))}
			require.NoError(t, c.anchors.Create(context.Background(), a.Name(), []byte("{}")))
		}, 11, "does not carry a valid signature: it was not written by snowlight"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := newChain(t)
			l := ch.log(c.keys)
			fill(t, l, 5)
			anchor(t, l)
			fill(t, l, 5)
			a := anchor(t, l)
			require.EqualValues(t, 10, a.ID)
			rep := verify(t, l)
			require.True(t, rep.OK(), "%+v", rep)
			assert.Equal(t, 2, rep.Anchors)

			c.tamper(t, ch)
			rep = verify(t, l)
			assert.False(t, rep.OK())
			assert.Equal(t, c.broken, rep.Broken)
			assert.Contains(t, rep.Problem, c.want)
		})
	}
}

// TestKeyMigrationAndRotation: an unkeyed chain continues keyed, the key is rotated, and neither an old
// process without the key nor a retired key can append afterwards.
func TestKeyMigrationAndRotation(t *testing.T) {
	ch := newChain(t)
	ctx := context.Background()
	a, b := key(t, 'a'), key(t, 'b')
	fill(t, ch.log(audit.Keyring{}), 3) // before keys were configured
	fill(t, ch.log(audit.Keyring{Current: a}), 3)
	rotated := ch.log(audit.Keyring{Current: b, Previous: []audit.Key{a}})
	require.NoError(t, rotated.CheckKeys(ctx))
	fill(t, rotated, 3)
	rep := verify(t, rotated)
	require.True(t, rep.OK(), "%+v", rep)
	assert.EqualValues(t, 9, rep.Checked)
	assert.EqualValues(t, 3, rep.Unkeyed)
	assert.Equal(t, b.ID(), rep.Head.Key)

	for name, l := range map[string]*audit.Log{
		"no key":      ch.log(audit.Keyring{}),
		"retired key": ch.log(audit.Keyring{Current: a}),
	} {
		_, err := l.Append(ctx, audit.Record{Actor: "x", Action: "y"})
		assert.ErrorContains(t, err, "give the current audit key", name)
		assert.ErrorContains(t, l.CheckKeys(ctx), "give the current audit key", name)
	}
	rep = verify(t, ch.log(audit.Keyring{Current: b}))
	assert.Equal(t, int64(4), rep.Broken, "verified without the previous key: %+v", rep)
	assert.Contains(t, rep.Problem, "which was not given")

	// Someone holding the retired key a (leaked, say) seals an entry with it after b's.
	forger := ch.log(audit.Keyring{Current: a, Previous: []audit.Key{b}})
	fill(t, forger, 1)
	rep = verify(t, rotated)
	assert.Equal(t, int64(10), rep.Broken)
	assert.Contains(t, rep.Problem, "a retired key was used")
}

func TestAnchorOnlyWhenTheHeadMoved(t *testing.T) {
	ch := newChain(t)
	l := ch.log(audit.Keyring{Current: key(t, 'a')})
	_, wrote, err := l.Anchor(context.Background())
	require.NoError(t, err)
	assert.False(t, wrote, "anchored an empty chain")
	fill(t, l, 2)
	anchor(t, l)
	_, wrote, err = l.Anchor(context.Background())
	require.NoError(t, err)
	assert.False(t, wrote, "anchored the same head twice")
	fill(t, l, 1)
	assert.EqualValues(t, 3, anchor(t, l).ID)
	assert.Equal(t, 2, verify(t, l).Anchors)
}

func TestVerifyRefusesStrangeAnchorStoreContent(t *testing.T) {
	ch := newChain(t)
	l := ch.log(audit.Keyring{})
	fill(t, l, 1)
	require.NoError(t, ch.anchors.Create(context.Background(), "notes.txt", []byte("hello")))
	rep := verify(t, l)
	assert.False(t, rep.OK())
	assert.Contains(t, rep.Problem, `the anchor store holds "notes.txt" is not an audit anchor name`)
}

func FuzzParseAnchorName(f *testing.F) {
	a := audit.Anchor{Head: audit.Head{ID: 42, Hash: string(bytes.Repeat([]byte("a"), 64)), Key: "0123456789abcdef"},
		Time: time.Unix(1700000000, 5).UTC(), Signer: "0123456789abcdef", MAC: string(bytes.Repeat([]byte("b"), 64))}
	f.Add(a.Name())
	a.Key, a.Signer, a.MAC = "", "", ""
	f.Add(a.Name())
	f.Add("00000000000000000001-x-y-none-none-none.json")
	f.Fuzz(func(t *testing.T, name string) {
		a, err := audit.ParseAnchorName(name)
		if err != nil {
			return
		}
		// Whatever parses names itself: the name is the anchor's one spelling.
		b, err := audit.ParseAnchorName(a.Name())
		require.NoError(t, err)
		assert.Equal(t, a, b)
	})
}
