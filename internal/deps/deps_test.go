package deps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/internal/shareddata"
)

// The rules are the ```deps block of docs/ARCHITECTURE.md, read by the test: the document cannot say
// one thing and the code do another. The language is go/build/deps_test.go's:
//
//	a, b < c, d;
//
// says that c and d may import a and b and whatever a and b may import. Every package appears once on
// the right of a "<" (where it is defined); "NONE" is the empty set; a name in capitals on the right
// is a group standing for what it was given. A list named with a colon,
//
//	pictures: ingest/av, detect;
//
// is a set of packages for a rule of the test's own: only the pictures list may link gocv or ingest/av.
// Names are import paths inside the module, without "snowlight/". Only imports of non-test files count.

const module = "snowlight"

// rules is a parsed deps block.
type rules struct {
	allowed map[string]map[string]bool // package or group -> what it may import (closed transitively)
	lists   map[string][]string        // named lists
}

var (
	groupName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	pkgName   = regexp.MustCompile(`^[a-z][a-z0-9_-]*(/[a-z][a-z0-9_-]*)*$`)
)

// parseRules reads the language above; errors name the statement.
func parseRules(text string) (*rules, error) {
	r := &rules{allowed: map[string]map[string]bool{"NONE": {}}, lists: map[string][]string{}}
	var lines []string
	for line := range strings.SplitSeq(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		lines = append(lines, line)
	}
	for stmt := range strings.SplitSeq(strings.Join(lines, " "), ";") {
		stmt = strings.Join(strings.Fields(stmt), " ")
		if stmt == "" {
			continue
		}
		if name, list, ok := strings.Cut(stmt, ":"); ok {
			name = strings.TrimSpace(name)
			if _, dup := r.lists[name]; dup {
				return nil, fmt.Errorf("list %s defined twice", name)
			}
			names, err := splitNames(list)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", name, err)
			}
			r.lists[name] = names
			continue
		}
		parts := strings.Split(stmt, "<")
		if len(parts) < 2 {
			return nil, fmt.Errorf("%q: no <", stmt)
		}
		var below []string
		for i, part := range parts {
			names, err := splitNames(part)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", stmt, err)
			}
			if i > 0 {
				may := map[string]bool{}
				for _, b := range below {
					allowed, ok := r.allowed[b]
					if !ok {
						return nil, fmt.Errorf("%q: %s is used before it is defined", stmt, b)
					}
					if !groupName.MatchString(b) {
						may[b] = true
					}
					maps.Copy(may, allowed)
				}
				for _, n := range names {
					if _, dup := r.allowed[n]; dup {
						return nil, fmt.Errorf("%q: %s is defined twice", stmt, n)
					}
					r.allowed[n] = may
				}
			}
			below = names
		}
	}
	return r, nil
}

func splitNames(list string) ([]string, error) {
	var out []string
	for n := range strings.SplitSeq(list, ",") {
		n = strings.TrimSpace(n)
		if !groupName.MatchString(n) && !pkgName.MatchString(n) {
			return nil, fmt.Errorf("%q is neither a package nor a group", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath string
	Imports    []string // of its non-test files
	Deps       []string // transitively
}

// check returns one line per violation: an import the rules do not allow, a package they do not place,
// a package they place that does not exist, a package outside the pictures list that links gocv or
// ingest/av.
func (r *rules) check(pkgs []pkg) []string {
	var bad []string
	ours := func(path string) (string, bool) {
		return strings.CutPrefix(path, module+"/")
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		name, _ := ours(p.ImportPath)
		seen[name] = true
		allowed, placed := r.allowed[name]
		if !placed {
			bad = append(bad, fmt.Sprintf("%s is not in the rules: place it in docs/ARCHITECTURE.md", name))
			continue
		}
		for _, imp := range p.Imports {
			if dep, ok := ours(imp); ok && !allowed[dep] {
				bad = append(bad, fmt.Sprintf("%s imports %s, which the rules do not allow", name, dep))
			}
		}
		if !slices.Contains(r.lists["pictures"], name) {
			for _, d := range p.Deps {
				if d == "gocv.io/x/gocv" || d == module+"/ingest/av" {
					bad = append(bad, fmt.Sprintf("%s links %s but handles no picture", name, d))
				}
			}
		}
	}
	for name := range r.allowed {
		if !groupName.MatchString(name) && !seen[name] {
			bad = append(bad, fmt.Sprintf("the rules place %s, which does not exist", name))
		}
	}
	for _, name := range r.lists["pictures"] {
		if !seen[name] {
			bad = append(bad, fmt.Sprintf("the pictures list names %s, which does not exist", name))
		}
	}
	slices.Sort(bad)
	return bad
}

// depsBlock returns the ```deps block of the document.
func depsBlock(doc []byte) (string, error) {
	_, rest, ok := bytes.Cut(doc, []byte("\n```deps\n"))
	if !ok {
		return "", errors.New("no ```deps block")
	}
	block, _, ok := bytes.Cut(rest, []byte("\n```"))
	if !ok {
		return "", errors.New("the ```deps block does not end")
	}
	return string(block), nil
}

// TestImportRules checks every package of the module against docs/ARCHITECTURE.md.
func TestImportRules(t *testing.T) {
	root := shareddata.RepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	require.NoError(t, err)
	block, err := depsBlock(doc)
	require.NoError(t, err)
	r, err := parseRules(block)
	require.NoError(t, err)

	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	broken := r.check(pkgs)
	assert.Empty(t, broken, "arrows docs/ARCHITECTURE.md does not allow:\n%s", strings.Join(broken, "\n"))
}

// TestRulesLanguage: the language means what the document says it does, and a violation of each kind
// is caught.
func TestRulesLanguage(t *testing.T) {
	r, err := parseRules(`
# comment
NONE < geo, media;      # leaves
geo < watchlist < STORE;
media, STORE < server;
pictures: server;`)
	require.NoError(t, err)
	assert.Empty(t, r.allowed["geo"])
	assert.Equal(t, map[string]bool{"geo": true}, r.allowed["watchlist"])
	assert.Equal(t, map[string]bool{"geo": true, "watchlist": true, "media": true}, r.allowed["server"], "transitive, through the group")
	assert.Equal(t, []string{"server"}, r.lists["pictures"])

	mod := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = module + "/" + n
		}
		return out
	}
	good := []pkg{
		{ImportPath: module + "/geo"},
		{ImportPath: module + "/media", Imports: []string{"fmt"}},
		{ImportPath: module + "/watchlist", Imports: mod("geo")},
		{ImportPath: module + "/server", Imports: mod("watchlist", "geo", "media"), Deps: []string{"gocv.io/x/gocv"}},
	}
	assert.Empty(t, r.check(good))

	bad := slices.Clone(good)
	bad[1] = pkg{ImportPath: module + "/media", Imports: mod("geo"), Deps: mod("geo", "ingest/av")}
	bad = append(bad, pkg{ImportPath: module + "/extra"})
	bad = slices.DeleteFunc(bad, func(p pkg) bool { return p.ImportPath == module+"/watchlist" })
	assert.Equal(t, []string{
		"extra is not in the rules: place it in docs/ARCHITECTURE.md",
		"media imports geo, which the rules do not allow",
		"media links snowlight/ingest/av but handles no picture",
		"the rules place watchlist, which does not exist",
	}, r.check(bad))

	for _, text := range []string{"geo < geo2; geo < geo2;", "a < b < a;", "x < y;", "Bad Name < z;", "a, b;"} {
		_, err := parseRules("NONE < a; " + text)
		assert.Error(t, err, "%q", text)
	}
}
