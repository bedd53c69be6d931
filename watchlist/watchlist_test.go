package watchlist_test

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"snowlight/geo"
	"snowlight/watchlist"
)

var t0 = time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

// unit returns v scaled to length 1, as the face embedder's vectors are.
func unit(v ...float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(s))
	}
	return out
}

func person(id, name string, cat watchlist.Category, embs ...[]float32) watchlist.Person {
	return watchlist.Person{ID: id, Name: name, Category: cat, Embeddings: embs, Enrolled: t0}
}

func TestParseCategory(t *testing.T) {
	tests := []struct {
		in   string
		want watchlist.Category
		err  bool
	}{
		{"at_risk", watchlist.AtRisk, false},
		{"at-risk", watchlist.AtRisk, false},
		{" At-Risk ", watchlist.AtRisk, false},
		{"missing", watchlist.Missing, false},
		{"SUSPECT", watchlist.Suspect, false},
		{"", "", true},
		{"vip", "", true},
		{"at risk", "", true},
		{"at__risk", "", true},
	}
	for _, tc := range tests {
		got, err := watchlist.ParseCategory(tc.in)
		assert.Equal(t, tc.want, got, "ParseCategory(%q)", tc.in)
		if tc.err {
			assert.ErrorContains(t, err, "unknown watch-list category", "ParseCategory(%q) says what is wrong", tc.in)
		} else {
			assert.NoError(t, err, "ParseCategory(%q)", tc.in)
		}
	}
	for _, c := range watchlist.Categories() {
		assert.True(t, c.Valid(), "category %q", c)
		assert.False(t, strings.ContainsAny(string(c), "- "), "category %q is not identifier-safe", c)
		// The words people read parse back to the category.
		back, err := watchlist.ParseCategory(c.Label())
		assert.NoError(t, err, "label %q of %q", c.Label(), c)
		assert.Equal(t, c, back, "label %q of %q", c.Label(), c)
	}
	assert.Equal(t, "at-risk", watchlist.AtRisk.Label())
}

// Decoding normalises the spellings people and older data use, and refuses unknown names.
func TestCategoryDecoding(t *testing.T) {
	var j struct {
		C  watchlist.Category   `json:"c"`
		Cs []watchlist.Category `json:"cs"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"c":"at-risk","cs":["missing","Suspect"]}`), &j))
	assert.Equal(t, watchlist.AtRisk, j.C, "JSON")
	assert.Equal(t, []watchlist.Category{watchlist.Missing, watchlist.Suspect}, j.Cs, "JSON")
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"c":"vip"}`), &j), "vip", "JSON refuses vip, naming it")
	assert.NoError(t, json.Unmarshal([]byte(`{"c":""}`), &j), "empty category")
	assert.Empty(t, j.C, "empty category")
	out, err := json.Marshal(struct{ C watchlist.Category }{watchlist.AtRisk})
	require.NoError(t, err)
	assert.Equal(t, `{"C":"at_risk"}`, string(out))

	var y struct {
		Categories []watchlist.Category `yaml:"categories"`
	}
	require.NoError(t, yaml.Unmarshal([]byte("categories: [at-risk, suspect]\n"), &y))
	assert.Equal(t, []watchlist.Category{watchlist.AtRisk, watchlist.Suspect}, y.Categories, "YAML")
	assert.Error(t, yaml.Unmarshal([]byte("categories: [vip]\n"), &y), "YAML accepted vip")
}

func FuzzParseCategory(f *testing.F) {
	for _, s := range []string{"at_risk", "at-risk", "Missing", " suspect", "", "vip", "at_risk\x00", "ÅT-RISK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := watchlist.ParseCategory(s)
		if err != nil {
			require.Empty(t, c, "error %v with a category", err)
			return
		}
		require.True(t, c.Valid(), "ParseCategory(%q) = %q, not a valid category", s, c)
		again, err := watchlist.ParseCategory(string(c))
		require.NoError(t, err, "not idempotent: %q -> %q", s, c)
		require.Equal(t, c, again, "not idempotent: %q -> %q", s, c)
	})
}

func TestMatcher(t *testing.T) {
	strict := person("d", "Dan", watchlist.Missing, unit(0, 0, 1, 0.2))
	strict.Threshold = 0.99
	persons := []watchlist.Person{
		person("a", "Alice", watchlist.Missing, unit(1, 0, 0, 0), unit(0.9, 0.1, 0, 0)),
		person("b", "Bob", watchlist.Suspect, unit(0, 1, 0, 0)),
		person("c", "Carol", watchlist.AtRisk, unit(0.6, 0.8, 0, 0)),
		strict,
	}
	m, err := watchlist.NewMatcher(persons, watchlist.DefaultPolicy(), "", t0)
	require.NoError(t, err)
	tests := []struct {
		name      string
		probe     []float32
		accepted  string // "" = unknown
		nearest   string
		threshold float32
	}{
		{"clear match against the mean of two embeddings", unit(1, 0.02, 0, 0), "Alice", "Alice", 0.50},
		{"suspect above its stricter threshold", unit(0.05, 1, 0.3, 0), "Bob", "Bob", 0.55},
		{"suspect below 0.55 stays unknown", unit(0, 0.5, 0, 0.8), "", "Bob", 0.55},
		{"too close to two persons", unit(1.6, 0.8, 0, 0), "", "Alice", 0.50},
		{"nobody similar", unit(0, 0, -1, 1), "", "Alice", 0.50},
		{"a person's own threshold replaces the category's", unit(0, 0, 1, 0), "", "Dan", 0.99},
		{"and is reached", unit(0, 0, 1, 0.2), "Dan", "Dan", 0.99},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, n := m.Match(tc.probe)
			got := ""
			if a != nil {
				got = a.Name
			}
			assert.Equal(t, tc.accepted, got, "accepted")
			require.NotNil(t, n, "nearest")
			assert.Equal(t, tc.nearest, n.Name, "nearest")
			assert.Equal(t, tc.threshold, n.Threshold, "threshold of the nearest")
			if a != nil {
				assert.Equal(t, n.Similarity, a.Similarity, "accepted %+v is the nearest %+v", a, n)
				assert.Positive(t, a.Margin, "accepted %+v", a)
				assert.GreaterOrEqual(t, a.Similarity, a.Threshold, "accepted %+v", a)
			}
		})
	}
	r := m.Rank(unit(1, 0, 0, 0))
	require.Len(t, r, 4)
	assert.Equal(t, "a", r[0].Person.ID)
	assert.GreaterOrEqual(t, r[0].Similarity, r[1].Similarity, "rank %+v", r)
	assert.GreaterOrEqual(t, r[1].Similarity, r[2].Similarity, "rank %+v", r)
	a, n := (&watchlist.Matcher{}).Match(unit(1, 0))
	assert.Nil(t, a, "empty watch list accepted something")
	assert.Nil(t, n, "empty watch list has a nearest")
}

// A person is compared as the mean of their photos: a probe resembling one photo only is less like the
// person than that photo, so an impostor does not get one chance per photo.
func TestTemplate(t *testing.T) {
	p := person("a", "Alice", watchlist.Missing, unit(1, 0, 0), unit(0, 1, 0))
	tpl := p.Template(false)
	require.Len(t, tpl, 3)
	assert.InDelta(t, 1, watchlist.Cosine(tpl, tpl), 1e-6, "unit length")
	assert.InDelta(t, math.Sqrt(0.5), watchlist.Cosine(tpl, unit(1, 0, 0)), 1e-6)

	m, err := watchlist.NewMatcher([]watchlist.Person{p}, watchlist.DefaultPolicy(), "", t0)
	require.NoError(t, err)
	r := m.Rank(unit(1, 0, 0))
	require.Len(t, r, 1)
	assert.InDelta(t, math.Sqrt(0.5), r[0].Similarity, 1e-6, "similarity to the template, not to the best photo")
	assert.Equal(t, watchlist.DefaultPolicy().Margin[watchlist.Missing], r[0].Margin)

	one := person("b", "Bob", watchlist.Suspect, unit(0, 0, 2))
	assert.Equal(t, unit(0, 0, 1), one.Template(false), "one photo is its own template")
	assert.Nil(t, (&watchlist.Person{}).Template(false))
}

// Faces confirmed as a person join the template only where the category learns from confirmations.
func TestTemplateLearnsFromConfirmations(t *testing.T) {
	p := person("a", "Alice", watchlist.Missing, unit(1, 0, 0))
	p.Confirmed = [][]float32{unit(0, 1, 0)}
	probe := unit(0, 1, 0)
	for _, learn := range []bool{false, true} {
		pol := watchlist.DefaultPolicy()
		pol.LearnFromConfirmations[watchlist.Missing] = learn
		m, err := watchlist.NewMatcher([]watchlist.Person{p}, pol, "", t0)
		require.NoError(t, err)
		want := 0.0
		if learn {
			want = math.Sqrt(0.5)
		}
		assert.InDelta(t, want, m.Rank(probe)[0].Similarity, 1e-6, "learn=%v", learn)
	}
	assert.False(t, watchlist.DefaultPolicy().LearnFromConfirmations[watchlist.Missing], "off by default")
	assert.Len(t, p.Embeddings, 1, "the template does not change the entry")
}

func TestNewMatcherRefuses(t *testing.T) {
	good := person("a", "Alice", watchlist.Missing, unit(1, 0))
	good.EmbeddingModel = "sha-a"
	expired := good
	expired.ID, expired.Expires = "x", t0.Add(-time.Hour)
	// An expired entry is left out before anything else is checked: retention may have purged it.
	purged := expired
	purged.ID, purged.Embeddings, purged.EmbeddingModel = "y", nil, "sha-old"
	m, err := watchlist.NewMatcher([]watchlist.Person{good, expired, purged}, watchlist.DefaultPolicy(), "sha-a", t0)
	require.NoError(t, err, "expired entries should be left out")
	assert.Equal(t, 1, m.Len(), "expired entries should be left out")
	with := func(f func(*watchlist.Person)) []watchlist.Person { p := good; f(&p); return []watchlist.Person{p} }
	tests := []struct {
		name    string
		persons []watchlist.Person
		pol     func(*watchlist.Policy)
		want    string
	}{
		{"other model", with(func(p *watchlist.Person) { p.EmbeddingModel = "sha-b" }), nil, "re-enrol"},
		{"no embeddings", with(func(p *watchlist.Person) { p.Embeddings = nil }), nil, "no embeddings"},
		{"unknown category", with(func(p *watchlist.Person) { p.Category = "vip" }), nil, "unknown watch-list category"},
		{"old spelling in code", with(func(p *watchlist.Person) { p.Category = "at-risk" }), nil, `must be spelt "at_risk"`},
		{"bad own threshold", with(func(p *watchlist.Person) { p.Threshold = 2 }), nil, "threshold 2"},
		{"bad threshold", nil, func(p *watchlist.Policy) { p.Threshold[watchlist.Suspect] = 1.5 }, "threshold for suspect"},
		{"bad margin", nil, func(p *watchlist.Policy) { p.Margin[watchlist.AtRisk] = -1 }, "margin for at_risk"},
		{"missing category", nil, func(p *watchlist.Policy) { delete(p.Threshold, watchlist.Missing) }, "threshold for missing"},
		{"no expiry limit", nil, func(p *watchlist.Policy) { p.MaxExpiry[watchlist.Suspect] = 0 }, "longest expiry for suspect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := watchlist.DefaultPolicy()
			if tc.pol != nil {
				tc.pol(&pol)
			}
			_, err := watchlist.NewMatcher(tc.persons, pol, "sha-a", t0)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// The matcher is shared by every camera's goroutine (go test -race).
func TestMatcherConcurrent(t *testing.T) {
	var persons []watchlist.Person
	for i := range 50 {
		persons = append(persons, person(watchlist.NewID(), "P", watchlist.Missing, unit(float32(i), 1, float32(50-i))))
	}
	m, err := watchlist.NewMatcher(persons, watchlist.DefaultPolicy(), "", t0)
	require.NoError(t, err)
	want, _ := m.Match(unit(10, 1, 40))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				a, n := m.Match(unit(10, 1, 40))
				ok := assert.NotNil(t, n, "concurrent nearest") &&
					assert.Equal(t, want == nil, a == nil, "concurrent match accepted %+v, alone %+v", a, want) &&
					assert.Equal(t, persons[10].ID, n.PersonID, "concurrent nearest")
				if !ok {
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDefaultPolicy(t *testing.T) {
	p := watchlist.DefaultPolicy()
	require.NoError(t, p.Validate())
	// The stricter the consequence of a wrong name, the higher the bar.
	assert.Less(t, p.Threshold[watchlist.AtRisk], p.Threshold[watchlist.Missing], "thresholds out of order")
	assert.Less(t, p.Threshold[watchlist.Missing], p.Threshold[watchlist.Suspect], "thresholds out of order")
	// Each call returns maps of its own: a caller's override must not change the defaults.
	p.Threshold[watchlist.Suspect] = 0.9
	assert.NotEqual(t, float32(0.9), watchlist.DefaultPolicy().Threshold[watchlist.Suspect], "DefaultPolicy shares its maps")
}

func TestCheckEntry(t *testing.T) {
	pol := watchlist.DefaultPolicy()
	ok := person("a", "Alice", watchlist.Suspect, unit(1, 0))
	ok.LegalBasis, ok.ApprovedBy, ok.Expires = "warrant 7/25", "judge Li", t0.Add(30*24*time.Hour)
	require.NoError(t, pol.CheckEntry(&ok, t0))
	tests := []struct {
		name string
		f    func(*watchlist.Person)
		want string
	}{
		{"no legal basis", func(p *watchlist.Person) { p.LegalBasis = "" }, "legal basis"},
		{"no approval", func(p *watchlist.Person) { p.ApprovedBy = "" }, "approved"},
		{"no expiry", func(p *watchlist.Person) { p.Expires = time.Time{} }, "at most 30 days for suspect"},
		{"past expiry", func(p *watchlist.Person) { p.Expires = t0.Add(-time.Minute) }, "not in the future"},
		{"too long for a suspect", func(p *watchlist.Person) { p.Expires = t0.Add(31 * 24 * time.Hour) }, "more than 30 days"},
	}
	for _, tc := range tests {
		p := ok
		tc.f(&p)
		assert.ErrorContains(t, pol.CheckEntry(&p, t0), tc.want, tc.name)
	}
	missing := ok
	missing.Category, missing.Expires = watchlist.Missing, t0.Add(90*24*time.Hour)
	assert.NoError(t, pol.CheckEntry(&missing, t0), "90 days for a missing person")
}

func TestPersonValidate(t *testing.T) {
	good := person("p-1", "Ann", watchlist.AtRisk, unit(1, 0), unit(0, 1))
	good.Photos = []watchlist.Photo{{Source: "a.jpg"}, {Source: "b.jpg"}}
	good.SafeZone = []geo.LatLon{{Lat: 52.5, Lon: 13.4}, {Lat: 52.6, Lon: 13.4}, {Lat: 52.6, Lon: 13.5}}
	require.NoError(t, good.Validate())
	tests := []struct {
		name string
		f    func(*watchlist.Person)
		want string
	}{
		{"bad id", func(p *watchlist.Person) { p.ID = "../x" }, "id"},
		{"no name", func(p *watchlist.Person) { p.Name = "" }, "name"},
		{"unknown category", func(p *watchlist.Person) { p.Category = "vip" }, "category"},
		{"threshold", func(p *watchlist.Person) { p.Threshold = 1.5 }, "threshold"},
		{"NaN threshold", func(p *watchlist.Person) { p.Threshold = float32(math.NaN()) }, "threshold"},
		{"no embeddings", func(p *watchlist.Person) { p.Embeddings, p.Photos = nil, nil }, "no embeddings"},
		{"photos and embeddings", func(p *watchlist.Person) { p.Photos = p.Photos[:1] }, "1 photos for 2 embeddings"},
		{"ragged embeddings", func(p *watchlist.Person) { p.Embeddings = [][]float32{{1, 0}, {1}} }, "embedding 1"},
		{"NaN embedding", func(p *watchlist.Person) { p.Embeddings = [][]float32{{1, 0}, {float32(math.NaN()), 0}} }, "not finite"},
		{"no enrolment time", func(p *watchlist.Person) { p.Enrolled = time.Time{} }, "enrolment time"},
		{"two-point zone", func(p *watchlist.Person) { p.SafeZone = p.SafeZone[:2] }, "at least 3 points"},
		{"zone off the globe", func(p *watchlist.Person) { p.SafeZone[1].Lat = 95 }, "latitude"},
	}
	for _, tc := range tests {
		p := good
		p.SafeZone = append([]geo.LatLon(nil), good.SafeZone...)
		p.Photos = append([]watchlist.Photo(nil), good.Photos...)
		tc.f(&p)
		assert.ErrorContains(t, p.Validate(), tc.want, tc.name)
	}
	a, b := watchlist.NewID(), watchlist.NewID()
	assert.NotEqual(t, a, b, "ids")
	assert.True(t, strings.HasPrefix(a, "p-"), "id %q", a)
	assert.Len(t, a, 14, "id")
	exp := good
	exp.Expires = t0.Add(time.Hour)
	assert.False(t, exp.Expired(t0), "before its expiry")
	assert.True(t, exp.Expired(t0.Add(time.Hour)), "at its expiry")
	assert.False(t, good.Expired(t0.Add(1e6*time.Hour)), "without an expiry")
}

// A face dismissed as a false match of a person raises the bar for faces like it, and only for them.
func TestMatcherNegatives(t *testing.T) {
	kit := person("kit", "Kit", watchlist.Suspect, unit(1, 0, 0, 0))
	lookalike := unit(0.80, 0.60, 0, 0) // cosine 0.80 to the enrolment: a confident match
	kit.Negatives = [][]float32{lookalike}
	m, err := watchlist.NewMatcher([]watchlist.Person{kit}, watchlist.DefaultPolicy(), "", t0)
	require.NoError(t, err)
	margin := watchlist.DefaultPolicy().Margin[watchlist.Suspect]
	tests := []struct {
		name     string
		probe    []float32
		accepted bool
	}{
		{"the dismissed face again", lookalike, false},
		{"a face close to the dismissed one", unit(0.82, 0.57, 0.05, 0), false},
		{"the person, unlike the look-alike", unit(0.95, -0.2, 0.24, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			accepted, nearest := m.Match(tc.probe)
			require.NotNil(t, nearest)
			require.Equal(t, tc.accepted, accepted != nil, "accepted (nearest %+v)", nearest)
			neg := watchlist.Cosine(tc.probe, lookalike)
			want := max(watchlist.DefaultPolicy().Threshold[watchlist.Suspect], min(1, neg+margin))
			assert.Equal(t, want, nearest.Threshold, "similarity to the dismissed face %.3f plus the margin", neg)
		})
	}
}

// A local template (the person's faces in the footage at hand) is a second template: the person's
// similarity is the higher of the two, under the same threshold, margin and negatives.
func TestMatchWithLocal(t *testing.T) {
	alice := person("a", "Alice", watchlist.Missing, unit(1, 0, 0, 0))
	alice.Negatives = [][]float32{unit(0, 0, 0, 1)}
	bob := person("b", "Bob", watchlist.Missing, unit(0, 1, 0, 0))
	m, err := watchlist.NewMatcher([]watchlist.Person{alice, bob}, watchlist.DefaultPolicy(), "", t0)
	require.NoError(t, err)
	local := map[string][]float32{"a": unit(0, 0, 1, 0)}
	tests := []struct {
		name     string
		probe    []float32
		local    map[string][]float32
		accepted string // "" = unknown
		isLocal  bool
	}{
		{"like the local template only", unit(0.1, 0, 1, 0), local, "Alice", true},
		{"the same face without it", unit(0.1, 0, 1, 0), nil, "", false},
		{"like the photo: the photo's similarity counts", unit(1, 0, 0.3, 0), local, "Alice", false},
		{"as like another person's photo: no margin", unit(0, 0.9, 1, 0), local, "", true},
		{"like a face dismissed as not her", unit(0, 0, 0.6, 0.8), local, "", true},
		{"another person's local template does not name her", unit(0.1, 0, 1, 0), map[string][]float32{"b": unit(0, 0, 1, 0)}, "Bob", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, n := m.MatchWith(tc.probe, tc.local)
			require.NotNil(t, n)
			assert.Equal(t, tc.isLocal, n.Local, "nearest %+v", n)
			if tc.accepted == "" {
				assert.Nil(t, a, "nearest %+v", n)
				return
			}
			require.NotNil(t, a, "nearest %+v", n)
			assert.Equal(t, tc.accepted, a.Name)
			assert.Equal(t, *n, *a)
		})
	}
	r := m.RankWith(unit(0.1, 0, 1, 0), local)
	require.Len(t, r, 2)
	assert.True(t, r[0].Local)
	assert.Equal(t, m.Rank(unit(1, 0, 0, 0)), m.RankWith(unit(1, 0, 0, 0), nil))

	pol := watchlist.DefaultPolicy()
	pol.LocalTemplates[watchlist.Missing] = false
	off, err := watchlist.NewMatcher([]watchlist.Person{alice, bob}, pol, "", t0)
	require.NoError(t, err)
	a, n := off.MatchWith(unit(0.1, 0, 1, 0), local)
	assert.Nil(t, a, "the category does not take local templates")
	assert.False(t, n.Local)
}

func TestMean(t *testing.T) {
	assert.Nil(t, watchlist.Mean(nil))
	assert.Equal(t, unit(1, 1, 0), watchlist.Mean([][]float32{unit(1, 0, 0), unit(0, 1, 0)}))
	assert.Equal(t, []float32{0, 0}, watchlist.Mean([][]float32{{1, 0}, {-1, 0}}), "cancelling out")
	assert.Equal(t, unit(1, 1), watchlist.Mean([][]float32{{1, 0}, {0, 1, 5}}), "the first one's length")
}
