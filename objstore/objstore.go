// Package objstore keeps evidence (clips, snapshots, face crops) as immutable objects: MinIO through
// minio-go in production, a local directory as the embedded default, and a spool that keeps uploads safe
// on local disk while MinIO is unreachable.
//
// Objects are written once. Put is create-only and verifies the content against the SHA-256 the caller
// declares, and ContentKey names an object after that hash, so retrying an upload whose outcome is
// unknown can neither overwrite evidence nor store it twice.
package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"strings"
	"time"
)

// Errors a Store reports; test with errors.Is.
var (
	// ErrExists means Put found an object under the key already; nothing was written.
	ErrExists = errors.New("object already exists")
	// ErrNotFound means no object has the key.
	ErrNotFound = errors.New("object not found")
	// ErrChecksum means the content did not match the declared SHA-256 (or size); nothing was stored.
	ErrChecksum = errors.New("content does not match its checksum")
	// ErrInvalidKey means the key is not a valid object key.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrSpoolFull means the remote store is unreachable and the local spool has no room for the object.
	ErrSpoolFull = errors.New("upload spool full")
	// ErrPending means the object is safe in the spool but not yet in the remote store, so there is no
	// URL to give out yet.
	ErrPending = errors.New("object not uploaded yet")
)

// Meta links an object to what it is evidence of.
type Meta struct {
	AlertID string    `json:"alert_id,omitempty"`
	Camera  string    `json:"camera,omitempty"`
	Start   time.Time `json:"start,omitzero"` // wall time of the first frame shown
	End     time.Time `json:"end,omitzero"`
}

// Info describes a stored object.
type Info struct {
	Key         string    `json:"key"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"` // lower-case hex
	ContentType string    `json:"content_type,omitempty"`
	Meta        Meta      `json:"meta"`
	Created     time.Time `json:"created"`
	// Pending is set by the spool when the object is held locally and not yet in the remote store.
	Pending bool `json:"pending,omitempty"`
}

// PutOptions describe an object being written.
type PutOptions struct {
	// SHA256 is the lower-case hex SHA-256 of the content; required. The store verifies it.
	SHA256      string
	ContentType string
	Meta        Meta
}

// Store is an object store. Implementations are safe for concurrent use.
type Store interface {
	// Put stores size bytes read from r under key, only if no object has that key (ErrExists
	// otherwise), and only if the content hashes to opts.SHA256 (ErrChecksum otherwise).
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error)
	// Get opens an object for reading; the caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat describes an object.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes an object; ErrNotFound if there was none.
	Delete(ctx context.Context, key string) error
	// List yields the objects whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// PresignGet returns a URL that reads the object without further credentials until expiry.
	PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// ContentKey names content by its hash: kind/sha256hex.ext, for example clip/9f86...08.mp4. kind and ext
// must be valid key segments.
func ContentKey(kind, sha256hex, ext string) (string, error) {
	if !isHexSHA256(sha256hex) {
		return "", fmt.Errorf("%w: %q is not a hex SHA-256", ErrInvalidKey, sha256hex)
	}
	key := kind + "/" + strings.ToLower(sha256hex)
	if ext != "" {
		key += "." + ext
	}
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// PutContent stores data under its content key (see ContentKey). Storing the same content again is not
// an error: it returns the object already there, after checking that it really holds this content.
func PutContent(ctx context.Context, s Store, kind, ext string, data []byte, contentType string, meta Meta) (Info, error) {
	sum := sha256.Sum256(data)
	key, err := ContentKey(kind, hex.EncodeToString(sum[:]), ext)
	if err != nil {
		return Info{}, err
	}
	return PutBytes(ctx, s, key, data, contentType, meta)
}

// PutBytes stores data under key, create-only. Storing the same data again is not an error: it returns
// the object already there, after checking that it really holds this data; different data under the key
// is refused (wrapping ErrExists).
func PutBytes(ctx context.Context, s Store, key string, data []byte, contentType string, meta Meta) (Info, error) {
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])
	info, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), PutOptions{SHA256: hexsum, ContentType: contentType, Meta: meta})
	if errors.Is(err, ErrExists) {
		have, serr := s.Stat(ctx, key)
		if serr != nil {
			return Info{}, fmt.Errorf("put %s: exists, and stat failed: %w", key, serr)
		}
		if have.SHA256 != hexsum || have.Size != int64(len(data)) {
			return Info{}, fmt.Errorf("put %s: %w with other content (sha256 %s, %d bytes)", key, ErrExists, have.SHA256, have.Size)
		}
		return have, nil
	}
	return info, err
}

// Records is a create-only collection of small named records under a key prefix in a Store, such as the
// audit chain's anchors (it implements audit.AnchorStore).
type Records struct {
	Store  Store
	Prefix string // ends with "/"
}

// Create stores data as the record name; the same data again is not an error, other data is.
func (r Records) Create(ctx context.Context, name string, data []byte) error {
	_, err := PutBytes(ctx, r.Store, r.Prefix+name, data, "application/json", Meta{})
	return err
}

// Names yields the records' names in order.
func (r Records) Names(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for info, err := range r.Store.List(ctx, r.Prefix) {
			if !yield(strings.TrimPrefix(info.Key, r.Prefix), err) || err != nil {
				return
			}
		}
	}
}

// maxKeyLen matches S3's limit on object names.
const maxKeyLen = 1024

// ValidateKey checks that key is a relative slash-separated path of segments made of letters, digits,
// '.', '_' and '-', none of them empty or starting with '.'. This is stricter than S3 on purpose: keys
// become file paths in the local store and URL paths in presigned links, so nothing in them may be
// interpreted (no "..", no percent signs, no backslashes).
func ValidateKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("%w: length %d", ErrInvalidKey, len(key))
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%w: %q has an empty segment or one starting with '.'", ErrInvalidKey, key)
		}
		for i := 0; i < len(seg); i++ {
			if !keyByte(seg[i]) {
				return fmt.Errorf("%w: %q contains %q", ErrInvalidKey, key, seg[i])
			}
		}
	}
	return nil
}

// validatePrefix accepts "" and any prefix of a valid key.
func validatePrefix(prefix string) error {
	for i := 0; i < len(prefix); i++ {
		if prefix[i] != '/' && !keyByte(prefix[i]) {
			return fmt.Errorf("%w: prefix %q contains %q", ErrInvalidKey, prefix, prefix[i])
		}
	}
	if strings.Contains(prefix, "//") || strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "/.") || strings.HasPrefix(prefix, ".") {
		return fmt.Errorf("%w: prefix %q", ErrInvalidKey, prefix)
	}
	return nil
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func checkPut(key string, size int64, opts PutOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if !isHexSHA256(opts.SHA256) {
		return fmt.Errorf("put %s: SHA256 %q is not a hex SHA-256", key, opts.SHA256)
	}
	if size < 0 {
		return fmt.Errorf("put %s: size must be known, got %d", key, size)
	}
	return nil
}

// verifyingReader passes size bytes through and fails the read that reaches the end if the content had
// another length or hash, so a store streaming from it aborts instead of committing bad content.
type verifyingReader struct {
	r     io.Reader
	h     hash.Hash
	want  string
	left  int64
	final error
}

func newVerifyingReader(r io.Reader, size int64, sha256hex string) *verifyingReader {
	return &verifyingReader{r: r, h: sha256.New(), want: strings.ToLower(sha256hex), left: size}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.final != nil {
		return 0, v.final
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := 0, error(nil)
	if len(p) > 0 {
		n, err = v.r.Read(p)
		v.h.Write(p[:n])
		v.left -= int64(n)
	}
	switch {
	case v.left == 0:
		// Anything past the declared size means the caller's size was wrong.
		var one [1]byte
		if m, _ := io.ReadFull(v.r, one[:]); m > 0 {
			v.final = fmt.Errorf("%w: more than the declared size", ErrChecksum)
		} else if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			v.final = fmt.Errorf("%w: sha256 is %s, declared %s", ErrChecksum, got, v.want)
		} else {
			v.final = io.EOF
		}
		if v.final != io.EOF {
			return 0, v.final
		}
		return n, v.final
	case err == io.EOF:
		v.final = fmt.Errorf("%w: content ended %d bytes short of the declared size", ErrChecksum, v.left)
		return 0, v.final
	}
	return n, err
}
