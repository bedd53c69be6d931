package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"snowlight/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, os.WriteFile(pwFile, []byte("a chosen passphrase\n"), 0o600))
	// Commands other than add refuse a database that does not exist rather than create an empty one.
	_, errs, code := cli(t, "user", "list", "--db", db)
	require.Equal(t, 1, code, "list on missing db: exit code")
	require.Contains(t, errs, "no such file", "list on missing db")
	out, errs, code := cli(t, "user", "add", "--db", db, "--name", "Root", "--role", "admin")
	require.Equal(t, 0, code, "add: exit code: %s", errs)
	require.Regexp(t, `password: [a-z2-9]{5}(-[a-z2-9]{5}){4}\n`, out, "generated password not shown")
	_, errs, code = cli(t, "user", "add", "--db", db, "--name", "olga", "--role", "operator", "--cameras", "cam-1, cam-2", "--areas", "north", "--password-file", pwFile)
	require.Equal(t, 0, code, "add olga: %s", errs)
	_, errs, code = cli(t, "user", "add", "--db", db, "--name", "gus", "--role", "guardian", "--persons", "p-7", "--password-file", pwFile)
	require.Equal(t, 0, code, "add gus: %s", errs)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"user", "add", "--db", db, "--name", "olga", "--role", "operator", "--password-file", pwFile}, "already exists"},
		{[]string{"user", "add", "--db", db, "--name", "x", "--role", "sheriff"}, "unknown role"},
		{[]string{"user", "add", "--name", "x", "--role", "admin"}, "--db"},
		{[]string{"user", "disable", "--db", db, "--name", "nobody"}, "not found"},
	} {
		_, errs, code := cli(t, c.args...)
		assert.Equal(t, 1, code, "%v: exit code", c.args)
		assert.Contains(t, errs, c.msg, "%v", c.args)
	}
	out, _, code = cli(t, "user", "passwd", "--db", db, "--name", "olga")
	require.Equal(t, 0, code, "passwd: exit code")
	require.Contains(t, out, "password: ", "passwd")
	_, errs, code = cli(t, "user", "disable", "--db", db, "--name", "gus")
	require.Equal(t, 0, code, "disable: %s", errs)
	out, _, _ = cli(t, "user", "list", "--db", db)
	for _, want := range []string{"root ", "admin", "olga", "cameras=cam-1,cam-2 areas=north", "gus", "disabled", "persons=p-7"} {
		assert.Contains(t, out, want, "the list")
	}
	require.NotContains(t, out, "argon2", "the list shows secrets")
	require.NotContains(t, out, "a chosen passphrase", "the list shows secrets")

	out, errs, code = cli(t, "audit", "verify", "--db", db)
	require.Equal(t, 0, code, "verify: exit code: %s", errs)
	require.Contains(t, out, "intact: 5 entries", "verify")
	head := regexp.MustCompile(`head (\d+:[0-9a-f]{64})`).FindStringSubmatch(out)
	require.NotNil(t, head, "no head in %s", out)
	_, errs, code = cli(t, "audit", "verify", "--db", db, "--anchor", head[1])
	require.Equal(t, 0, code, "verify with an anchor: %s", errs)

	// Edit an entry out of band, as someone with the file could: verify names it and fails.
	d, err := store.Open(context.Background(), db)
	require.NoError(t, err)
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET target = 'someone-else' WHERE id = 3`} {
		_, err := d.W.Exec(q)
		require.NoError(t, err)
	}
	d.Close()
	out, errs, code = cli(t, "audit", "verify", "--db", db)
	require.Equal(t, 1, code, "tampered verify: exit code")
	require.Contains(t, out, "BROKEN at entry 3", "tampered verify")
	require.Contains(t, errs, "broken at entry 3", "tampered verify")
	_, _, code = cli(t, "audit")
	require.Equal(t, 2, code, "bare audit: exit code")
	_, _, code = cli(t, "user", "frobnicate")
	require.Equal(t, 2, code, "unknown user subcommand: exit code")
}
