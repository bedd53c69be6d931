package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/audit"
	"snowlight/detect"
	"snowlight/store"
	"snowlight/watchlist"
)

// TestEnrollListRemove enrols real photos into the product database, which the matcher then reads
// (the same entries replay and the server match against), lists and removes them; the law's
// requirements (legal basis, approval, a bounded expiry) are checked before anything is stored.
func TestEnrollListRemove(t *testing.T) {
	models, eval := perceptionData(t)
	db := filepath.Join(t.TempDir(), "s.db")
	ex := filepath.Join(eval, "faces", "face_recognition", "examples")
	expires := time.Now().AddDate(0, 0, 60).Format(time.DateOnly)
	code, out, errOut := runCmd(t, "enroll", "--db", db, "--models", models, "--name", "Barack Obama",
		"--category", "missing", "--legal-basis", "case 2024/17", "--approved-by", "judge Li", "--expires", expires,
		"--guardian-contact", "Michelle +1 555 0100", filepath.Join(ex, "obama.jpg"), filepath.Join(ex, "obama2.jpg"))
	if code != 0 {
		t.Fatalf("enroll: exit %d: %s", code, errOut)
	}
	id := strings.Fields(out)[0]

	// A photo with two people is refused, naming the photo; nothing is stored.
	code, _, errOut = runCmd(t, "enroll", "--db", db, "--models", models, "--name", "Joe Biden", "--category", "at-risk",
		"--legal-basis", "x", "--approved-by", "y", filepath.Join(ex, "biden.jpg"), filepath.Join(ex, "two_people.jpg"))
	if code != 1 || !strings.Contains(errOut, "two_people.jpg") || !strings.Contains(errOut, "more than one face") {
		t.Errorf("two-person photo: exit %d, %s", code, errOut)
	}

	code, out, errOut = runCmd(t, "enroll", "list", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("list shows %d entries:\n%s", len(lines), out)
	}
	var got watchlist.Person
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Name != "Barack Obama" || got.Category != watchlist.Missing || len(got.Photos) != 2 ||
		got.LegalBasis != "case 2024/17" || got.ApprovedBy != "judge Li" || got.Expires.Format(time.DateOnly) != expires ||
		got.GuardianContact != "Michelle +1 555 0100" || !strings.HasPrefix(got.EnrolledBy, "cli:") || got.Embeddings != nil ||
		got.Photos[1].Source != filepath.Join(ex, "obama2.jpg") || got.Photos[0].Face.H < 40 {
		t.Errorf("listed %+v", got)
	}
	if code, out, _ = runCmd(t, "enroll", "list", "--db", db); code != 0 || !strings.Contains(out, "Barack Obama") {
		t.Errorf("table listing: %d %s", code, out)
	}

	// What was stored is what the product matches against: the photos are kept, the embeddings come
	// from the loaded model, and the matcher names Obama from a third photo of him.
	sdb, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := sdb.Watchlist().Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := sdb.Watchlist().Photo(t.Context(), id, 0); err != nil || len(b) == 0 {
		t.Errorf("stored photo: %d bytes, %v", len(b), err)
	}
	active, err := sdb.Watchlist().Active(t.Context(), time.Now())
	sdb.Close()
	if err != nil || len(active) != 1 {
		t.Fatalf("active entries %d %v", len(active), err)
	}
	p, err := detect.NewPipeline(detect.DefaultConfig(models))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m, err := watchlist.NewMatcher(active, watchlist.DefaultPolicy(), p.EmbeddingModel(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	probe, err := os.ReadFile(filepath.Join(eval, "faces", "face_recognition", "tests", "test_images", "obama3.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	_, emb, err := p.EmbedPhoto(t.Context(), detect.PhotoInput{Name: "probe", Data: probe}, detect.DefaultEnrolmentRules())
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := m.Match(emb); a == nil || a.PersonID != id || entry.EmbeddingModel != p.EmbeddingModel() {
		t.Errorf("a third photo of Obama matched %+v", a)
	}

	if code, _, errOut = runCmd(t, "enroll", "remove", "--db", db, id); code != 0 {
		t.Fatalf("remove: exit %d: %s", code, errOut)
	}
	if code, _, errOut = runCmd(t, "enroll", "remove", "--db", db, id); code != 1 || !strings.Contains(errOut, "no such person") {
		t.Errorf("second remove: exit %d: %s", code, errOut)
	}
	if _, out, _ = runCmd(t, "enroll", "list", "--db", db, "--json"); strings.TrimSpace(out) != "" {
		t.Errorf("list after remove: %s", out)
	}
	// Both changes are in the audit log.
	sdb, err = store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"watchlist.enrol", "watchlist.remove"} {
		if es, err := audit.New(sdb, nil).List(t.Context(), audit.Filter{Action: action}); err != nil || len(es) != 1 || es[0].Target != id {
			t.Errorf("audit %s: %+v %v", action, es, err)
		}
	}
	sdb.Close()

	tooLong := time.Now().AddDate(0, 0, 45).Format(time.DateOnly)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--category", "vip", "--legal-basis", "x", "--approved-by", "y"}, "unknown watch-list category"},
		{[]string{"--category", "missing", "--legal-basis", "x", "--approved-by", "y", "--expires", "2001-01-01"}, "not in the future"},
		{[]string{"--category", "suspect", "--legal-basis", "x", "--approved-by", "y", "--expires", tooLong}, "more than 30 days"},
		{[]string{"--category", "suspect", "--approved-by", "y"}, "legal basis"},
		{[]string{"--category", "suspect", "--legal-basis", "x"}, "approved"},
	} {
		args := append([]string{"enroll", "--db", db, "--models", models, "--name", "X"}, tc.args...)
		if code, _, errOut := runCmd(t, append(args, "a.jpg")...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %s, want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if code, _, _ := runCmd(t, "enroll", "--name", "X"); code != 2 {
		t.Errorf("no photos: exit %d, want 2 (usage)", code)
	}
	if code, _, errOut := runCmd(t, "enroll", "list", "--db", filepath.Join(t.TempDir(), "none.db")); code != 1 || !strings.Contains(errOut, "none.db") {
		t.Errorf("list of a missing database: exit %d %s", code, errOut)
	}
}

func TestModelsCommand(t *testing.T) {
	models, _ := perceptionData(t)
	if code, out, errOut := runCmd(t, "models", "verify", "--dir", models); code != 0 || strings.Count(out, "ok ") != 4 {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "models"); code != 0 || !strings.Contains(out, "MS-Celeb-1M") || !strings.Contains(out, "MSMT17") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	empty := t.TempDir()
	if code, _, errOut := runCmd(t, "models", "verify", "--dir", empty); code != 1 || !strings.Contains(errOut, "make models") {
		t.Errorf("verify empty dir: exit %d %s", code, errOut)
	}
}
