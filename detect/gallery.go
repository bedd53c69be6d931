package detect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"snowlight/watchlist"
)

// photoExts are the file extensions a gallery folder's photos may have.
var photoExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".pgm": true, ".ppm": true}

// LoadGalleryDir enrols a gallery laid out as one folder per person (DIR/<person>/*.jpg|png|...): the
// person's name is the folder name. Investigators use it to search footage for a few people without
// touching the watch list. A photo without exactly one usable face fails the load when skip is nil;
// otherwise it is passed to skip (to warn, naming it) and left out, and only a person left without
// any photo fails the load.
// The entries live only in memory: they carry no legal basis or expiry and are never stored.
func LoadGalleryDir(ctx context.Context, p *Pipeline, dir string, cat watchlist.Category, rules EnrolmentRules,
	skip func(photo string, err error)) ([]watchlist.Person, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read gallery %s: %w", dir, err)
	}
	var ids []watchlist.Person
	for _, e := range entries {
		folder := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !isDir(folder) {
			continue
		}
		files, err := os.ReadDir(folder)
		if err != nil {
			return nil, fmt.Errorf("read gallery %s: %w", folder, err)
		}
		var photos []PhotoInput
		skipped := 0
		for _, f := range files {
			if f.IsDir() || !photoExts[strings.ToLower(filepath.Ext(f.Name()))] {
				continue
			}
			path := filepath.Join(folder, f.Name())
			ph, err := ReadPhotoFile(path, rules.Limits.MaxBytes)
			if err != nil && skip == nil {
				return nil, fmt.Errorf("gallery: %w", err)
			}
			if err != nil {
				skip(path, err)
				skipped++
				continue
			}
			photos = append(photos, ph)
		}
		if len(photos) == 0 && skipped == 0 {
			return nil, fmt.Errorf("gallery folder %s holds no photos (.jpg, .png, .pgm)", folder)
		}
		var skipPhoto func(PhotoInput, error)
		if skip != nil {
			skipPhoto = func(ph PhotoInput, err error) { skip(ph.Name, err) }
		}
		id, err := p.enrol(ctx, e.Name(), cat, photos, rules, skipPhoto)
		if err != nil {
			return nil, fmt.Errorf("gallery folder %s: %w", folder, err)
		}
		id.ID = galleryID(e.Name())
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("gallery %s has no person folders (expected DIR/<person>/*.jpg)", dir)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a].Name < ids[b].Name })
	return ids, nil
}

// isDir reports whether path is a directory or a link to one.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// galleryID derives a stable id from a folder name, so repeated runs name people the same way.
func galleryID(name string) string {
	var b strings.Builder
	b.WriteString("g-")
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}
