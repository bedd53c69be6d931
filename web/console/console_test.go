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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	r := get(t, h, "/")
	page, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.StatusCode, "page")
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "text/html"), "page's content type %q", r.Header.Get("Content-Type"))
	assert.True(t, bytes.Contains(page, []byte(`<script type="module" src="/assets/app.js">`)), "the page does not load app.js")
	// Compressed when asked, with an ETag that answers 304 next time.
	r = get(t, h, "/assets/app.js", "Accept-Encoding", "gzip, br")
	require.Equal(t, "gzip", r.Header.Get("Content-Encoding"), "app.js: %v", r.Header)
	assert.Equal(t, "text/javascript; charset=utf-8", r.Header.Get("Content-Type"), "app.js")
	zr, err := gzip.NewReader(r.Body)
	require.NoError(t, err)
	js, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.True(t, bytes.Contains(js, []byte("class AlertStream")), "app.js does not decompress to itself")
	assert.Equal(t, http.StatusNotModified, get(t, h, "/assets/app.js", "If-None-Match", r.Header.Get("ETag")).StatusCode, "revalidation")
	r = get(t, h, "/assets/nope.js")
	assert.Equal(t, http.StatusNotFound, r.StatusCode, "missing asset")
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "missing asset's content type %q", r.Header.Get("Content-Type"))
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
	require.NoError(t, err)
	require.False(t, regexp.MustCompile(`<script(?:[^>]*)>[^<]+</script>|<style|\sstyle=|\son[a-z]+=`).Match(page),
		"index.html has inline script, style or event handler")
	for _, m := range srcRe.FindAllStringSubmatch(string(page), -1) {
		_, err := os.Stat(filepath.Join(root, m[1]))
		assert.NoError(t, err, "index.html refers to %s", m[1])
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
			_, err := os.Stat(filepath.Join(root, dep))
			assert.NoError(t, err, "%s imports %s, which does not exist", p, m[1])
			if dep != "assets/app.js" {
				assert.True(t, bytes.Contains(page, []byte(`href="/`+dep+`"`)),
					"%s is not preloaded by index.html (it would load late, one import after another)", dep)
			}
		}
		// The SVG namespace is a name, not a place the browser loads from.
		src = bytes.ReplaceAll(src, []byte("http://www.w3.org/2000/svg"), nil)
		for _, f := range forbidden {
			if loc := f.re.FindIndex(src); loc != nil {
				assert.Fail(t, f.why, "%s: %q", p, src[loc[0]:loc[1]])
			}
		}
		return nil
	})
	require.NoError(t, err)
}
