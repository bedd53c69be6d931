package objstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Dir is a Store in a local directory, the embedded default when no MinIO is configured.
//
// Each object is a directory <key>.obj holding the content and its metadata. Put builds that directory
// under a temporary name and renames it into place: rename(2) onto an existing non-empty directory fails,
// which makes create-only atomic without locks, and a crash leaves either the whole object or none.
type Dir struct {
	root   string
	signer *Signer
	now    func() time.Time
}

const (
	objSuffix = ".obj" // marks an object directory; never a valid key's last segment (see below)
	dataFile  = "data"
	metaFile  = "meta.json"
	tmpDir    = ".tmp" // starts with '.', so no key can name it
)

// DirOptions configure a Dir.
type DirOptions struct {
	// Signer signs presigned URLs; nil disables PresignGet.
	Signer *Signer
	// Now is the clock for creation times; time.Now if nil.
	Now func() time.Time
}

// OpenDir opens (creating if needed) a local object store rooted at root.
func OpenDir(root string, opts DirOptions) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("open object directory %s: %w", root, err)
	}
	// Leftovers of puts and deletes interrupted by a crash: none of them is a committed object.
	if err := os.RemoveAll(filepath.Join(root, tmpDir)); err != nil {
		return nil, fmt.Errorf("open object directory %s: clear temporary files: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("open object directory %s: %w", root, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Dir{root: root, signer: opts.Signer, now: now}, nil
}

// Root is the directory the store lives in.
func (d *Dir) Root() string { return d.root }

// dirKey rejects keys whose last segment ends in objSuffix, which would be ambiguous on disk.
func dirKey(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasSuffix(seg, objSuffix) {
			return fmt.Errorf("%w: %q: segments ending in %q are reserved by the local store", ErrInvalidKey, key, objSuffix)
		}
	}
	return nil
}

func (d *Dir) objPath(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key)+objSuffix)
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if err := checkPut(key, size, opts); err != nil {
		return Info{}, err
	}
	if err := dirKey(key); err != nil {
		return Info{}, err
	}
	final := d.objPath(key)
	if _, err := os.Stat(final); err == nil {
		return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
	}
	tmp, err := os.MkdirTemp(filepath.Join(d.root, tmpDir), "put-")
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeFileSync(filepath.Join(tmp, dataFile), ctxReader{ctx, newVerifyingReader(r, size, opts.SHA256)}); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	info := Info{Key: key, Size: size, SHA256: strings.ToLower(opts.SHA256), ContentType: opts.ContentType, Meta: opts.Meta, Created: d.now().UTC()}
	meta, err := json.Marshal(info)
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := writeFileSync(filepath.Join(tmp, metaFile), strings.NewReader(string(meta))); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return Info{}, fmt.Errorf("put %s: %w", key, ErrExists)
		}
		return Info{}, fmt.Errorf("put %s: %w", key, err)
	}
	committed = true
	syncDir(filepath.Dir(final))
	return info, nil
}

// Get implements Store. The reader is an *os.File, so it also seeks (see Handler).
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	info, err := d.Stat(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(filepath.Join(d.objPath(key), dataFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) { // deleted since Stat
			return nil, Info{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return nil, Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	return f, info, nil
}

// Stat implements Store.
func (d *Dir) Stat(ctx context.Context, key string) (Info, error) {
	if err := dirKey(key); err != nil {
		return Info{}, err
	}
	return d.readMeta(key, d.objPath(key))
}

func (d *Dir) readMeta(key, obj string) (Info, error) {
	b, err := os.ReadFile(filepath.Join(obj, metaFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
		}
		return Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("stat %s: corrupt metadata: %w", key, err)
	}
	info.Key = key
	return info, nil
}

// Delete implements Store. The object disappears atomically (renamed away, then removed).
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := dirKey(key); err != nil {
		return err
	}
	trash := filepath.Join(d.root, tmpDir, "del-"+randomHex(8))
	if err := os.Rename(d.objPath(key), trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", key, ErrNotFound)
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	// Prune emptied parent directories; Remove fails harmlessly on non-empty ones.
	for p := filepath.Dir(d.objPath(key)); p != d.root && strings.HasPrefix(p, d.root); p = filepath.Dir(p) {
		if os.Remove(p) != nil {
			break
		}
	}
	return nil
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		// Walk only the deepest directory the prefix names entirely.
		start := d.root
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			start = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
		}
		var keys []string
		err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == start {
					return fs.SkipAll
				}
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !e.IsDir() {
				return nil
			}
			if strings.HasPrefix(e.Name(), ".") && p != d.root {
				return fs.SkipDir
			}
			if strings.HasSuffix(e.Name(), objSuffix) {
				rel, _ := filepath.Rel(d.root, p)
				key := strings.TrimSuffix(filepath.ToSlash(rel), objSuffix)
				if strings.HasPrefix(key, prefix) {
					keys = append(keys, key)
				}
				return fs.SkipDir
			}
			return nil
		})
		if err != nil {
			yield(Info{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		sort.Strings(keys)
		for _, k := range keys {
			info, err := d.readMeta(k, d.objPath(k))
			if errors.Is(err, ErrNotFound) { // deleted while listing
				continue
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

// PresignGet implements Store: the URL is the signer's base URL, the key, and an expiring HMAC that
// Verify (or Handler) checks.
func (d *Dir) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if d.signer == nil {
		return "", fmt.Errorf("presign %s: no signer configured", key)
	}
	if _, err := d.Stat(ctx, key); err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	return d.signer.Sign(key, expiry)
}

// writeFileSync writes r to a new file and flushes it to disk before returning, so a rename that follows
// never publishes a file whose content a power cut could lose.
func writeFileSync(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
