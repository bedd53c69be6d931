package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func testPerson(id string) Person {
	return Person{
		ID: id, Name: "Ann Example", Category: "at-risk", Threshold: 0.55,
		Embeddings: [][]float32{{0.6, 0.8}, {0.8, 0.6}}, Photos: []string{"a.jpg", "b.jpg"}, EmbeddingModel: "sha-1",
		Enrolled: st0, EnrolledBy: "officer-7", LegalBasis: "court order 123/24", Approver: "judge-2",
		Expires: st0.Add(30 * 24 * time.Hour), GuardianContact: "+49 30 1234",
		SafeZone: []LatLon{{52.52, 13.40}, {52.53, 13.40}, {52.53, 13.41}},
		Detail:   json.RawMessage(`{"photos":[{"sha256":"ab"}]}`),
	}
}

func TestWatchList(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	p := testPerson("p1")
	if err := db.SavePerson(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := db.Person(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
	// Replacing keeps one entry with the new embeddings.
	p.Embeddings, p.Photos, p.Threshold = [][]float32{{1, 0}}, nil, 0
	if err := db.SavePerson(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Person(ctx, "p1")
	if len(got.Embeddings) != 1 || got.Photos != nil || got.Threshold != 0 {
		t.Errorf("after replace: %+v", got)
	}
	// Expiry.
	q := testPerson("p2")
	q.Expires = st0.Add(time.Hour)
	r := testPerson("p3")
	r.Expires = time.Time{}
	for _, x := range []Person{q, r} {
		if err := db.SavePerson(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	active, _ := db.ActivePersons(ctx, st0.Add(2*time.Hour))
	expired, _ := db.ExpiredPersons(ctx, st0.Add(2*time.Hour))
	if ids(active) != "p1 p3 " || ids(expired) != "p2 " {
		t.Errorf("active %q expired %q", ids(active), ids(expired))
	}
	if err := db.DeletePerson(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Person(ctx, "p2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted person: %v", err)
	}
	if err := db.DeletePerson(ctx, "p2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	var n int
	db.R.QueryRow(`SELECT count(*) FROM person_embeddings WHERE person_id = 'p2'`).Scan(&n)
	if n != 0 {
		t.Errorf("%d embeddings left of a deleted person", n)
	}
}

func ids(ps []Person) string {
	s := ""
	for _, p := range ps {
		s += p.ID + " "
	}
	return s
}

func TestSavePersonRejects(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		name string
		mod  func(*Person)
	}{
		{"no name", func(p *Person) { p.Name = "" }},
		{"threshold", func(p *Person) { p.Threshold = 1.5 }},
		{"photos and embeddings differ", func(p *Person) { p.Photos = p.Photos[:1] }},
		{"embedding lengths differ", func(p *Person) { p.Embeddings[1] = []float32{1} }},
		{"two-point zone", func(p *Person) { p.SafeZone = p.SafeZone[:2] }},
		{"zone off the globe", func(p *Person) { p.SafeZone[0].Lat = 100 }},
		{"no enrolment time", func(p *Person) { p.Enrolled = time.Time{} }},
		{"detail not JSON", func(p *Person) { p.Detail = json.RawMessage("{") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPerson("p")
			tt.mod(&p)
			if err := db.SavePerson(context.Background(), p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
