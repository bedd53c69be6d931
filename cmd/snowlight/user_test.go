package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"snowlight/store"
)

func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUserAndAuditCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("a chosen passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Commands other than add refuse a database that does not exist rather than create an empty one.
	if _, errs, code := cli(t, "user", "list", "--db", db); code != 1 || !strings.Contains(errs, "no such file") {
		t.Fatalf("list on missing db: %d %s", code, errs)
	}
	out, errs, code := cli(t, "user", "add", "--db", db, "--name", "Root", "--role", "admin")
	if code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	if !regexp.MustCompile(`password: [a-z2-9]{5}(-[a-z2-9]{5}){4}\n`).MatchString(out) {
		t.Fatalf("generated password not shown: %s", out)
	}
	if _, errs, code := cli(t, "user", "add", "--db", db, "--name", "olga", "--role", "operator", "--cameras", "cam-1, cam-2", "--areas", "north", "--password-file", pwFile); code != 0 {
		t.Fatalf("add olga: %s", errs)
	}
	if _, errs, code := cli(t, "user", "add", "--db", db, "--name", "gus", "--role", "guardian", "--persons", "p-7", "--password-file", pwFile); code != 0 {
		t.Fatalf("add gus: %s", errs)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"user", "add", "--db", db, "--name", "olga", "--role", "operator", "--password-file", pwFile}, "already exists"},
		{[]string{"user", "add", "--db", db, "--name", "x", "--role", "sheriff"}, "unknown role"},
		{[]string{"user", "add", "--name", "x", "--role", "admin"}, "--db"},
		{[]string{"user", "disable", "--db", db, "--name", "nobody"}, "not found"},
	} {
		if _, errs, code := cli(t, c.args...); code != 1 || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: %d %s", c.args, code, errs)
		}
	}
	if out, _, code := cli(t, "user", "passwd", "--db", db, "--name", "olga"); code != 0 || !strings.Contains(out, "password: ") {
		t.Fatalf("passwd: %s", out)
	}
	if _, errs, code := cli(t, "user", "disable", "--db", db, "--name", "gus"); code != 0 {
		t.Fatal(errs)
	}
	out, _, _ = cli(t, "user", "list", "--db", db)
	for _, want := range []string{"root ", "admin", "olga", "cameras=cam-1,cam-2 areas=north", "gus", "disabled", "persons=p-7"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "a chosen passphrase") {
		t.Fatalf("list shows secrets:\n%s", out)
	}

	out, errs, code = cli(t, "audit", "verify", "--db", db)
	if code != 0 || !strings.Contains(out, "intact: 5 entries") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	head := regexp.MustCompile(`head (\d+:[0-9a-f]{64})`).FindStringSubmatch(out)
	if head == nil {
		t.Fatalf("no head in %s", out)
	}
	if _, errs, code := cli(t, "audit", "verify", "--db", db, "--anchor", head[1]); code != 0 {
		t.Fatal(errs)
	}

	// Edit an entry out of band, as someone with the file could: verify names it and fails.
	d, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET target = 'someone-else' WHERE id = 3`} {
		if _, err := d.W.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	out, errs, code = cli(t, "audit", "verify", "--db", db)
	if code != 1 || !strings.Contains(out, "BROKEN at entry 3") || !strings.Contains(errs, "broken at entry 3") {
		t.Fatalf("tampered verify: %d %s %s", code, out, errs)
	}
	if _, _, code := cli(t, "audit"); code != 2 {
		t.Fatalf("bare audit: %d", code)
	}
	if _, _, code := cli(t, "user", "frobnicate"); code != 2 {
		t.Fatalf("unknown user subcommand: %d", code)
	}
}
