package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"snowlight/audit"
	"snowlight/store"
)

func newLog(t *testing.T) (*audit.Log, *store.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendVerifyAndList(t *testing.T) {
	l, _ := newLog(t)
	ctx := context.Background()
	rep, err := l.Verify(ctx, audit.Head{})
	if err != nil || !rep.OK() || rep.Checked != 0 {
		t.Fatalf("empty chain: %+v %v", rep, err)
	}
	fill(t, l, 10)
	rep, err = l.Verify(ctx, audit.Head{})
	if err != nil || !rep.OK() || rep.Checked != 10 || rep.Head.ID != 10 {
		t.Fatalf("%+v %v", rep, err)
	}
	es, err := l.List(ctx, audit.Filter{})
	if err != nil || len(es) != 10 {
		t.Fatalf("%d entries (%v)", len(es), err)
	}
	if es[0].Prev != "" || es[1].Prev != es[0].Hash || es[9].Hash != rep.Head.Hash || es[3].Details["n"] != "4" {
		t.Fatalf("chain links: %+v", es[:2])
	}
	if es[0].Time.Nanosecond() != 123456789 {
		t.Fatalf("time lost precision: %v", es[0].Time)
	}
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
		if err != nil || len(got) != c.want {
			t.Errorf("%+v: %d entries (%v)", c.f, len(got), err)
		}
	}
	// The anchor printed by one verify is accepted by the next.
	if rep2, err := l.Verify(ctx, rep.Head); err != nil || !rep2.OK() {
		t.Fatalf("anchor: %+v %v", rep2, err)
	}
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	l, _ := newLog(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := l.Append(context.Background(), audit.Record{Actor: fmt.Sprint("u", g), Action: "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rep, err := l.Verify(context.Background(), audit.Head{})
	if err != nil || !rep.OK() || rep.Checked != 200 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestApplicationCannotChangeTheLog(t *testing.T) {
	l, db := newLog(t)
	fill(t, l, 3)
	for _, q := range []string{
		`UPDATE audit_log SET reason = 'nothing to see' WHERE id = 2`,
		`DELETE FROM audit_log WHERE id = 3`,
		`DELETE FROM audit_log`,
	} {
		if _, err := db.W.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if rep, _ := l.Verify(context.Background(), audit.Head{}); !rep.OK() || rep.Checked != 3 {
		t.Fatalf("%+v", rep)
	}
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
			if err != nil || !intact.OK() {
				t.Fatal(intact, err)
			}
			for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`} {
				if _, err := db.W.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			for _, q := range c.sql {
				if id, ok := strings.CutPrefix(q, "REHASH "); ok {
					rehash(t, l, db, id)
					continue
				}
				if _, err := db.W.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			var anchor audit.Head
			if c.anchor {
				anchor = intact.Head
			}
			rep, err := l.Verify(ctx, anchor)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Broken != c.broken || !strings.Contains(rep.Problem, c.want) {
				t.Fatalf("report %+v, want broken at %d with %q", rep, c.broken, c.want)
			}
			if rep.Checked != c.broken-1 && c.name != "deleted entry" && c.name != "deleted first entry" {
				t.Errorf("checked %d entries before the break", rep.Checked)
			}
		})
	}
}

func rehash(t *testing.T, l *audit.Log, db *store.DB, id string) {
	t.Helper()
	es, err := l.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if fmt.Sprint(e.ID) == id {
			if _, err := db.W.Exec(`UPDATE audit_log SET hash = ? WHERE id = ?`, e.ComputeHash(), e.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHashSeparatesFields(t *testing.T) {
	base := audit.Entry{ID: 1, Time: time.Unix(1, 0), Actor: "ab", Role: "c", Action: "x"}
	moved := base
	moved.Actor, moved.Role = "a", "bc" // same bytes, different split
	if base.ComputeHash() == moved.ComputeHash() {
		t.Fatal("moving bytes between fields kept the hash")
	}
	withDetails := base
	withDetails.Details = map[string]string{"b": "2", "a": "1"}
	same := base
	same.Details = map[string]string{"a": "1", "b": "2"}
	if withDetails.ComputeHash() != same.ComputeHash() {
		t.Fatal("details hash depends on map order")
	}
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
		if _, err := l.Append(context.Background(), r); err == nil {
			t.Errorf("accepted %+v", r)
		}
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
		if c.err == "" {
			if err != nil || got.Number != strings.TrimSpace(c.num) || got.Reason != strings.TrimSpace(c.reason) {
				t.Errorf("%q %q: %+v %v", c.num, c.reason, got, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q %q: %v, want %q", c.num, c.reason, err, c.err)
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
		if h.ID <= 0 || len(h.Hash) != 64 || h.String() != s && !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "0") {
			t.Fatalf("%q -> %+v", s, h)
		}
		if again, err := audit.ParseHead(h.String()); err != nil || again != h {
			t.Fatalf("round trip %q: %+v %v", s, again, err)
		}
	})
}
