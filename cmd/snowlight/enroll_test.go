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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.Equal(t, 0, code, "enroll: exit code: %s", errOut)
	id := strings.Fields(out)[0]

	// A photo with two people is refused, naming the photo; nothing is stored.
	code, _, errOut = runCmd(t, "enroll", "--db", db, "--models", models, "--name", "Joe Biden", "--category", "at-risk",
		"--legal-basis", "x", "--approved-by", "y", filepath.Join(ex, "biden.jpg"), filepath.Join(ex, "two_people.jpg"))
	assert.Equal(t, 1, code, "two-person photo: exit code")
	assert.Contains(t, errOut, "two_people.jpg", "two-person photo")
	assert.Contains(t, errOut, "more than one face", "two-person photo")

	code, out, errOut = runCmd(t, "enroll", "list", "--db", db, "--json")
	require.Equal(t, 0, code, "list: exit code: %s", errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1, "entries listed:\n%s", out)
	var got watchlist.Person
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, id, got.ID)
	assert.Equal(t, "Barack Obama", got.Name)
	assert.Equal(t, watchlist.Missing, got.Category)
	assert.Equal(t, "case 2024/17", got.LegalBasis)
	assert.Equal(t, "judge Li", got.ApprovedBy)
	assert.Equal(t, expires, got.Expires.Format(time.DateOnly))
	assert.Equal(t, "Michelle +1 555 0100", got.GuardianContact)
	assert.True(t, strings.HasPrefix(got.EnrolledBy, "cli:"), "enrolled by %q", got.EnrolledBy)
	assert.Nil(t, got.Embeddings, "the listing shows embeddings")
	if assert.Len(t, got.Photos, 2) {
		assert.Equal(t, filepath.Join(ex, "obama2.jpg"), got.Photos[1].Source)
		assert.GreaterOrEqual(t, got.Photos[0].Face.H, float32(40), "height of the face")
	}
	code, out, _ = runCmd(t, "enroll", "list", "--db", db)
	assert.Equal(t, 0, code, "table listing: exit code")
	assert.Contains(t, out, "Barack Obama", "table listing")

	// What was stored is what the product matches against: the photos are kept, the embeddings come
	// from the loaded model, and the matcher names Obama from a third photo of him.
	sdb, err := store.Open(t.Context(), db)
	require.NoError(t, err)
	entry, err := sdb.Watchlist().Get(t.Context(), id)
	require.NoError(t, err)
	b, err := sdb.Watchlist().Photo(t.Context(), id, 0)
	assert.NoError(t, err, "stored photo")
	assert.NotEmpty(t, b, "stored photo")
	active, err := sdb.Watchlist().Active(t.Context(), time.Now())
	sdb.Close()
	require.NoError(t, err, "active entries")
	require.Len(t, active, 1, "active entries")
	p, err := detect.NewPipeline(detect.DefaultConfig(models))
	require.NoError(t, err)
	defer p.Close()
	m, err := watchlist.NewMatcher(active, watchlist.DefaultPolicy(), p.EmbeddingModel(), time.Now())
	require.NoError(t, err)
	probe, err := os.ReadFile(filepath.Join(eval, "faces", "face_recognition", "tests", "test_images", "obama3.jpg"))
	require.NoError(t, err)
	_, emb, err := p.EmbedPhoto(t.Context(), detect.PhotoInput{Name: "probe", Data: probe}, detect.DefaultEnrolmentRules())
	require.NoError(t, err)
	if a, _ := m.Match(emb); assert.NotNil(t, a, "a third photo of Obama matched no one") {
		assert.Equal(t, id, a.PersonID, "whom a third photo of Obama matched")
	}
	assert.Equal(t, p.EmbeddingModel(), entry.EmbeddingModel)

	code, _, errOut = runCmd(t, "enroll", "remove", "--db", db, id)
	require.Equal(t, 0, code, "remove: exit code: %s", errOut)
	code, _, errOut = runCmd(t, "enroll", "remove", "--db", db, id)
	assert.Equal(t, 1, code, "second remove: exit code")
	assert.Contains(t, errOut, "no such person", "second remove")
	_, out, _ = runCmd(t, "enroll", "list", "--db", db, "--json")
	assert.Empty(t, strings.TrimSpace(out), "list after remove")
	// Both changes are in the audit log.
	sdb, err = store.Open(t.Context(), db)
	require.NoError(t, err)
	for _, action := range []string{"watchlist.enrol", "watchlist.remove"} {
		es, err := audit.New(sdb, nil).List(t.Context(), audit.Filter{Action: action})
		assert.NoError(t, err, "audit %s", action)
		if assert.Len(t, es, 1, "audit %s", action) {
			assert.Equal(t, id, es[0].Target, "audit %s", action)
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
		code, _, errOut := runCmd(t, append(args, "a.jpg")...)
		assert.Equal(t, 1, code, "%v: exit code", tc.args)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}
	code, _, _ = runCmd(t, "enroll", "--name", "X")
	assert.Equal(t, 2, code, "no photos: exit code, want usage")
	code, _, errOut = runCmd(t, "enroll", "list", "--db", filepath.Join(t.TempDir(), "none.db"))
	assert.Equal(t, 1, code, "list of a missing database: exit code")
	assert.Contains(t, errOut, "none.db", "list of a missing database")
}

func TestModelsCommand(t *testing.T) {
	models, _ := perceptionData(t)
	code, out, errOut := runCmd(t, "models", "verify", "--dir", models)
	assert.Equal(t, 0, code, "verify: exit code: %s", errOut)
	assert.Equal(t, 4, strings.Count(out, "ok "), "verify: models ok\n%s", out)
	code, out, _ = runCmd(t, "models")
	assert.Equal(t, 0, code, "list: exit code")
	assert.Contains(t, out, "MS-Celeb-1M", "list")
	assert.Contains(t, out, "MSMT17", "list")
	empty := t.TempDir()
	code, _, errOut = runCmd(t, "models", "verify", "--dir", empty)
	assert.Equal(t, 1, code, "verify empty dir: exit code")
	assert.Contains(t, errOut, "make models", "verify empty dir")
}
