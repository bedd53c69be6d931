// Package shareddata finds, for tests, what lives beside the repository and is never copied into it: the
// models and the labelled evaluation data in ../shared.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// RepoRoot is the directory holding go.mod, found upwards from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the working directory")
		dir = parent
	}
}

// Dir is $env, else ../shared/<sub> beside the repository. The test skips, saying how to provide the
// data, when neither is a directory.
func Dir(t testing.TB, env, sub string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		dir = filepath.Join(filepath.Dir(RepoRoot(t)), "shared", sub)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("%s not available (set %s or provide ../shared/%s)", sub, env, sub)
	}
	return dir
}
