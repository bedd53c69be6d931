package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"snowlight/web/console"
)

func get(t *testing.T, h http.Handler, p string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", p, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestServesPageAndAssets(t *testing.T) {
	h, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	r := get(t, h, "/")
	page, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !bytes.Contains(page, []byte(`<script type="module" src="/assets/app.js">`)) {
		t.Fatalf("page: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	// Compressed when asked, with an ETag that answers 304 next time.
	r = get(t, h, "/assets/app.js", "Accept-Encoding", "gzip, br")
	if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("app.js: %v", r.Header)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(zr)
	if !bytes.Contains(js, []byte("class AlertStream")) {
		t.Fatal("app.js does not decompress to itself")
	}
	if r := get(t, h, "/assets/app.js", "If-None-Match", r.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", r.StatusCode)
	}
	if r := get(t, h, "/assets/nope.js"); r.StatusCode != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("missing asset: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	n, raw, gz := h.Size()
	t.Logf("%d files, %d bytes, %d gzipped", n, raw, gz)
}

var (
	importRe  = regexp.MustCompile(`(?m)^import .* from '([^']+)';`)
	srcRe     = regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`)
	forbidden = []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write`), "builds markup from strings (XSS): use the h() helper"},
		{regexp.MustCompile(`\beval\(|new Function\(`), "evaluates strings"},
		{regexp.MustCompile(`setAttribute\(\s*'style'`), "inline styles are refused by the CSP"},
		{regexp.MustCompile(`https?://`), "loads from another origin (no CDN: the console must work offline)"},
	}
)

// TestModulesAreWhole checks that every module the page or another module imports exists, that the page
// has no inline script or style (the CSP would refuse them), and that no module builds HTML from strings
// or reaches another origin.
func TestModulesAreWhole(t *testing.T) {
	root := "."
	page, err := os.ReadFile(filepath.Join(root, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`<script(?:[^>]*)>[^<]+</script>|<style|\sstyle=|\son[a-z]+=`).Match(page) {
		t.Fatal("index.html has inline script, style or event handler")
	}
	for _, m := range srcRe.FindAllStringSubmatch(string(page), -1) {
		if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
			t.Errorf("index.html refers to %s: %v", m[1], err)
		}
	}
	err = fs.WalkDir(os.DirFS(root), "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		src, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return err
		}
		for _, m := range importRe.FindAllStringSubmatch(string(src), -1) {
			dep := path.Join(path.Dir(p), m[1])
			if _, err := os.Stat(filepath.Join(root, dep)); err != nil {
				t.Errorf("%s imports %s, which does not exist", p, m[1])
			}
			if !bytes.Contains(page, []byte(`href="/`+dep+`"`)) && dep != "assets/app.js" {
				t.Errorf("%s is not preloaded by index.html (it would load late, one import after another)", dep)
			}
		}
		// The SVG namespace is a name, not a place the browser loads from.
		src = bytes.ReplaceAll(src, []byte("http://www.w3.org/2000/svg"), nil)
		for _, f := range forbidden {
			if loc := f.re.FindIndex(src); loc != nil {
				t.Errorf("%s: %q %s", p, src[loc[0]:loc[1]], f.why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
