package ledger_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/ledger"
	"snowlight/bus/natstest"
	"snowlight/bus/outbox"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "center.db")+"?_busy_timeout=5000&_journal_mode=WAL")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, ledger.Migrate(context.Background(), db))
	return db
}

func TestClaim(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	claim := func(key string, v ledger.Version) ledger.Outcome {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		o, err := ledger.Claim(ctx, tx, key, v)
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
		return o
	}
	for _, tc := range []struct {
		name string
		key  string
		v    ledger.Version
		want ledger.Outcome
	}{
		{"first", "sighting/a", ledger.Version{Epoch: 5, Seq: 2}, ledger.Fresh},
		{"the same again", "sighting/a", ledger.Version{Epoch: 5, Seq: 2}, ledger.Again},
		{"older seq", "sighting/a", ledger.Version{Epoch: 5, Seq: 1}, ledger.Superseded},
		{"older epoch, higher seq", "sighting/a", ledger.Version{Epoch: 4, Seq: 99}, ledger.Superseded},
		{"newer seq", "sighting/a", ledger.Version{Epoch: 5, Seq: 3}, ledger.Fresh},
		{"newer epoch, lower seq", "sighting/a", ledger.Version{Epoch: 6, Seq: 1}, ledger.Fresh},
		{"the newer one again", "sighting/a", ledger.Version{Epoch: 6, Seq: 1}, ledger.Again},
		{"another key", "sighting/b", ledger.Version{Epoch: 1, Seq: 1}, ledger.Fresh},
	} {
		assert.Equal(t, tc.want, claim(tc.key, tc.v), tc.name)
	}
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = ledger.Claim(ctx, tx, "k", ledger.Version{Epoch: math.MaxUint64})
	assert.ErrorIs(t, err, ledger.ErrVersion)
}

func TestApplyIsAtomic(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	_, err := db.Exec(`CREATE TABLE things (id TEXT)`)
	require.NoError(t, err)
	v := ledger.Version{Epoch: 1, Seq: 1}
	insert := func(tx *sql.Tx) error { _, err := tx.Exec(`INSERT INTO things VALUES ('x')`); return err }

	_, err = ledger.Apply(ctx, db, "k", v, func(tx *sql.Tx) error {
		require.NoError(t, insert(tx))
		return errors.New("store failed")
	})
	require.Error(t, err)
	applied, err := ledger.Apply(ctx, db, "k", v, insert)
	require.NoError(t, err)
	assert.True(t, applied, "a failed apply recorded no claim")
	applied, err = ledger.Apply(ctx, db, "k", v, insert)
	require.NoError(t, err)
	assert.False(t, applied)
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM things`).Scan(&n))
	assert.Equal(t, 1, n)

	pruned, err := ledger.Prune(ctx, db, time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.EqualValues(t, 1, pruned)
}

func TestApplyBatch(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	_, err := db.Exec(`CREATE TABLE things (key TEXT, n INTEGER)`)
	require.NoError(t, err)
	_, err = ledger.Apply(ctx, db, "old", ledger.Version{Epoch: 1, Seq: 9}, func(*sql.Tx) error { return nil })
	require.NoError(t, err)
	items := []ledger.Item{
		{Key: "a", Version: ledger.Version{Epoch: 1, Seq: 1}},
		{Key: "a", Version: ledger.Version{Epoch: 1, Seq: 2}}, // newer, same batch
		{Key: "a", Version: ledger.Version{Epoch: 1, Seq: 1}}, // older than the one before it
		{Key: "old", Version: ledger.Version{Epoch: 1, Seq: 3}},
		{Key: "b", Version: ledger.Version{Epoch: 1, Seq: 1}},
	}
	insert := func(tx *sql.Tx, i int) error {
		_, err := tx.Exec(`INSERT INTO things VALUES (?, ?)`, items[i].Key, i)
		return err
	}
	applied, errs := ledger.ApplyBatch(ctx, db, items, insert)
	assert.Equal(t, []bool{true, true, false, false, true}, applied)
	assert.Equal(t, make([]error, len(items)), errs)

	// One failing item: the others are applied all the same, each on its own.
	items2 := []ledger.Item{{Key: "c", Version: ledger.Version{Epoch: 1, Seq: 1}}, {Key: "bad", Version: ledger.Version{Epoch: 1, Seq: 1}},
		{Key: "d", Version: ledger.Version{Epoch: 1, Seq: 1}}}
	applied, errs = ledger.ApplyBatch(ctx, db, items2, func(tx *sql.Tx, i int) error {
		if items2[i].Key == "bad" {
			return errors.New("poison")
		}
		_, err := tx.Exec(`INSERT INTO things VALUES (?, ?)`, items2[i].Key, i)
		return err
	})
	assert.Equal(t, []bool{true, false, true}, applied)
	assert.NoError(t, errs[0])
	assert.EqualError(t, errs[1], "poison")
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM things`).Scan(&n))
	assert.Equal(t, 5, n)
}

// payload is the test's stand-in for a sighting event.
type payload struct {
	ID     string `json:"id"`
	Final  bool   `json:"final"`
	Person string `json:"person,omitempty"`
}

// center applies sighting events the way the real one must: the sighting and the alert it raises
// in one transaction with the ledger's claim. The alerts table has no unique key on purpose: only the
// ledger stands between a redelivery and a second alert.
type center struct {
	db    *sql.DB
	calls atomic.Int64
	// failAfterCommit makes the handler report failure after its transaction committed, as a center
	// dying between its commit and its ack would: the event comes again.
	failAfterCommit func() bool
}

func newCenter(t *testing.T) *center {
	db := openDB(t)
	_, err := db.Exec(`CREATE TABLE sightings (id TEXT PRIMARY KEY, final INTEGER NOT NULL, updates INTEGER NOT NULL);
		CREATE TABLE alerts (sighting TEXT NOT NULL, person TEXT NOT NULL)`)
	require.NoError(t, err)
	return &center{db: db, failAfterCommit: func() bool { return false }}
}

func (c *center) handle(ctx context.Context, d bus.Delivery) error {
	c.calls.Add(1)
	var p payload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		return bus.Refuse(err)
	}
	_, err := ledger.Apply(ctx, c.db, d.ApplyKey(), ledger.Version{Epoch: d.Epoch, Seq: d.Seq}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sightings VALUES (?, ?, 1)
			ON CONFLICT (id) DO UPDATE SET final = excluded.final, updates = updates + 1`, p.ID, p.Final); err != nil {
			return err
		}
		if p.Final && p.Person != "" {
			_, err := tx.ExecContext(ctx, `INSERT INTO alerts VALUES (?, ?)`, p.ID, p.Person)
			return err
		}
		return nil
	})
	if err == nil && c.failAfterCommit() {
		return errors.New("center died after commit")
	}
	return err
}

// Whatever comes twice — resends past the duplicate window, redeliveries after a failure that
// followed the commit, a center restart, an interim sighting overtaken by its final — each sighting is
// stored once and final, and each alert raised once.
func TestSightingStoredOnceAlertRaisedOnce(t *testing.T) {
	c := natstest.Start(t, "edge-a")
	nc := c.Connect(t, natstest.Center)
	js := natstest.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A duplicate window of 100 ms so the resends below are stored again, as after a long outage.
	_, err := bus.ProvisionEvents(ctx, js, bus.StreamOptions{MaxBytes: 64 << 20, Duplicates: 100 * time.Millisecond})
	require.NoError(t, err)

	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	require.NoError(t, err)
	defer ob.Close()
	pub, err := bus.NewPublisher(c.Connect(t, "edge-a"), ob, bus.PublisherOptions{})
	require.NoError(t, err)
	pctx, pstop := context.WithCancel(ctx)
	defer pstop()
	go pub.Run(pctx)

	const sightings = 30
	seq := uint64(0)
	var sent []*bus.Event
	send := func(p payload) *bus.Event {
		seq++
		b, _ := json.Marshal(p)
		e := &bus.Event{Edge: "edge-a", Camera: "cam-1", Kind: "sighting", Epoch: 1, Seq: seq,
			Key: "sighting/" + p.ID, Produced: time.Now(), Payload: b}
		require.NoError(t, pub.Publish(e))
		sent = append(sent, e)
		return e
	}
	var interims []*bus.Event
	for i := range sightings {
		id := fmt.Sprintf("s%02d", i)
		person := ""
		if i%3 == 0 {
			person = "p" + id
		}
		interims = append(interims, send(payload{ID: id}))
		send(payload{ID: id, Person: person})
		send(payload{ID: id, Final: true, Person: person})
	}
	time.Sleep(300 * time.Millisecond) // past the duplicate window
	// Resent as they were (same ids and versions): stored again by the stream.
	for _, e := range sent[len(sent)-15:] {
		m, err := e.Msg()
		require.NoError(t, err)
		_, err = js.PublishMsg(ctx, m)
		require.NoError(t, err)
	}
	// Interims redelivered after their finals.
	for _, e := range interims[:5] {
		m, err := e.Msg()
		require.NoError(t, err)
		_, err = js.PublishMsg(ctx, m)
		require.NoError(t, err)
	}

	cen := newCenter(t)
	var n atomic.Int64
	cen.failAfterCommit = func() bool { return n.Add(1)%4 == 0 }
	consume := func() (stop func()) {
		cctx, ccancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			err := bus.Consume(cctx, js, bus.ConsumerOptions{Backoff: []time.Duration{20 * time.Millisecond}}, cen.handle)
			assert.NoError(t, err)
		})
		return func() { ccancel(); wg.Wait() }
	}
	stop := consume()
	require.Eventually(t, func() bool { return cen.calls.Load() > 40 }, 20*time.Second, 5*time.Millisecond)
	stop() // the center restarts in the middle
	stop = consume()
	defer stop()

	count := func(q string) int {
		var n int
		require.NoError(t, cen.db.QueryRow(q).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool {
		lag, err := bus.ConsumerLag(ctx, js, "", nil)
		return err == nil && lag.Pending+lag.AckPending == 0 && count(`SELECT count(*) FROM sightings WHERE final = 1`) == sightings
	}, 30*time.Second, 50*time.Millisecond)

	assert.Equal(t, sightings, count(`SELECT count(*) FROM sightings`))
	assert.Equal(t, sightings, count(`SELECT count(*) FROM sightings WHERE final = 1`), "no interim overwrote a final")
	assert.Equal(t, sightings/3, count(`SELECT count(*) FROM alerts`))
	assert.Equal(t, sightings/3, count(`SELECT count(DISTINCT sighting) FROM alerts`))
	// A redelivered interim that arrives after its final is skipped (older version), so a sighting
	// may have been updated fewer than three times, never more.
	assert.LessOrEqual(t, count(`SELECT max(updates) FROM sightings`), 3, "no event applied twice")
	assert.Greater(t, cen.calls.Load(), int64(3*sightings+20), "the center did see events again")
	t.Logf("%d events published, %d handled", 3*sightings+20, cen.calls.Load())
}
