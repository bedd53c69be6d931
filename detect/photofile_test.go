package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPhotoFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.jpg")
	if err := os.WriteFile(small, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
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
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && (ph.Name != c.path || string(ph.Data) != "0123456789"):
			t.Errorf("%s: got %q %q", c.name, ph.Name, ph.Data)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
