package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// WatchListStore persists the watch list. The directory store below is the embedded default; the SQLite
// store implements the same interface.
type WatchListStore interface {
	// List returns every identity, sorted by name then id.
	List(ctx context.Context) ([]Identity, error)
	// Get returns one identity or an error wrapping ErrUnknownIdentity.
	Get(ctx context.Context, id string) (Identity, error)
	// Add stores a new identity with the bytes of its enrolment photos (photos[i] is id.Photos[i]).
	Add(ctx context.Context, id Identity, photos [][]byte) error
	// Remove deletes an identity and its photos.
	Remove(ctx context.Context, id string) error
}

// ErrUnknownIdentity is wrapped when an identity id is not in the store.
var ErrUnknownIdentity = errors.New("no such identity on the watch list")

// DirStore keeps one directory per identity: identity.json and copies of the enrolment photos. Writes
// go to a temporary directory renamed into place, so a crash never leaves half an identity.
type DirStore struct {
	dir string
}

// NewDirStore opens (creating if needed) a watch-list directory.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open watch list %s: %w", dir, err)
	}
	return &DirStore{dir: dir}, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func (s *DirStore) path(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("invalid identity id %q", id)
	}
	return filepath.Join(s.dir, id), nil
}

const identityFile = "identity.json"

// List implements WatchListStore. An unreadable entry fails the listing naming the entry: silently
// dropping someone from a watch list is worse than refusing to start.
func (s *DirStore) List(ctx context.Context) ([]Identity, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list watch list %s: %w", s.dir, err)
	}
	var out []Identity
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, err := s.Get(ctx, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Name != out[b].Name {
			return out[a].Name < out[b].Name
		}
		return out[a].ID < out[b].ID
	})
	return out, nil
}

// Get implements WatchListStore.
func (s *DirStore) Get(_ context.Context, id string) (Identity, error) {
	p, err := s.path(id)
	if err != nil {
		return Identity{}, err
	}
	data, err := os.ReadFile(filepath.Join(p, identityFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, fmt.Errorf("watch list entry %s: %w", id, ErrUnknownIdentity)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("read watch list entry %s: %w", id, err)
	}
	var ident Identity
	if err := json.Unmarshal(data, &ident); err != nil {
		return Identity{}, fmt.Errorf("read watch list entry %s: %w", id, err)
	}
	if ident.ID != id {
		return Identity{}, fmt.Errorf("read watch list entry %s: file says id %q", id, ident.ID)
	}
	return ident, nil
}

// Add implements WatchListStore.
func (s *DirStore) Add(_ context.Context, id Identity, photos [][]byte) error {
	p, err := s.path(id.ID)
	if err != nil {
		return err
	}
	if len(photos) != len(id.Photos) || len(id.Embeddings) != len(id.Photos) {
		return fmt.Errorf("add %s to the watch list: %d photos, %d photo records, %d embeddings", id.ID,
			len(photos), len(id.Photos), len(id.Embeddings))
	}
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("add %s to the watch list: id already exists", id.ID)
	}
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return fmt.Errorf("add %s to the watch list: %w", id.ID, err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left here
	id.Photos = append([]EnrolmentPhoto(nil), id.Photos...)
	for i, data := range photos {
		id.Photos[i].File = fmt.Sprintf("photo-%d%s", i+1, photoExt(id.Photos[i].Source))
		if err := os.WriteFile(filepath.Join(tmp, id.Photos[i].File), data, 0o600); err != nil {
			return fmt.Errorf("add %s to the watch list: %w", id.ID, err)
		}
	}
	data, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("add %s to the watch list: %w", id.ID, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, identityFile), data, 0o600); err != nil {
		return fmt.Errorf("add %s to the watch list: %w", id.ID, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("add %s to the watch list: %w", id.ID, err)
	}
	return nil
}

func photoExt(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch ext {
	case ".jpg", ".jpeg", ".png", ".gif", ".pgm", ".ppm":
		return ext
	}
	return ".img"
}

// PhotoPath is where the store keeps an identity's enrolment photo, for showing it to an operator.
func (s *DirStore) PhotoPath(id string, ph EnrolmentPhoto) (string, error) {
	p, err := s.path(id)
	if err != nil {
		return "", err
	}
	if ph.File == "" || ph.File != filepath.Base(ph.File) {
		return "", fmt.Errorf("watch list entry %s: bad photo file name %q", id, ph.File)
	}
	return filepath.Join(p, ph.File), nil
}

// Remove implements WatchListStore.
func (s *DirStore) Remove(_ context.Context, id string) error {
	p, err := s.path(id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(p, identityFile)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", id, ErrUnknownIdentity)
	}
	// Rename first so that a crash mid-removal never leaves a half-readable identity.
	gone := filepath.Join(s.dir, ".removed-"+id)
	if err := os.Rename(p, gone); err != nil {
		return fmt.Errorf("remove %s from the watch list: %w", id, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove %s from the watch list: %w", id, err)
	}
	return nil
}
