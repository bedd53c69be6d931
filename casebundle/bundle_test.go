package casebundle_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/casebundle"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// evidence is a small case: a clip, a snapshot, the trajectory and the audit entries.
func evidence() map[string][]byte {
	clip := make([]byte, 5000)
	for i := range clip {
		clip[i] = byte(i * 7)
	}
	return map[string][]byte{
		"clips/alert-12.mp4":      clip,
		"snapshots/s-1.jpg":       []byte("\xff\xd8 not really a jpeg \xff\xd9"),
		"trajectory.json":         []byte(`{"id":"t1","sightings":["a","b"]}`),
		"audit.jsonl":             []byte(`{"seq":1,"action":"case.export"}` + "\n"),
		"map.png":                 []byte("\x89PNG..."),
		"snapshots/nested/ok.jpg": []byte("x"),
	}
}

func write(t *testing.T, key ed25519.PrivateKey, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := casebundle.NewWriter(&buf, casebundle.Meta{Case: "C-2026-17", Reason: "phone theft at the market",
		Subject: "trajectory/t1", CreatedBy: "ana", Created: time.Date(2026, 12, 5, 14, 20, 0, 0, time.UTC)})
	for _, name := range sortedNames(files) {
		require.NoError(t, w.Add(name, bytes.NewReader(files[name])))
	}
	_, err := w.Close(key)
	require.NoError(t, err)
	return buf.Bytes()
}

func sortedNames(files map[string][]byte) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	return names
}

func verify(b []byte, o casebundle.VerifyOptions) (casebundle.Manifest, error) {
	return casebundle.Verify(bytes.NewReader(b), int64(len(b)), o)
}

// entries reads a bundle's files back.
func entries(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		out[f.Name], err = io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
	}
	return out
}

// rezip writes files as a zip in the given order, valid CRCs and all: what a careful forger makes.
func rezip(t *testing.T, names []string, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		require.NoError(t, err)
		_, err = w.Write(files[n])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	key := newKey(t)
	b := write(t, key, evidence())
	m, err := verify(b, casebundle.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	require.NoError(t, err)
	assert.Equal(t, "C-2026-17", m.Case)
	assert.Equal(t, "ana", m.CreatedBy)
	require.Len(t, m.Files, len(evidence()))
	for _, f := range m.Files {
		sum := sha256.Sum256(evidence()[f.Name])
		assert.Equal(t, hex.EncodeToString(sum[:]), f.SHA256, f.Name)
		assert.Equal(t, int64(len(evidence()[f.Name])), f.Size)
	}

	_, err = verify(b, casebundle.VerifyOptions{PublicKey: newKey(t).Public().(ed25519.PublicKey)})
	var ve *casebundle.Error
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, casebundle.ManifestName, ve.File)
	assert.Contains(t, err.Error(), "not the expected")
}

// TestOneByteChanged: changing any one byte of any file, of the manifest or of the signature fails,
// naming that file, whether the forger fixes the zip's CRCs (rezip) or not (a byte flipped in place).
func TestOneByteChanged(t *testing.T) {
	key := newKey(t)
	b := write(t, key, evidence())
	files := entries(t, b)
	names := append(sortedNames(evidence()), casebundle.ManifestName, casebundle.SignatureName)
	require.NoError(t, func() error { _, err := verify(rezip(t, names, files), casebundle.VerifyOptions{}); return err }())

	for _, name := range names {
		data := files[name]
		step := max(1, len(data)/97) // every byte of small files, ~100 spread over large ones
		for i := 0; i < len(data); i += step {
			changed := map[string][]byte{}
			for n, d := range files {
				changed[n] = d
			}
			c := bytes.Clone(data)
			c[i] ^= 0x20
			changed[name] = c
			_, err := verify(rezip(t, names, changed), casebundle.VerifyOptions{})
			var ve *casebundle.Error
			if !assert.ErrorAs(t, err, &ve, "%s byte %d", name, i) {
				continue
			}
			if name == casebundle.SignatureName || name == casebundle.ManifestName {
				assert.Contains(t, []string{casebundle.ManifestName, casebundle.SignatureName}, ve.File)
			} else {
				assert.Equal(t, name, ve.File, "%s byte %d: %v", name, i, err)
			}
		}
	}

	// In place: a byte of each file's zip data flipped, CRC left stale. Deflate has redundant bits (Go's
	// writer ends with an empty final block, so marking the first block final changes no byte of the
	// file): a flip must fail verification or leave every file as it was.
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	for _, f := range zr.File {
		off, err := f.DataOffset()
		require.NoError(t, err)
		for _, at := range []int64{0, int64(f.CompressedSize64) / 2, int64(f.CompressedSize64) - 1} {
			c := bytes.Clone(b)
			c[off+at] ^= 0x01
			_, err := verify(c, casebundle.VerifyOptions{})
			var ve *casebundle.Error
			switch {
			case err == nil:
				assert.Equal(t, files, entries(t, c), "%s at %d: verified, so no file may differ", f.Name, at)
			case assert.ErrorAs(t, err, &ve) && ve.File != casebundle.ManifestName && ve.File != casebundle.SignatureName:
				assert.Equal(t, f.Name, ve.File)
			}
		}
	}
}

func TestExtraMissingAndUnsafeFiles(t *testing.T) {
	key := newKey(t)
	b := write(t, key, evidence())
	files := entries(t, b)
	names := append(sortedNames(evidence()), casebundle.ManifestName, casebundle.SignatureName)

	for what, c := range map[string]struct {
		names []string
		add   map[string][]byte
		file  string
	}{
		"extra":     {append(slices.Clone(names), "notes.txt"), map[string][]byte{"notes.txt": []byte("hi")}, "notes.txt"},
		"missing":   {without(names, "audit.jsonl"), nil, "audit.jsonl"},
		"no sig":    {without(names, casebundle.SignatureName), nil, casebundle.SignatureName},
		"duplicate": {append(slices.Clone(names), "map.png"), nil, "map.png"},
		"zip slip":  {append(slices.Clone(names), "../../etc/cron.d/x"), map[string][]byte{"../../etc/cron.d/x": []byte("x")}, "../../etc/cron.d/x"},
		"absolute":  {append(slices.Clone(names), "/etc/passwd"), map[string][]byte{"/etc/passwd": []byte("x")}, "/etc/passwd"},
		"backslash": {append(slices.Clone(names), `..\x`), map[string][]byte{`..\x`: []byte("x")}, `..\x`},
	} {
		all := map[string][]byte{}
		for n, d := range files {
			all[n] = d
		}
		for n, d := range c.add {
			all[n] = d
		}
		_, err := verify(rezip(t, c.names, all), casebundle.VerifyOptions{})
		var ve *casebundle.Error
		if assert.ErrorAs(t, err, &ve, what) {
			assert.Equal(t, c.file, ve.File, "%s: %v", what, err)
		}
	}

	var buf bytes.Buffer
	w := casebundle.NewWriter(&buf, casebundle.Meta{Case: "c"})
	for _, bad := range []string{"../x", "/x", "a/../b", `a\b`, "", casebundle.ManifestName, "a\x00b"} {
		assert.Error(t, w.Add(bad, strings.NewReader("x")), "%q", bad)
	}
	require.NoError(t, w.Add("a.txt", strings.NewReader("x")))
	assert.Error(t, w.Add("a.txt", strings.NewReader("y")), "twice")

	_, err := verify([]byte("PK\x03\x04 not a zip"), casebundle.VerifyOptions{})
	assert.Error(t, err)
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

// countingReader counts the bytes Verify reads from the bundle.
type countingReader struct {
	r *bytes.Reader
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestZipBomb: a file whose zip data inflates far past what the signed manifest says is stopped one
// byte past the signed size (Verify reads a small part of its compressed data); a bomb behind a forged
// signature is never inflated at all.
func TestZipBomb(t *testing.T) {
	key := newKey(t)
	const bomb = 64 << 20 // 64 MiB of zeros, about 64 KB deflated
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for range bomb >> 20 {
		_, err := fw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, fw.Close())

	// A manifest the key really signed, saying the file has 10 bytes.
	sum := sha256.Sum256(make([]byte, 10))
	m := casebundle.Manifest{Format: casebundle.Format, Case: "c", PublicKey: casebundle.EncodePublicKey(key.Public().(ed25519.PublicKey)),
		Files: []casebundle.File{{Name: "clip.mp4", Size: 10, SHA256: hex.EncodeToString(sum[:])}}}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	sig := []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)))

	build := func(sig []byte, size uint64) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "clip.mp4", Method: zip.Deflate, CRC32: 0, CompressedSize64: uint64(deflated.Len()), UncompressedSize64: size}
		raw, err := zw.CreateRaw(h)
		require.NoError(t, err)
		_, err = raw.Write(deflated.Bytes())
		require.NoError(t, err)
		for n, d := range map[string][]byte{casebundle.ManifestName: body, casebundle.SignatureName: sig} {
			w, err := zw.Create(n)
			require.NoError(t, err)
			_, err = w.Write(d)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	var ve *casebundle.Error
	b := build(sig, 10)
	cr := &countingReader{r: bytes.NewReader(b)}
	_, err = casebundle.Verify(cr, int64(len(b)), casebundle.VerifyOptions{})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "clip.mp4", ve.File)
	assert.Less(t, cr.n, int64(deflated.Len()/4), "read %d of the bomb's %d compressed bytes", cr.n, deflated.Len())
	_, err = verify(build(sig, bomb), casebundle.VerifyOptions{})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "clip.mp4", ve.File, "declared size differs from the manifest's")
	_, err = verify(build([]byte(base64.StdEncoding.EncodeToString(make([]byte, 64))), 10), casebundle.VerifyOptions{})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, casebundle.ManifestName, ve.File, "forged signature refused before any data")
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")
	k, err := casebundle.GenerateKey(path)
	require.NoError(t, err)
	_, err = casebundle.GenerateKey(path)
	assert.ErrorIs(t, err, os.ErrExist, "never overwrites a key")

	loaded, err := casebundle.LoadKey(path)
	require.NoError(t, err)
	assert.True(t, k.Equal(loaded))
	pub := k.Public().(ed25519.PublicKey)
	fp := casebundle.Fingerprint(pub)
	assert.Regexp(t, `^([0-9a-f]{4} ){7}[0-9a-f]{4}$`, fp)
	back, err := casebundle.ParsePublicKey(casebundle.EncodePublicKey(pub))
	require.NoError(t, err)
	assert.True(t, pub.Equal(back))
	_, err = casebundle.ParsePublicKey("AAAA")
	assert.Error(t, err)

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = casebundle.LoadKey(path)
	assert.ErrorContains(t, err, "chmod 600")
	bad := filepath.Join(dir, "bad.key")
	require.NoError(t, os.WriteFile(bad, []byte("not pem"), 0o600))
	_, err = casebundle.LoadKey(bad)
	assert.Error(t, err)
	_, err = casebundle.LoadKey(filepath.Join(dir, "missing"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}
