package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/store"
)

func newLog(t *testing.T) (*audit.Log, *store.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	base := time.Date(2025, 3, 1, 8, 0, 0, 123456789, time.UTC)
	var mu sync.Mutex
	n := 0
	clock := func() time.Time { // a new second per entry
		mu.Lock()
		defer mu.Unlock()
		n++
		return base.Add(time.Duration(n) * time.Second)
	}
	return audit.New(db, clock), db
}

func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		_, err := l.Append(context.Background(), audit.Record{Actor: fmt.Sprintf("inv%d", i%3), Role: "investigator",
			Action: "trajectory.query", Target: fmt.Sprintf("person/%d", i), Case: fmt.Sprintf("C-%d", i%2),
			Reason: "missing person report 17", Details: map[string]string{"from": "2025-03-01T00:00:00Z", "n": fmt.Sprint(i)}})
		require.NoError(t, err)
	}
}

func TestAppendVerifyAndList(t *testing.T) {
	l, _ := newLog(t)
	ctx := context.Background()
	rep, err := l.Verify(ctx, audit.Head{})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "empty chain: %+v", rep)
	assert.Zero(t, rep.Checked, "empty chain")
	fill(t, l, 10)
	rep, err = l.Verify(ctx, audit.Head{})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep)
	assert.EqualValues(t, 10, rep.Checked)
	assert.EqualValues(t, 10, rep.Head.ID)
	es, err := l.List(ctx, audit.Filter{})
	require.NoError(t, err)
	require.Len(t, es, 10)
	// The chain links.
	assert.Empty(t, es[0].Prev)
	assert.Equal(t, es[0].Hash, es[1].Prev)
	assert.Equal(t, rep.Head.Hash, es[9].Hash)
	assert.Equal(t, "4", es[3].Details["n"])
	assert.Equal(t, 123456789, es[0].Time.Nanosecond(), "time lost precision")
	for _, c := range []struct {
		f    audit.Filter
		want int
	}{
		{audit.Filter{Actor: "inv1"}, 4},
		{audit.Filter{Case: "C-0"}, 5},
		{audit.Filter{Action: "trajectory.query", Limit: 3}, 3},
		{audit.Filter{After: 7}, 3},
		{audit.Filter{From: es[2].Time, To: es[5].Time}, 3},
	} {
		got, err := l.List(ctx, c.f)
		if assert.NoError(t, err, "%+v", c.f) {
			assert.Len(t, got, c.want, "%+v", c.f)
		}
	}
	// The anchor printed by one verify is accepted by the next.
	rep2, err := l.Verify(ctx, rep.Head)
	require.NoError(t, err, "anchor")
	assert.True(t, rep2.OK(), "anchor: %+v", rep2)
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	l, _ := newLog(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				_, err := l.Append(context.Background(), audit.Record{Actor: fmt.Sprint("u", g), Action: "x"})
				if !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	rep, err := l.Verify(context.Background(), audit.Head{})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep)
	assert.EqualValues(t, 200, rep.Checked)
}

func TestApplicationCannotChangeTheLog(t *testing.T) {
	l, db := newLog(t)
	fill(t, l, 3)
	for _, q := range []string{
		`UPDATE audit_log SET reason = 'nothing to see' WHERE id = 2`,
		`DELETE FROM audit_log WHERE id = 3`,
		`DELETE FROM audit_log`,
	} {
		_, err := db.W.Exec(q)
		assert.ErrorContains(t, err, "append-only", q)
	}
	rep, err := l.Verify(context.Background(), audit.Head{})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep)
	assert.EqualValues(t, 3, rep.Checked)
}

// TestVerifyFindsTampering edits the stored chain out of band, as someone with the database file could
// after dropping the triggers, and checks that Verify names the first altered entry.
func TestVerifyFindsTampering(t *testing.T) {
	for _, c := range []struct {
		name   string
		sql    []string
		anchor bool
		broken int64
		want   string
	}{
		{"changed reason", []string{`UPDATE audit_log SET reason = 'routine check' WHERE id = 5`}, false, 5, "does not match its hash"},
		{"changed actor", []string{`UPDATE audit_log SET actor = 'someone.else' WHERE id = 7`}, false, 7, "does not match its hash"},
		{"changed time", []string{`UPDATE audit_log SET time_ns = time_ns + 1 WHERE id = 3`}, false, 3, "does not match its hash"},
		{"changed details", []string{`UPDATE audit_log SET details = '{"n":"99"}' WHERE id = 4`}, false, 4, "does not match its hash"},
		{"corrupt details", []string{`UPDATE audit_log SET details = 'not json' WHERE id = 6`}, false, 6, "corrupt"},
		{"deleted entry", []string{`DELETE FROM audit_log WHERE id = 5`}, false, 6, "removed"},
		{"deleted first entry", []string{`DELETE FROM audit_log WHERE id = 1`}, false, 2, "removed"},
		{"renumbered", []string{`DELETE FROM audit_log WHERE id = 5`, `UPDATE audit_log SET id = id - 1 WHERE id > 5`}, false, 5, "link"},
		// The forger recomputes entry 5's hash with the real algorithm: entry 6 still points at the old one.
		{"rehashed entry", []string{`UPDATE audit_log SET reason = 'routine check' WHERE id = 5`, "REHASH 5"}, false, 6, "link to the previous entry"},
		{"removed newest entries", []string{`DELETE FROM audit_log WHERE id > 8`}, true, 9, "anchor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, db := newLog(t)
			fill(t, l, 10)
			ctx := context.Background()
			intact, err := l.Verify(ctx, audit.Head{})
			require.NoError(t, err)
			require.True(t, intact.OK(), "%+v", intact)
			for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`} {
				_, err := db.W.Exec(q)
				require.NoError(t, err)
			}
			for _, q := range c.sql {
				if id, ok := strings.CutPrefix(q, "REHASH "); ok {
					rehash(t, l, db, id)
					continue
				}
				_, err := db.W.Exec(q)
				require.NoError(t, err)
			}
			var anchor audit.Head
			if c.anchor {
				anchor = intact.Head
			}
			rep, err := l.Verify(ctx, anchor)
			require.NoError(t, err)
			require.Equal(t, c.broken, rep.Broken, "%+v", rep)
			require.Contains(t, rep.Problem, c.want)
			if c.name != "deleted entry" && c.name != "deleted first entry" {
				assert.Equal(t, c.broken-1, rep.Checked, "entries checked before the break")
			}
		})
	}
}

func rehash(t *testing.T, l *audit.Log, db *store.DB, id string) {
	t.Helper()
	es, err := l.List(context.Background(), audit.Filter{})
	require.NoError(t, err)
	for _, e := range es {
		if fmt.Sprint(e.ID) == id {
			_, err := db.W.Exec(`UPDATE audit_log SET hash = ? WHERE id = ?`, e.ComputeHash(), e.ID)
			require.NoError(t, err)
		}
	}
}

func TestHashSeparatesFields(t *testing.T) {
	base := audit.Entry{ID: 1, Time: time.Unix(1, 0), Actor: "ab", Role: "c", Action: "x"}
	moved := base
	moved.Actor, moved.Role = "a", "bc" // same bytes, different split
	assert.NotEqual(t, base.ComputeHash(), moved.ComputeHash(), "moving bytes between fields kept the hash")
	withDetails := base
	withDetails.Details = map[string]string{"b": "2", "a": "1"}
	same := base
	same.Details = map[string]string{"a": "1", "b": "2"}
	assert.Equal(t, same.ComputeHash(), withDetails.ComputeHash(), "the details' hash depends on map order")
}

func TestAppendRefusesBadRecords(t *testing.T) {
	l, _ := newLog(t)
	for _, r := range []audit.Record{
		{Action: "x"},
		{Actor: "a"},
		{Actor: "a", Action: "x", Case: strings.Repeat("c", 300)},
		{Actor: "a", Action: "x", Reason: strings.Repeat("r", 2000)},
		{Actor: "a", Action: "x", Details: map[string]string{"big": strings.Repeat("d", 5000)}},
	} {
		_, err := l.Append(context.Background(), r)
		assert.Error(t, err, "accepted %+v", r)
	}
}

func TestParseCase(t *testing.T) {
	for _, c := range []struct {
		num, reason string
		err         string
	}{
		{"C-2025-17", "missing person report filed 1 March", ""},
		{"  C-1 ", "  locate the missing man  ", ""},
		{"", "", "case number (case) and a reason"},
		{"C-1", "", "give a reason"},
		{"", "a perfectly good reason", "give the case number"},
		{"C-1", "test", "too short"},
		{"C-1\n2", "a perfectly good reason", "printable"},
		{strings.Repeat("c", 300), "a perfectly good reason", "printable"},
		{"C-1", strings.Repeat("r", 1001), "at most"},
	} {
		got, err := audit.ParseCase(c.num, c.reason)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, "%q %q", c.num, c.reason)
			continue
		}
		if assert.NoError(t, err, "%q %q", c.num, c.reason) {
			assert.Equal(t, strings.TrimSpace(c.num), got.Number)
			assert.Equal(t, strings.TrimSpace(c.reason), got.Reason)
		}
	}
}

func FuzzParseHead(f *testing.F) {
	f.Add("42:" + strings.Repeat("ab", 32))
	f.Add("0:")
	f.Add(":::")
	f.Add("-1:" + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := audit.ParseHead(s)
		if err != nil {
			return
		}
		require.Positive(t, h.ID, "%q", s)
		require.Len(t, h.Hash, 64, "%q", s)
		if !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "0") {
			require.Equal(t, s, h.String(), "a head prints as it was parsed")
		}
		again, err := audit.ParseHead(h.String())
		require.NoError(t, err, "round trip %q", s)
		require.Equal(t, h, again, "round trip %q", s)
	})
}
