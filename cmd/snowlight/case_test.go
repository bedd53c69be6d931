package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/casebundle"
)

// TestCaseVerify: `snowlight case verify` passes an intact bundle (exit 0, signer's fingerprint shown)
// and fails a changed one (exit 1) naming the changed file; a wrong expected key or fingerprint fails.
func TestCaseVerify(t *testing.T) {
	dir := t.TempDir()
	key, err := casebundle.GenerateKey(filepath.Join(dir, "signing.key"))
	require.NoError(t, err)
	var buf bytes.Buffer
	w := casebundle.NewWriter(&buf, casebundle.Meta{Case: "C-17", Reason: "theft", CreatedBy: "ana", Created: time.Now()})
	require.NoError(t, w.Add("snapshots/a.jpg", strings.NewReader(strings.Repeat("jpeg bytes ", 50))))
	require.NoError(t, w.Add("trajectory.json", strings.NewReader(`{"id":"t1"}`)))
	m, err := w.Close(key)
	require.NoError(t, err)
	good := filepath.Join(dir, "case.zip")
	require.NoError(t, os.WriteFile(good, buf.Bytes(), 0o600))

	out, errs, code := cli(t, "case", "verify", good)
	require.Equal(t, 0, code, errs)
	pub, err := casebundle.ParsePublicKey(m.PublicKey)
	require.NoError(t, err)
	fp := casebundle.Fingerprint(pub)
	assert.Contains(t, out, "verified: 2 files")
	assert.Contains(t, out, fp)
	_, errs, code = cli(t, "case", "verify", "--public-key", m.PublicKey, good)
	assert.Equal(t, 0, code, errs)
	_, errs, code = cli(t, "case", "verify", "--fingerprint", fp, good)
	assert.Equal(t, 0, code, errs)
	_, errs, code = cli(t, "case", "verify", "--fingerprint", "0000 1111", good)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "not 0000 1111")

	// One byte of the stored snapshot changed (stored uncompressed, so the byte is the file's).
	b := bytes.Clone(buf.Bytes())
	i := bytes.Index(b, []byte("jpeg bytes"))
	require.Positive(t, i)
	b[i] = 'J'
	bad := filepath.Join(dir, "changed.zip")
	require.NoError(t, os.WriteFile(bad, b, 0o600))
	out, errs, code = cli(t, "case", "verify", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "NOT VERIFIED")
	assert.Contains(t, errs, `"snapshots/a.jpg"`)

	_, _, code = cli(t, "case", "verify")
	assert.Equal(t, 2, code)
	_, errs, code = cli(t, "case", "verify", filepath.Join(dir, "missing.zip"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no such file")
}

// TestVersionFingerprint: `snowlight version` prints the fingerprint of the key a configuration signs
// with, the one the console shows and `case verify` prints.
func TestVersionFingerprint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "signing.pem")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	key, err := casebundle.GenerateKey(path)
	require.NoError(t, err)
	cfg := filepath.Join(dir, "snowlight.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("data_dir: "+dir+"\nevidence: {signing_key: 'file:"+path+"'}\n"), 0o600))
	out, errs, code := cli(t, "version", "--config", cfg)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, casebundle.Fingerprint(key.Public().(ed25519.PublicKey)))
	out, _, code = cli(t, "version")
	assert.Equal(t, 0, code)
	assert.NotContains(t, out, "fingerprint", "no configuration: the version only")
	_, errs, code = cli(t, "version", "--signing-key", filepath.Join(dir, "none.pem"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "serve creates it")
}
