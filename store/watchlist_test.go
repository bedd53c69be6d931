package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"path/filepath"
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
	require.NoError(t, wl.Add(ctx, p, photos))
	got, err := wl.Get(ctx, "p1")
	require.NoError(t, err)
	// The store fills in the hashes of the bytes it keeps.
	want := p
	want.Photos = []watchlist.Photo{p.Photos[0], p.Photos[1]}
	want.Photos[0].SHA256, want.Photos[1].SHA256 = hexSum(photos[0]), hexSum(photos[1])
	require.Equal(t, want, got, "round trip")
	for i := range photos {
		b, err := wl.Photo(ctx, "p1", i)
		require.NoError(t, err, "photo %d", i)
		assert.Equal(t, photos[i], b, "photo %d", i)
	}
	_, err = wl.Photo(ctx, "p1", 2)
	assert.ErrorIs(t, err, watchlist.ErrNotFound, "photo 2")
	assert.ErrorIs(t, wl.Add(ctx, p, photos), watchlist.ErrExists, "second add")

	// A photo kept in the object store is recorded by reference; its bytes are not here.
	q := testPerson("p2")
	q.Name, q.Expires = "Bob Example", st0.Add(time.Hour)
	q.Photos[1].Ref = "person/" + strings.Repeat("ab", 32) + ".jpg"
	require.NoError(t, wl.Add(ctx, q, [][]byte{[]byte("x"), nil}))
	_, err = wl.Photo(ctx, "p2", 1)
	assert.ErrorIs(t, err, watchlist.ErrNotFound, "referenced photo")
	assert.ErrorContains(t, err, "outside the database", "referenced photo")
	r := testPerson("p3")
	r.Name, r.Expires, r.Photos, r.Embeddings, r.Threshold = "Ann Example", time.Time{}, nil, [][]float32{{1, 0}}, 0
	require.NoError(t, wl.Add(ctx, r, nil))

	list, err := wl.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"p1", "p3", "p2"}, ids(list), "the list, by name, then id")
	active, err := wl.Active(ctx, st0.Add(2*time.Hour))
	require.NoError(t, err)
	expired, err := wl.Expired(ctx, st0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []string{"p1", "p3"}, ids(active), "active")
	require.Equal(t, []string{"p2"}, ids(expired), "expired")
	assert.Len(t, expired[0].Embeddings, 2, "expired entry %+v", expired[0])
	if assert.Len(t, expired[0].Photos, 2, "expired entry %+v", expired[0]) {
		assert.Equal(t, q.Photos[1].Ref, expired[0].Photos[1].Ref)
	}

	// The rules see an entry without its biometric data.
	rp, ok, err := db.WatchlistPerson(ctx, "p1")
	require.NoError(t, err)
	require.True(t, ok, "the rules' view of p1")
	assert.Equal(t, watchlist.AtRisk, rp.Category)
	assert.Len(t, rp.SafeZone, 3)
	assert.Nil(t, rp.Embeddings, "the rules' view has embeddings")
	assert.Nil(t, rp.Photos, "the rules' view has photos")
	_, ok, err = db.WatchlistPerson(ctx, "nobody")
	assert.NoError(t, err, "unknown person")
	assert.False(t, ok, "unknown person")

	// Removing takes the embeddings and photos along and marks a referenced object for deletion.
	require.NoError(t, wl.Remove(ctx, "p2"))
	_, err = wl.Get(ctx, "p2")
	assert.ErrorIs(t, err, watchlist.ErrNotFound, "removed person")
	assert.ErrorIs(t, wl.Remove(ctx, "p2"), watchlist.ErrNotFound, "remove twice")
	for _, table := range []string{"person_embeddings", "person_photos"} {
		var n int
		require.NoError(t, db.R.QueryRow(`SELECT count(*) FROM `+table+` WHERE person_id = 'p2'`).Scan(&n), table)
		assert.Zero(t, n, "rows left in %s of a removed person", table)
	}
	var marked string
	require.NoError(t, db.R.QueryRow(`SELECT source FROM retention_pending WHERE key = ?`, q.Photos[1].Ref).Scan(&marked),
		"referenced photo not marked for deletion")
	assert.Equal(t, "person/p2", marked, "the referenced photo's mark")
}

func ids(ps []watchlist.Person) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
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
			require.ErrorContains(t, db.Watchlist().Add(context.Background(), p, tt.photos), tt.want)
			_, err := db.Watchlist().Get(context.Background(), "p")
			assert.ErrorIs(t, err, watchlist.ErrNotFound, "a refused entry was stored")
		})
	}
}

// A database written by the first watch-list schema (photo names on the embeddings, categories as
// the detector spelt them) reads as watchlist.Persons after the appended migration.
func TestWatchListMigratesVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	require.NoError(t, err)
	old := &DB{W: raw, R: raw, path: path}
	var comps []component
	for _, c := range components() {
		if c.name == "watchlist" {
			c.migrations = c.migrations[:1]
		}
		comps = append(comps, c)
	}
	require.NoError(t, old.migrate(ctx, comps))
	key := "person/" + strings.Repeat("cd", 32) + ".jpg"
	for _, q := range []string{
		`INSERT INTO persons(id, name, category, threshold, enrolled_ns, approver, expires_ns, detail)
			VALUES ('p1', 'Ann', 'at-risk', 0.6, 1, 'judge', 100, '{"photos":[]}'), ('p2', 'Bob', 'suspect', NULL, 1, '', NULL, NULL)`,
		`INSERT INTO person_embeddings(person_id, idx, photo, embedding) VALUES
			('p1', 0, '` + key + `', x'0000803f00000000'), ('p1', 1, 'photo-2.jpg', x'000000000000803f'),
			('p2', 0, '', x'0000803f00000000')`,
	} {
		_, err := raw.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	raw.Close()

	db, err := Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	p1, err := db.Watchlist().Get(ctx, "p1")
	require.NoError(t, err)
	assert.Equal(t, watchlist.AtRisk, p1.Category)
	assert.Equal(t, float32(0.6), p1.Threshold)
	assert.Equal(t, "judge", p1.ApprovedBy)
	if assert.Len(t, p1.Embeddings, 2) {
		assert.Equal(t, float32(1), p1.Embeddings[1][1])
	}
	if assert.Len(t, p1.Photos, 2) {
		assert.Equal(t, key, p1.Photos[0].Ref)
		assert.Equal(t, "photo-2.jpg", p1.Photos[1].Source)
	}
	p2, err := db.Watchlist().Get(ctx, "p2")
	require.NoError(t, err)
	assert.Empty(t, p2.Photos, "a migrated entry without photos")
	assert.Len(t, p2.Embeddings, 1, "a migrated entry without photos")
	// Retention still finds the old entry's photo in the object store.
	exp, err := db.ExpiredEntries(ctx, fromNanos(1000))
	require.NoError(t, err)
	require.Len(t, exp, 1, "expired entries")
	assert.Equal(t, watchlist.AtRisk, exp[0].Category)
	assert.Equal(t, 2, exp[0].Embeddings)
	assert.Equal(t, 2, exp[0].Photos)
	assert.Equal(t, []string{key}, exp[0].PhotoKeys)
	refs, err := db.ObjectReferences(ctx, []string{key})
	require.NoError(t, err)
	assert.Equal(t, []retention.Ref{{Kind: "person", ID: "p1"}}, refs[key], "object references")
}

// Faces dismissed as false matches are kept with the person, read with the active list, recorded once
// per alert, and purged with the person's other biometric data.
func TestWatchListNegatives(t *testing.T) {
	db := openTestDB(t)
	wl := db.Watchlist()
	ctx := context.Background()
	p := testPerson("p1")
	require.NoError(t, wl.Add(ctx, p, [][]byte{[]byte("a"), []byte("b")}))
	face := p.Embeddings[0]
	for range 2 { // the same dismissal delivered twice
		require.NoError(t, wl.AddNegatives(ctx, "p1", "al-1", [][]float32{face}))
	}
	assert.ErrorIs(t, wl.AddNegatives(ctx, "nobody", "al-2", [][]float32{face}), watchlist.ErrNotFound, "negatives for an unknown person")
	active, err := wl.Active(ctx, st0)
	require.NoError(t, err)
	require.Len(t, active, 1)
	assert.Equal(t, [][]float32{face}, active[0].Negatives, "the active list's negatives")
	_, err = db.PurgeEntry(ctx, "p1", p.Expires.Add(time.Hour), p.Expires.Add(time.Hour))
	require.NoError(t, err)
	var n int
	require.NoError(t, db.R.QueryRow(`SELECT count(*) FROM person_negatives`).Scan(&n))
	assert.Zero(t, n, "negatives left after the purge")
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
