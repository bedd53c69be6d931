package detect

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadPhotoFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.jpg")
	require.NoError(t, os.WriteFile(small, []byte("0123456789"), 0o600))
	cases := []struct {
		name, path string
		max        int
		want       string // error text; empty: read
	}{
		{"within the limit", small, 10, ""},
		{"over the limit, refused before reading", small, 9, "small.jpg: 10 bytes, limit 9"},
		{"missing", filepath.Join(dir, "none.jpg"), 10, "none.jpg: no such file"},
	}
	for _, c := range cases {
		ph, err := ReadPhotoFile(c.path, c.max)
		if c.want != "" {
			assert.ErrorContains(t, err, c.want, c.name)
		} else if assert.NoError(t, err, c.name) {
			assert.Equal(t, c.path, ph.Name, c.name)
			assert.Equal(t, "0123456789", string(ph.Data), c.name)
		}
	}
}
