// Package testproc runs server binaries as child processes for tests (internal/childproc), failing
// the test when a port cannot be found.
package testproc

import (
	"testing"

	"github.com/stretchr/testify/require"

	"snowlight/internal/childproc"
)

// Proc is one server process (childproc.Proc).
type Proc = childproc.Proc

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort(t testing.TB) int {
	p, err := childproc.FreePort()
	require.NoError(t, err)
	return p
}
