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
// person's name is the folder name, and every photo must hold exactly one usable face. Investigators use
// it to search footage for a few people without touching the watch list.
// The entries live only in memory: they carry no legal basis or expiry and are never stored.
func LoadGalleryDir(ctx context.Context, p *Pipeline, dir string, cat watchlist.Category, rules EnrolmentRules) ([]watchlist.Person, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read gallery %s: %w", dir, err)
	}
	var ids []watchlist.Person
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		folder := filepath.Join(dir, e.Name())
		files, err := os.ReadDir(folder)
		if err != nil {
			return nil, fmt.Errorf("read gallery %s: %w", folder, err)
		}
		var photos []PhotoInput
		for _, f := range files {
			if f.IsDir() || !photoExts[strings.ToLower(filepath.Ext(f.Name()))] {
				continue
			}
			ph, err := ReadPhotoFile(filepath.Join(folder, f.Name()), rules.Limits.MaxBytes)
			if err != nil {
				return nil, fmt.Errorf("gallery: %w", err)
			}
			photos = append(photos, ph)
		}
		if len(photos) == 0 {
			return nil, fmt.Errorf("gallery folder %s holds no photos (.jpg, .png, .pgm)", folder)
		}
		id, err := p.Enrol(ctx, e.Name(), cat, photos, rules)
		if err != nil {
			return nil, err
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
