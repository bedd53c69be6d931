package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/geo"
	"snowlight/retention"
	"snowlight/watchlist"
)

// The SQLite watch list is the product's watchlist.Store.
var _ watchlist.Store = (*Watchlist)(nil)

func testPerson(id string) watchlist.Person {
	return watchlist.Person{
		ID: id, Name: "Ann Example", Category: watchlist.AtRisk, Threshold: 0.55,
		Embeddings: [][]float32{{0.6, 0.8}, {0.8, 0.6}}, EmbeddingModel: "sha-1",
		Photos: []watchlist.Photo{
			{Source: "a.jpg", Face: watchlist.Box{X: 10, Y: 12, W: 40, H: 48}, Score: 0.97},
			{Source: "b.png", Face: watchlist.Box{X: 1.5, Y: 2, W: 60, H: 70}, Score: 0.93},
		},
		Enrolled: st0, EnrolledBy: "officer-7", LegalBasis: "court order 123/24", ApprovedBy: "judge-2",
		Expires: st0.Add(30 * 24 * time.Hour), GuardianContact: "+49 30 1234",
		SafeZone: []geo.LatLon{{Lat: 52.52, Lon: 13.40}, {Lat: 52.53, Lon: 13.40}, {Lat: 52.53, Lon: 13.41}},
	}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestWatchList(t *testing.T) {
	db := openTestDB(t)
	wl := db.Watchlist()
	ctx := context.Background()
	p := testPerson("p1")
	photos := [][]byte{[]byte("jpeg bytes"), []byte("png bytes")}
	if err := wl.Add(ctx, p, photos); err != nil {
		t.Fatal(err)
	}
	got, err := wl.Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	// The store fills in the hashes of the bytes it keeps.
	want := p
	want.Photos = []watchlist.Photo{p.Photos[0], p.Photos[1]}
	want.Photos[0].SHA256, want.Photos[1].SHA256 = hexSum(photos[0]), hexSum(photos[1])
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	for i := range photos {
		if b, err := wl.Photo(ctx, "p1", i); err != nil || !bytes.Equal(b, photos[i]) {
			t.Errorf("photo %d: %q %v", i, b, err)
		}
	}
	if _, err := wl.Photo(ctx, "p1", 2); !errors.Is(err, watchlist.ErrNotFound) {
		t.Errorf("photo 2: %v", err)
	}
	if err := wl.Add(ctx, p, photos); !errors.Is(err, watchlist.ErrExists) {
		t.Errorf("second add: %v", err)
	}

	// A photo kept in the object store is recorded by reference; its bytes are not here.
	q := testPerson("p2")
	q.Name, q.Expires = "Bob Example", st0.Add(time.Hour)
	q.Photos[1].Ref = "person/" + strings.Repeat("ab", 32) + ".jpg"
	if err := wl.Add(ctx, q, [][]byte{[]byte("x"), nil}); err != nil {
		t.Fatal(err)
	}
	if _, err := wl.Photo(ctx, "p2", 1); !errors.Is(err, watchlist.ErrNotFound) || !strings.Contains(err.Error(), "outside the database") {
		t.Errorf("referenced photo: %v", err)
	}
	r := testPerson("p3")
	r.Name, r.Expires, r.Photos, r.Embeddings, r.Threshold = "Ann Example", time.Time{}, nil, [][]float32{{1, 0}}, 0
	if err := wl.Add(ctx, r, nil); err != nil {
		t.Fatal(err)
	}

	list, err := wl.List(ctx)
	if err != nil || ids(list) != "p1 p3 p2 " { // by name, then id
		t.Errorf("list %q %v", ids(list), err)
	}
	active, _ := wl.Active(ctx, st0.Add(2*time.Hour))
	expired, _ := wl.Expired(ctx, st0.Add(2*time.Hour))
	if ids(active) != "p1 p3 " || ids(expired) != "p2 " {
		t.Errorf("active %q expired %q", ids(active), ids(expired))
	}
	if len(expired[0].Embeddings) != 2 || expired[0].Photos[1].Ref != q.Photos[1].Ref {
		t.Errorf("expired entry %+v", expired[0])
	}

	// The rules see an entry without its biometric data.
	rp, ok, err := db.WatchlistPerson(ctx, "p1")
	if err != nil || !ok || rp.Category != watchlist.AtRisk || len(rp.SafeZone) != 3 || rp.Embeddings != nil || rp.Photos != nil {
		t.Errorf("rules' view %+v %v %v", rp, ok, err)
	}
	if _, ok, err := db.WatchlistPerson(ctx, "nobody"); ok || err != nil {
		t.Errorf("unknown person: %v %v", ok, err)
	}

	// Removing takes the embeddings and photos along and marks a referenced object for deletion.
	if err := wl.Remove(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if _, err := wl.Get(ctx, "p2"); !errors.Is(err, watchlist.ErrNotFound) {
		t.Errorf("removed person: %v", err)
	}
	if err := wl.Remove(ctx, "p2"); !errors.Is(err, watchlist.ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	for table, want := range map[string]int{"person_embeddings": 0, "person_photos": 0} {
		var n int
		db.R.QueryRow(`SELECT count(*) FROM ` + table + ` WHERE person_id = 'p2'`).Scan(&n)
		if n != want {
			t.Errorf("%d rows left in %s of a removed person", n, table)
		}
	}
	var marked string
	if err := db.R.QueryRow(`SELECT source FROM retention_pending WHERE key = ?`, q.Photos[1].Ref).Scan(&marked); err != nil || marked != "person/p2" {
		t.Errorf("referenced photo not marked for deletion: %q %v", marked, err)
	}
}

func ids(ps []watchlist.Person) string {
	s := ""
	for _, p := range ps {
		s += p.ID + " "
	}
	return s
}

func TestWatchListAddRejects(t *testing.T) {
	db := openTestDB(t)
	photos := [][]byte{[]byte("a"), []byte("b")}
	tests := []struct {
		name   string
		mod    func(*watchlist.Person)
		photos [][]byte
		want   string
	}{
		{"invalid entry", func(p *watchlist.Person) { p.Name = "" }, photos, "name"},
		{"old spelling in code", func(p *watchlist.Person) { p.Category = "at-risk" }, photos, "category"},
		{"fewer images than records", nil, photos[:1], "2 photo records, 1 images"},
		{"neither bytes nor reference", nil, [][]byte{photos[0], nil}, "neither bytes nor a reference"},
		{"bytes and reference", func(p *watchlist.Person) { p.Photos[0].Ref = "person/x.jpg" }, photos, "bytes and a reference"},
		{"hash mismatch", func(p *watchlist.Person) { p.Photos[0].SHA256 = hexSum([]byte("other")) }, photos, "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPerson("p")
			p.Photos = append([]watchlist.Photo(nil), p.Photos...)
			if tt.mod != nil {
				tt.mod(&p)
			}
			err := db.Watchlist().Add(context.Background(), p, tt.photos)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if _, err := db.Watchlist().Get(context.Background(), "p"); !errors.Is(err, watchlist.ErrNotFound) {
				t.Errorf("a refused entry was stored: %v", err)
			}
		})
	}
}

// A database written by the first watch-list schema (photo names on the embeddings, categories as
// the detector spelt them) reads as watchlist.Persons after the appended migration.
func TestWatchListMigratesVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{W: raw, R: raw, path: path}
	var comps []component
	for _, c := range components() {
		if c.name == "watchlist" {
			c.migrations = c.migrations[:1]
		}
		comps = append(comps, c)
	}
	if err := old.migrate(ctx, comps); err != nil {
		t.Fatal(err)
	}
	key := "person/" + strings.Repeat("cd", 32) + ".jpg"
	for _, q := range []string{
		`INSERT INTO persons(id, name, category, threshold, enrolled_ns, approver, expires_ns, detail)
			VALUES ('p1', 'Ann', 'at-risk', 0.6, 1, 'judge', 100, '{"photos":[]}'), ('p2', 'Bob', 'suspect', NULL, 1, '', NULL, NULL)`,
		`INSERT INTO person_embeddings(person_id, idx, photo, embedding) VALUES
			('p1', 0, '` + key + `', x'0000803f00000000'), ('p1', 1, 'photo-2.jpg', x'000000000000803f'),
			('p2', 0, '', x'0000803f00000000')`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p1, err := db.Watchlist().Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if p1.Category != watchlist.AtRisk || p1.Threshold != 0.6 || p1.ApprovedBy != "judge" || len(p1.Embeddings) != 2 ||
		p1.Embeddings[1][1] != 1 || len(p1.Photos) != 2 || p1.Photos[0].Ref != key || p1.Photos[1].Source != "photo-2.jpg" {
		t.Errorf("migrated entry %+v", p1)
	}
	if p2, err := db.Watchlist().Get(ctx, "p2"); err != nil || len(p2.Photos) != 0 || len(p2.Embeddings) != 1 {
		t.Errorf("migrated entry without photos %+v %v", p2, err)
	}
	// Retention still finds the old entry's photo in the object store.
	exp, err := db.ExpiredEntries(ctx, fromNanos(1000))
	if err != nil || len(exp) != 1 || exp[0].Category != watchlist.AtRisk || exp[0].Embeddings != 2 || exp[0].Photos != 2 ||
		len(exp[0].PhotoKeys) != 1 || exp[0].PhotoKeys[0] != key {
		t.Errorf("expired entries %+v %v", exp, err)
	}
	refs, err := db.ObjectReferences(ctx, []string{key})
	if err != nil || len(refs[key]) != 1 || refs[key][0] != (retention.Ref{Kind: "person", ID: "p1"}) {
		t.Errorf("object references %+v %v", refs, err)
	}
}

// Faces dismissed as false matches are kept with the person, read with the active list, recorded once
// per alert, and purged with the person's other biometric data.
func TestWatchListNegatives(t *testing.T) {
	db := openTestDB(t)
	wl := db.Watchlist()
	ctx := context.Background()
	p := testPerson("p1")
	if err := wl.Add(ctx, p, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	face := p.Embeddings[0]
	for range 2 { // the same dismissal delivered twice
		if err := wl.AddNegatives(ctx, "p1", "al-1", [][]float32{face}); err != nil {
			t.Fatal(err)
		}
	}
	if err := wl.AddNegatives(ctx, "nobody", "al-2", [][]float32{face}); !errors.Is(err, watchlist.ErrNotFound) {
		t.Fatalf("negatives for an unknown person: %v", err)
	}
	active, err := wl.Active(ctx, st0)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || len(active[0].Negatives) != 1 || !reflect.DeepEqual(active[0].Negatives[0], face) {
		t.Fatalf("active list negatives: %+v", active)
	}
	if _, err := db.PurgeEntry(ctx, "p1", p.Expires.Add(time.Hour), p.Expires.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.R.QueryRow(`SELECT count(*) FROM person_negatives`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d negatives left after the purge (%v)", n, err)
	}
}

// Faces confirmed as a person are kept with the person like the negatives: read with the active list,
// recorded once per alert, purged with the entry's biometric data when it expires and removed with it.
func TestWatchListConfirmedFaces(t *testing.T) {
	db := openTestDB(t)
	wl := db.Watchlist()
	ctx := context.Background()
	for _, id := range []string{"p1", "p2"} {
		require.NoError(t, wl.Add(ctx, testPerson(id), [][]byte{[]byte("a"), []byte("b")}))
	}
	face := []float32{0.6, 0.8}
	for range 2 { // the same confirmation delivered twice
		require.NoError(t, wl.AddConfirmed(ctx, "p1", "al-1", [][]float32{face}))
	}
	require.NoError(t, wl.AddConfirmed(ctx, "p2", "al-2", [][]float32{face, face}))
	assert.ErrorIs(t, wl.AddConfirmed(ctx, "nobody", "al-3", [][]float32{face}), watchlist.ErrNotFound)
	active, err := wl.Active(ctx, st0)
	require.NoError(t, err)
	require.Len(t, active, 2)
	assert.Equal(t, [][]float32{face}, active[0].Confirmed)
	assert.Len(t, active[1].Confirmed, 2)
	assert.Empty(t, active[0].Negatives, "confirmed faces are not negatives")

	p1, err := wl.Get(ctx, "p1")
	require.NoError(t, err)
	_, err = db.PurgeEntry(ctx, "p1", p1.Expires.Add(time.Hour), p1.Expires.Add(time.Hour))
	require.NoError(t, err)
	require.NoError(t, wl.Remove(ctx, "p2"))
	var n int
	require.NoError(t, db.R.QueryRow(`SELECT count(*) FROM person_confirmed`).Scan(&n))
	assert.Zero(t, n, "confirmed faces left after the purge and the removal")
}
