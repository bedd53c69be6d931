package detect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/detect/photo"
)

func unit(v ...float32) []float32 { return l2normalize(v) }

func TestMatcher(t *testing.T) {
	ids := []Identity{
		identityFrom("a", "Alice", Missing, unit(1, 0, 0), unit(0.9, 0.1, 0)),
		identityFrom("b", "Bob", Suspect, unit(0, 1, 0)),
		identityFrom("c", "Carol", AtRisk, unit(0.6, 0.8, 0)),
	}
	m, err := NewMatcher(ids, DefaultPolicy(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		probe    []float32
		accepted string // "" = unknown
		nearest  string
	}{
		{"clear match, best of two embeddings", unit(1, 0.02, 0), "Alice", "Alice"},
		{"suspect above its stricter threshold", unit(0.05, 1, 0.3), "Bob", "Bob"},
		{"suspect below 0.55 stays unknown", unit(0, 0.5, 0.8), "", "Bob"},
		{"too close to two identities", unit(1.6, 0.8, 0), "", "Alice"},
		{"nobody similar", unit(0, 0, 1), "", "Alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, n := m.Match(tc.probe)
			got := ""
			if a != nil {
				got = a.Name
			}
			if got != tc.accepted || n == nil || n.Name != tc.nearest {
				t.Errorf("accepted %q nearest %+v, want %q / %q", got, n, tc.accepted, tc.nearest)
			}
			if a != nil && (a.Similarity != n.Similarity || a.Margin <= 0) {
				t.Errorf("inconsistent match %+v vs nearest %+v", a, n)
			}
		})
	}
	if a, n := (&Matcher{}).Match(unit(1, 0, 0)); a != nil || n != nil {
		t.Error("empty watch list matched something")
	}
}

func TestNewMatcherRefuses(t *testing.T) {
	now := time.Now()
	good := identityFrom("a", "Alice", Missing, unit(1, 0))
	good.EmbeddingModel = "sha-a"
	expired := good
	expired.ID, expired.Expires = "x", now.Add(-time.Hour)
	if m, err := NewMatcher([]Identity{good, expired}, DefaultPolicy(), "sha-a", now); err != nil || m.Len() != 1 {
		t.Errorf("expired entry should be left out: %v, %d", err, m.Len())
	}
	tests := []struct {
		name string
		ids  []Identity
		pol  func(*Policy)
		want string
	}{
		{"other model", []Identity{func() Identity { i := good; i.EmbeddingModel = "sha-b"; return i }()}, nil, "re-enrol"},
		{"no embeddings", []Identity{identityFrom("e", "Eve", Missing)}, nil, "no embeddings"},
		{"bad category", []Identity{identityFrom("e", "Eve", "vip", unit(1))}, nil, "unknown watch-list category"},
		{"bad threshold", nil, func(p *Policy) { p.Threshold[Suspect] = 1.5 }, "threshold for suspect"},
		{"missing margin", nil, func(p *Policy) { p.Margin[AtRisk] = -1 }, "margin for at-risk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := DefaultPolicy()
			if tc.pol != nil {
				tc.pol(&pol)
			}
			for i := range tc.ids {
				if tc.ids[i].EmbeddingModel == "" {
					tc.ids[i].EmbeddingModel = "sha-a"
				}
			}
			_, err := NewMatcher(tc.ids, pol, "sha-a", now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDirStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := identityFrom("p-0123abcd", "Alice Example", AtRisk, unit(1, 0), unit(0, 1))
	id.Photos = []EnrolmentPhoto{{Source: "/tmp/a.JPG", SHA256: "x"}, {Source: "b.png", SHA256: "y"}}
	id.LegalBasis = "court order 12/2024"
	if err := s.Add(ctx, id, [][]byte{[]byte("jpeg bytes"), []byte("png bytes")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, id, [][]byte{{1}, {2}}); err == nil {
		t.Error("adding the same id twice succeeded")
	}
	got, err := s.Get(ctx, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != id.Name || got.Category != AtRisk || len(got.Embeddings) != 2 || got.LegalBasis != id.LegalBasis ||
		got.Photos[0].File != "photo-1.jpg" || got.Photos[1].File != "photo-2.png" {
		t.Errorf("round trip: %+v", got)
	}
	pp, err := s.PhotoPath(id.ID, got.Photos[1])
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(pp); err != nil || string(data) != "png bytes" {
		t.Errorf("photo copy: %q %v", data, err)
	}
	other := identityFrom("p-aaaa", "Bob", Suspect, unit(1, 1))
	other.Photos = []EnrolmentPhoto{{Source: "c.jpg"}}
	if err := s.Add(ctx, other, [][]byte{{1}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "Alice Example" || list[1].Name != "Bob" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := s.Remove(ctx, id.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id.ID); !errors.Is(err, ErrUnknownIdentity) {
		t.Errorf("after remove: %v", err)
	}
	if err := s.Remove(ctx, id.ID); !errors.Is(err, ErrUnknownIdentity) {
		t.Errorf("second remove: %v", err)
	}
	for _, bad := range []string{"../etc", "A", "", "x/y", ".hidden"} {
		if _, err := s.Get(ctx, bad); err == nil || errors.Is(err, ErrUnknownIdentity) {
			t.Errorf("id %q accepted: %v", bad, err)
		}
	}
	// A corrupt entry fails the listing, naming it: silently dropping someone is worse.
	os.WriteFile(filepath.Join(dir, "p-aaaa", identityFile), []byte("{"), 0o600)
	if _, err := s.List(ctx); err == nil || !strings.Contains(err.Error(), "p-aaaa") {
		t.Errorf("corrupt entry: %v", err)
	}
	// Nothing is left behind by the atomic writes.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left over %s", e.Name())
		}
	}
}

// TestEnrolmentPhotos enrols from real photos: exactly one usable face per photo, or an error naming it.
func TestEnrolmentPhotos(t *testing.T) {
	p := newPipeline(t, false)
	faces := filepath.Join(evalDir(t), "faces")
	read := func(rel string) PhotoInput {
		data, err := os.ReadFile(filepath.Join(faces, rel))
		if err != nil {
			t.Fatal(err)
		}
		return PhotoInput{Name: rel, Data: data}
	}
	ctx := context.Background()
	id, err := p.Enrol(ctx, "Barack Obama", Missing, []PhotoInput{
		read("face_recognition/examples/obama.jpg"), read("face_recognition/examples/obama2.jpg")}, DefaultEnrolmentRules())
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Embeddings) != 2 || len(id.Photos) != 2 || id.EmbeddingModel != p.EmbeddingModel() || id.ID == "" {
		t.Errorf("identity %+v", id)
	}
	if s := Cosine(id.Embeddings[0], id.Embeddings[1]); s < 0.6 {
		t.Errorf("two photos of the same man at similarity %.3f", s)
	}
	bomb := Limits()
	bomb.MaxPixels = 1000
	tests := []struct {
		name  string
		photo PhotoInput
		rules EnrolmentRules
		is    error
		want  string
	}{
		{"two people", read("face_recognition/examples/two_people.jpg"), DefaultEnrolmentRules(), ErrSeveralFaces, "two_people.jpg: more than one face: 2 usable faces"},
		{"dogs", read("dlib/examples/faces/dogs.jpg"), DefaultEnrolmentRules(), ErrNoUsableFace, "dogs.jpg: no usable face"},
		{"not an image", PhotoInput{Name: "notes.txt", Data: []byte("hello")}, DefaultEnrolmentRules(), photo.ErrFormat, "notes.txt"},
		{"over the pixel limit", read("face_recognition/examples/obama.jpg"), EnrolmentRules{MinFace: 40, MinScore: 0.9, Limits: bomb}, photo.ErrTooLarge, "obama.jpg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.EmbedPhoto(ctx, tc.photo, tc.rules)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %v containing %q", err, tc.is, tc.want)
			}
		})
	}
	// One bad photo fails the whole enrolment, naming it.
	_, err = p.Enrol(ctx, "Barack Obama", Missing, []PhotoInput{read("face_recognition/examples/obama.jpg"),
		read("face_recognition/examples/two_people.jpg")}, DefaultEnrolmentRules())
	if !errors.Is(err, ErrSeveralFaces) || !strings.Contains(err.Error(), "two_people.jpg") {
		t.Errorf("mixed enrolment: %v", err)
	}
}

// Limits is the default photo limits (a helper for table rows).
func Limits() photo.Limits { return photo.DefaultLimits() }
