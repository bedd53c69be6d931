package bus_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus"
	"snowlight/bus/natsconf"
)

// A seed file others may read is refused before anything is dialled: it is the process's password.
func TestSeedFileMode(t *testing.T) {
	cr, err := natsconf.NewCredentials("edge-a")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "edge-a.nk")
	require.NoError(t, os.WriteFile(path, cr.Seed, 0o644))
	_, err = bus.Connect(t.Context(), bus.ConnectOptions{URLs: []string{"nats://127.0.0.1:1"}, Name: "edge-a", SeedFile: path})
	assert.ErrorContains(t, err, "readable by others")

	require.NoError(t, os.Chmod(path, 0o600))
	nc, err := bus.Connect(t.Context(), bus.ConnectOptions{URLs: []string{"nats://127.0.0.1:1"}, Name: "edge-a", SeedFile: path})
	require.NoError(t, err, "a private seed file is taken (the connection keeps trying in the background)")
	nc.Close()
}
