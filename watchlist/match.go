package watchlist

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Matcher compares face embeddings with a fixed watch list. It is immutable, so safe for concurrent use;
// a changed watch list means a new Matcher.
type Matcher struct {
	persons   []Person
	templates [][]float32 // templates[i] is persons[i]'s Template
	policy    Policy
}

// NewMatcher builds a matcher over the entries active at now: expired ones are left out. An active
// entry whose embeddings come from another model than modelSHA (when modelSHA is set), that has no
// embeddings or whose category is unknown fails the whole matcher, naming it: silently dropping someone
// from a watch list is worse than refusing to start.
func NewMatcher(persons []Person, policy Policy, modelSHA string, now time.Time) (*Matcher, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	m := &Matcher{policy: policy}
	for _, p := range persons {
		if !p.Category.Valid() {
			return nil, fmt.Errorf("watch list entry %s (%s): %w", p.ID, p.Name, categoryError(p.Category))
		}
		// Expired entries first: their embeddings may already have been purged.
		if p.Expired(now) {
			continue
		}
		if modelSHA != "" && p.EmbeddingModel != modelSHA {
			return nil, fmt.Errorf("watch list entry %s (%s) was enrolled with embedding model %s, the loaded "+
				"model is %s: re-enrol it", p.ID, p.Name, short(p.EmbeddingModel), short(modelSHA))
		}
		if len(p.Embeddings) == 0 {
			return nil, fmt.Errorf("watch list entry %s (%s) has no embeddings", p.ID, p.Name)
		}
		if !(p.Threshold >= 0 && p.Threshold <= 1) {
			return nil, fmt.Errorf("watch list entry %s (%s): threshold %v outside [0, 1]", p.ID, p.Name, p.Threshold)
		}
		m.persons = append(m.persons, p)
		m.templates = append(m.templates, p.Template(policy.LearnFromConfirmations[p.Category]))
	}
	return m, nil
}

// categoryError says what is wrong with an invalid category: unknown, or spelt another way than the
// canonical one (a struct built in code rather than decoded).
func categoryError(c Category) error {
	v, err := ParseCategory(string(c))
	if err != nil {
		return err
	}
	return fmt.Errorf("category %q must be spelt %q", c, v)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "(none)"
	}
	return sha
}

// Len is the number of active entries.
func (m *Matcher) Len() int { return len(m.persons) }

// Policy is the policy the matcher applies.
func (m *Matcher) Policy() Policy { return m.policy }

// Candidate is one person's similarity to a probe, with the threshold a match to them must reach and
// the margin by which they must lead every other person.
type Candidate struct {
	Person     *Person
	Similarity float32
	Threshold  float32
	Margin     float32
	// Local is true when Similarity is to the person's local template (RankWith), not to their Template.
	Local bool
}

// Rank returns every person's similarity to emb (to the person's Template), most similar first. A
// probe that resembles a face once dismissed as a false match of a person must beat that resemblance by
// the category's margin: its threshold for the person rises accordingly, so the same look-alike does not
// send anyone out again.
func (m *Matcher) Rank(emb []float32) []Candidate { return m.RankWith(emb, nil) }

// RankWith is Rank where some people also have a local template (their faces in the footage at hand,
// pipeline.LocalNamer), keyed by person ID: where the person's category allows local templates
// (Policy.LocalTemplates) their similarity is the higher of the two, and the thresholds, margins and
// negatives are the same. Two templates give a stranger two chances to
// resemble the person, which docs/ACCURACY.md ("Local templates") measures.
func (m *Matcher) RankWith(emb []float32, local map[string][]float32) []Candidate {
	out := make([]Candidate, 0, len(m.persons))
	for i := range m.persons {
		p := &m.persons[i]
		sim, isLocal := Cosine(emb, m.templates[i]), false
		if t, ok := local[p.ID]; ok && m.policy.LocalTemplates[p.Category] {
			if s := Cosine(emb, t); s > sim {
				sim, isLocal = s, true
			}
		}
		th := m.policy.ThresholdFor(p)
		for _, n := range p.Negatives {
			th = max(th, min(1, Cosine(emb, n)+m.policy.Margin[p.Category]))
		}
		out = append(out, Candidate{Person: p, Similarity: sim, Threshold: th, Margin: m.policy.Margin[p.Category], Local: isLocal})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Similarity > out[b].Similarity })
	return out
}

// Match is a comparison of one face with the watch list.
type Match struct {
	PersonID   string   `json:"person_id"`
	Name       string   `json:"name"`
	Category   Category `json:"category"`
	Similarity float32  `json:"similarity"` // cosine similarity to the person's Template
	Margin     float32  `json:"margin"`     // Similarity minus the best similarity of any other person
	Threshold  float32  `json:"threshold"`  // the similarity a match to this person must reach
	// Local is true when the similarity is to the person's local template (MatchWith), not to their
	// enrolment.
	Local bool `json:"local,omitempty"`
}

// Match compares emb with the watch list. nearest is the most similar person (nil for an empty list);
// accepted is the same person when the similarity reaches their threshold and leads the second best by
// at least their category's margin, else nil.
func (m *Matcher) Match(emb []float32) (accepted, nearest *Match) { return m.MatchWith(emb, nil) }

// MatchWith is Match under RankWith's similarities.
func (m *Matcher) MatchWith(emb []float32, local map[string][]float32) (accepted, nearest *Match) {
	ranked := m.RankWith(emb, local)
	if len(ranked) == 0 {
		return nil, nil
	}
	best := ranked[0]
	margin := best.Similarity + 1 // no competitor: the margin is to "nobody" at similarity -1
	if len(ranked) > 1 {
		margin = best.Similarity - ranked[1].Similarity
	}
	p := best.Person
	nearest = &Match{PersonID: p.ID, Name: p.Name, Category: p.Category, Similarity: best.Similarity, Margin: margin,
		Threshold: best.Threshold, Local: best.Local}
	if best.Similarity >= best.Threshold && margin >= best.Margin {
		a := *nearest
		return &a, nearest
	}
	return nil, nearest
}

// Template is what a face is compared with: the mean of the entry's embeddings (with the faces
// confirmed as the person when confirmed is set), L2-normalised. Measured on the labelled sets with several photos per
// person (docs/ACCURACY.md), the mean keeps the false-match rate of one photo, while the best of n
// photos gives an impostor n chances and multiplies it (2.7e-4 instead of 9e-5 at 0.50 with four).
func (p *Person) Template(confirmed bool) []float32 {
	embs := p.Embeddings
	if confirmed {
		embs = append(slices.Clip(embs), p.Confirmed...)
	}
	return Mean(embs)
}

// Mean is the mean of embeddings, L2-normalised (all zeros when they cancel out); the first one's
// length decides, longer ones are cut and shorter ones count as padded with zeros.
func Mean(embs [][]float32) []float32 {
	if len(embs) == 0 {
		return nil
	}
	sum := make([]float64, len(embs[0]))
	for _, e := range embs {
		for i := range min(len(e), len(sum)) {
			sum[i] += float64(e[i])
		}
	}
	out := make([]float32, len(sum))
	var n float64
	for _, x := range sum {
		n += x * x
	}
	if n == 0 {
		return out
	}
	n = math.Sqrt(n)
	for i, x := range sum {
		out[i] = float32(x / n)
	}
	return out
}

// Cosine is the cosine similarity of two L2-normalised vectors (their dot product).
func Cosine(a, b []float32) float32 {
	n := min(len(a), len(b))
	var s float32
	for i := 0; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}
