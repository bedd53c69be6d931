package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditKeys(t *testing.T) {
	long := strings.Repeat("k", MinAuditKeyLen)
	file := filepath.Join(t.TempDir(), "old.key")
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat("o", MinAuditKeyLen)+"\n"), 0o600))
	env := map[string]string{"AUDIT_KEY": long, "SHORT": "short"}
	for _, c := range []struct {
		yaml, err string
	}{
		{"audit: {key: env:AUDIT_KEY, previous_keys: [file:" + file + "], anchor_every: 30s}", ""},
		{"audit: {key: env:SHORT}", "audit.key: 5 bytes is too short"},
		{"audit: {key: env:MISSING}", "audit.key: environment variable MISSING is not set"},
		{"audit: {previous_keys: [env:AUDIT_KEY]}", "audit.previous_keys: set audit.key too"},
		{"audit: {key: env:AUDIT_KEY, previous_keys: [env:AUDIT_KEY]}", "audit.previous_keys[0]: the same key is listed twice"},
		{"audit: {anchor_every: 48h}", "audit.anchor_every"},
	} {
		cfg, err := Parse(strings.NewReader(c.yaml), func(k string) string { return env[k] })
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.yaml)
			continue
		}
		require.NoError(t, err, c.yaml)
		assert.Equal(t, long, cfg.Audit.Key.Reveal())
		assert.Equal(t, strings.Repeat("o", MinAuditKeyLen), cfg.Audit.PreviousKeys[0].Reveal())
		assert.Equal(t, 30*time.Second, cfg.Audit.AnchorEvery)
	}
	assert.Equal(t, time.Minute, Default().Audit.AnchorEvery)

	_, err := ResolveSecretRef(long, nil)
	assert.ErrorContains(t, err, "not its value", "a literal key on a command line")
	s, err := ResolveSecretRef("file:"+file, nil)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("o", MinAuditKeyLen), s.Reveal())
}
