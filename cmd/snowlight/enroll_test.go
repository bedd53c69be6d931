package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"snowlight/detect"
)

func TestEnrollListRemove(t *testing.T) {
	models, eval := perceptionData(t)
	wl := t.TempDir()
	ex := filepath.Join(eval, "faces", "face_recognition", "examples")
	code, out, errOut := runCmd(t, "enroll", "--watchlist", wl, "--models", models, "--name", "Barack Obama",
		"--category", "missing", "--legal-basis", "case 2024/17", "--expires", "2099-01-01",
		filepath.Join(ex, "obama.jpg"), filepath.Join(ex, "obama2.jpg"))
	if code != 0 {
		t.Fatalf("enroll: exit %d: %s", code, errOut)
	}
	id := strings.Fields(out)[0]

	// A photo with two people is refused, naming the photo; nothing is stored.
	code, _, errOut = runCmd(t, "enroll", "--watchlist", wl, "--models", models, "--name", "Joe Biden",
		"--category", "suspect", filepath.Join(ex, "biden.jpg"), filepath.Join(ex, "two_people.jpg"))
	if code != 1 || !strings.Contains(errOut, "two_people.jpg") || !strings.Contains(errOut, "more than one face") {
		t.Errorf("two-person photo: exit %d, %s", code, errOut)
	}

	code, out, errOut = runCmd(t, "enroll", "list", "--watchlist", wl, "--json")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("list shows %d entries:\n%s", len(lines), out)
	}
	var got detect.Identity
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Name != "Barack Obama" || got.Category != detect.Missing || len(got.Photos) != 2 ||
		got.LegalBasis != "case 2024/17" || got.Expires.Year() != 2099 || got.Embeddings != nil {
		t.Errorf("listed %+v", got)
	}
	if code, out, _ = runCmd(t, "enroll", "list", "--watchlist", wl); code != 0 || !strings.Contains(out, "Barack Obama") {
		t.Errorf("table listing: %d %s", code, out)
	}

	if code, _, errOut = runCmd(t, "enroll", "remove", "--watchlist", wl, id); code != 0 {
		t.Fatalf("remove: exit %d: %s", code, errOut)
	}
	if code, _, errOut = runCmd(t, "enroll", "remove", "--watchlist", wl, id); code != 1 || !strings.Contains(errOut, "no such identity") {
		t.Errorf("second remove: exit %d: %s", code, errOut)
	}
	if _, out, _ = runCmd(t, "enroll", "list", "--watchlist", wl, "--json"); strings.TrimSpace(out) != "" {
		t.Errorf("list after remove: %s", out)
	}

	for _, args := range [][]string{
		{"enroll", "--watchlist", wl, "--name", "X", "--category", "vip", "a.jpg"},
		{"enroll", "--watchlist", wl, "--name", "X", "--category", "missing", "--expires", "2001-01-01", "a.jpg"},
	} {
		if code, _, _ := runCmd(t, args...); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
	if code, _, _ := runCmd(t, "enroll", "--name", "X"); code != 2 {
		t.Errorf("no photos: exit %d, want 2 (usage)", code)
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
