package casebundle

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
	"unicode"
)

// Format names the manifest's layout; Verify refuses others.
const Format = "snowlight-case-bundle/1"

// The two files every bundle has besides its evidence.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// Manifest is what the signature covers: who exported what for which case, and every file's size and
// digest.
type Manifest struct {
	Format    string    `json:"format"`
	Case      string    `json:"case"`
	Reason    string    `json:"reason"`
	Subject   string    `json:"subject,omitempty"` // the sighting, trajectory or person the case follows
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
	// PublicKey is the signer's (EncodePublicKey): enough to check the bundle is intact; whether the
	// signer is the server is for its Fingerprint to say, compared with the one the server shows.
	PublicKey string `json:"public_key"`
	Files     []File `json:"files"`
}

// File is one evidence file of the bundle.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Meta is what the exporter says about a bundle.
type Meta struct {
	Case, Reason, Subject, CreatedBy string
	Created                          time.Time
}

// Writer writes a bundle: Add each file, then Close with the key.
type Writer struct {
	zw     *zip.Writer
	m      Manifest
	names  map[string]bool
	closed bool
}

// NewWriter starts a bundle on w.
func NewWriter(w io.Writer, meta Meta) *Writer {
	return &Writer{zw: zip.NewWriter(w), names: map[string]bool{}, m: Manifest{Format: Format, Case: meta.Case,
		Reason: meta.Reason, Subject: meta.Subject, CreatedBy: meta.CreatedBy, Created: meta.Created.UTC()}}
}

// Add stores a file under name (a relative slash path such as "clips/alert-12.mp4"), hashing it as it
// is copied.
func (w *Writer) Add(name string, r io.Reader) error {
	if w.closed {
		return errors.New("bundle: add after close")
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if name == ManifestName || name == SignatureName || w.names[name] {
		return fmt.Errorf("bundle: %q is already in the bundle", name)
	}
	method := zip.Store // clips and pictures are compressed already
	switch path.Ext(name) {
	case ".json", ".jsonl", ".txt", ".csv":
		method = zip.Deflate
	}
	zf, err := w.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: w.m.Created})
	if err != nil {
		return fmt.Errorf("bundle: add %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(zf, h), r)
	if err != nil {
		return fmt.Errorf("bundle: add %s: %w", name, err)
	}
	w.names[name] = true
	w.m.Files = append(w.m.Files, File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// Encode is the manifest as a bundle stores and its signature covers it.
func (m Manifest) Encode() ([]byte, error) { return json.MarshalIndent(m, "", "  ") }

// Digest is the hex SHA-256 of the encoded manifest: one value that names a bundle's whole content, for
// a register of what was handed over.
func (m Manifest) Digest() (string, error) {
	b, err := m.Encode()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Close writes the manifest and its signature and finishes the zip. It returns the manifest.
func (w *Writer) Close(key ed25519.PrivateKey) (Manifest, error) {
	if w.closed {
		return Manifest{}, errors.New("bundle: closed twice")
	}
	w.closed = true
	if len(key) != ed25519.PrivateKeySize {
		return Manifest{}, errors.New("bundle: no signing key")
	}
	w.m.PublicKey = EncodePublicKey(key.Public().(ed25519.PublicKey))
	body, err := w.m.Encode()
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle: manifest: %w", err)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)) + "\n"
	for _, f := range []struct {
		name string
		data []byte
	}{{ManifestName, body}, {SignatureName, []byte(sig)}} {
		zf, err := w.zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: w.m.Created})
		if err == nil {
			_, err = zf.Write(f.data)
		}
		if err != nil {
			return Manifest{}, fmt.Errorf("bundle: write %s: %w", f.name, err)
		}
	}
	if err := w.zw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("bundle: finish zip: %w", err)
	}
	return w.m, nil
}

// checkName accepts relative slash paths of printable characters without "." or ".." elements: a
// bundle is never unpacked by this package, but whoever unpacks it must not be led outside their folder.
func checkName(name string) error {
	if !fs.ValidPath(name) || name == "." || strings.ContainsRune(name, '\\') || len(name) > 255 {
		return fmt.Errorf("file name %q is not a relative slash path", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("file name %q has a control character", name)
		}
	}
	return nil
}

// VerifyOptions bounds what Verify trusts.
type VerifyOptions struct {
	// PublicKey, when set, is the key the bundle must be signed with (the server's). Without it Verify
	// checks the bundle is intact and unchanged since signing, and the caller shows the signer's
	// Fingerprint for a person to compare.
	PublicKey ed25519.PublicKey
	// MaxFiles and MaxBytes bound the evidence files (defaults 10 000 and 64 GiB uncompressed).
	MaxFiles int
	MaxBytes int64
}

// Error is a failed verification; File names the bundle file at fault ("" for the zip itself).
type Error struct {
	File   string
	Reason string
}

func (e *Error) Error() string {
	if e.File == "" {
		return "bundle: " + e.Reason
	}
	return fmt.Sprintf("bundle file %q: %s", e.File, e.Reason)
}

func fail(file, format string, args ...any) error {
	return &Error{File: file, Reason: fmt.Sprintf(format, args...)}
}

const (
	maxManifest  = 4 << 20
	maxSignature = 1 << 10
)

// VerifyFile verifies the bundle at path.
func VerifyFile(name string, o VerifyOptions) (Manifest, error) {
	f, err := os.Open(name)
	if err != nil {
		return Manifest{}, fmt.Errorf("verify bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Manifest{}, fmt.Errorf("verify bundle: %w", err)
	}
	return Verify(f, st.Size(), o)
}

// Verify checks a bundle: the manifest's signature, then that the zip holds exactly the manifest's
// files (none missing, none extra, no name twice, no unsafe name) with their sizes and SHA-256. It
// reads the signature before any evidence and no file past its signed size, so a crafted zip cannot
// make it decompress more than the signer declared. Errors are *Error.
func Verify(r io.ReaderAt, size int64, o VerifyOptions) (Manifest, error) {
	if o.MaxFiles <= 0 {
		o.MaxFiles = 10_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 30
	}
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) { // a name leading outside the folder: say which
		for _, f := range zr.File {
			if checkName(f.Name) != nil {
				return Manifest{}, fail(f.Name, "not a relative slash path (would unpack outside its folder)")
			}
		}
	}
	if err != nil {
		return Manifest{}, fail("", "not a readable zip: %v", err)
	}
	if len(zr.File) > o.MaxFiles+2 {
		return Manifest{}, fail("", "%d files, more than the %d allowed", len(zr.File), o.MaxFiles)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if err := checkName(f.Name); err != nil {
			return Manifest{}, fail(f.Name, "%v", err)
		}
		if entries[f.Name] != nil {
			return Manifest{}, fail(f.Name, "appears twice in the zip")
		}
		entries[f.Name] = f
	}

	body, err := readSmall(entries[ManifestName], ManifestName, maxManifest)
	if err != nil {
		return Manifest{}, err
	}
	sigText, err := readSmall(entries[SignatureName], SignatureName, maxSignature)
	if err != nil {
		return Manifest{}, err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigText)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Manifest{}, fail(SignatureName, "not a base64 Ed25519 signature")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fail(ManifestName, "not a manifest: %v", err)
	}
	if m.Format != Format {
		return Manifest{}, fail(ManifestName, "format %q, not %q", m.Format, Format)
	}
	pub, err := ParsePublicKey(m.PublicKey)
	if err != nil {
		return Manifest{}, fail(ManifestName, "%v", err)
	}
	if o.PublicKey != nil && !pub.Equal(o.PublicKey) {
		return Manifest{}, fail(ManifestName, "signed by key %s, not the expected %s", Fingerprint(pub), Fingerprint(o.PublicKey))
	}
	if !ed25519.Verify(pub, body, sig) {
		return Manifest{}, fail(ManifestName, "the signature does not match: the manifest or its signature was changed")
	}

	if len(m.Files) > o.MaxFiles {
		return Manifest{}, fail(ManifestName, "lists %d files, more than the %d allowed", len(m.Files), o.MaxFiles)
	}
	listed := make(map[string]bool, len(m.Files))
	var total int64
	for _, f := range m.Files {
		if err := checkName(f.Name); err != nil || f.Name == ManifestName || f.Name == SignatureName || listed[f.Name] {
			return Manifest{}, fail(f.Name, "listed twice or not a valid evidence file name")
		}
		listed[f.Name] = true
		if total += f.Size; f.Size < 0 || total > o.MaxBytes {
			return Manifest{}, fail(f.Name, "the files add up to more than %d bytes", o.MaxBytes)
		}
	}
	for _, f := range m.Files {
		if err := checkFile(entries[f.Name], f); err != nil {
			return Manifest{}, err
		}
	}
	for name := range entries {
		if !listed[name] && name != ManifestName && name != SignatureName {
			return Manifest{}, fail(name, "is in the zip but not in the signed manifest")
		}
	}
	return m, nil
}

func readSmall(f *zip.File, name string, limit int64) ([]byte, error) {
	if f == nil {
		return nil, fail(name, "missing")
	}
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fail(name, "%d bytes, more than %d", f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fail(name, "unreadable: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fail(name, "unreadable: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, fail(name, "more than %d bytes", limit)
	}
	return b, nil
}

// checkFile hashes one evidence file, reading at most one byte past its signed size.
func checkFile(zf *zip.File, f File) error {
	if zf == nil {
		return fail(f.Name, "is in the signed manifest but missing from the zip")
	}
	if zf.UncompressedSize64 != uint64(f.Size) {
		return fail(f.Name, "%d bytes, the manifest says %d", zf.UncompressedSize64, f.Size)
	}
	rc, err := zf.Open()
	if err != nil {
		return fail(f.Name, "unreadable: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, f.Size+1))
	if err != nil {
		return fail(f.Name, "unreadable (changed?): %v", err)
	}
	if n != f.Size {
		return fail(f.Name, "%d bytes, the manifest says %d", n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fail(f.Name, "SHA-256 %s, the manifest says %s: the file was changed", got, f.SHA256)
	}
	return nil
}
