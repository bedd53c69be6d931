package detect

import (
	"fmt"
	"sort"
	"time"
)

// Category is the kind of watch-list entry; each has its own similarity threshold because a wrong name
// costs differently: a patrol stopping the wrong "suspect" is worse than checking on the wrong "missing"
// person.
type Category string

// The watch-list categories.
const (
	AtRisk  Category = "at-risk" // e.g. a dementia patient who may wander
	Missing Category = "missing" // e.g. a lost child
	Suspect Category = "suspect"
)

// Categories lists every valid category.
func Categories() []Category { return []Category{AtRisk, Missing, Suspect} }

// ParseCategory validates a category name.
func ParseCategory(s string) (Category, error) {
	for _, c := range Categories() {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown watch-list category %q (want one of %v)", s, Categories())
}

// Identity is one person on the watch list.
type Identity struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category Category `json:"category"`
	// Photos are the enrolment photos, one embedding each (Embeddings[i] belongs to Photos[i]).
	Photos     []EnrolmentPhoto `json:"photos"`
	Embeddings [][]float32      `json:"embeddings"`
	// EmbeddingModel is the sha256 of the face embedder that produced Embeddings: vectors of another model
	// live in another space and must never be compared.
	EmbeddingModel string    `json:"embedding_model"`
	EnrolledAt     time.Time `json:"enrolled_at"`

	// Access control (filled by the access issue): why and until when this person may be searched for.
	Expires    time.Time `json:"expires,omitzero"`
	LegalBasis string    `json:"legal_basis,omitempty"`
	EnrolledBy string    `json:"enrolled_by,omitempty"`
}

// EnrolmentPhoto records one photo a person was enrolled from and where the face was in it.
type EnrolmentPhoto struct {
	Source string  `json:"source"` // the path or name the photo was given as
	File   string  `json:"file"`   // the stored copy's name, relative to the person's store entry
	SHA256 string  `json:"sha256"`
	Face   Box     `json:"face"`
	Score  float32 `json:"score"`
}

// Policy decides when the nearest identity is accepted as a name.
type Policy struct {
	// Threshold is, per category, the minimum cosine similarity.
	Threshold map[Category]float32
	// Margin is, per category, how far the best identity must be ahead of the second best; closer calls
	// are unknown.
	Margin map[Category]float32
}

// DefaultPolicy holds the thresholds chosen from measured data; docs/ACCURACY.md gives the false-match
// rates they produce on the labelled sets and the command that measured them.
func DefaultPolicy() Policy {
	return Policy{
		Threshold: map[Category]float32{
			AtRisk:  0.45, // FMR 2.7e-4 on the calibration set: a carer checks on a stranger
			Missing: 0.50, // FMR 4.8e-5
			Suspect: 0.55, // no impostor pair of 103,631 reaches it: a patrol stops the wrong person
		},
		Margin: map[Category]float32{AtRisk: 0.08, Missing: 0.08, Suspect: 0.10},
	}
}

// Validate checks that every category has a threshold in (0, 1].
func (p Policy) Validate() error {
	for _, c := range Categories() {
		t, ok := p.Threshold[c]
		if !ok || t <= 0 || t > 1 {
			return fmt.Errorf("watch-list policy: threshold for %s must be in (0,1], got %v", c, t)
		}
	}
	for _, c := range Categories() {
		if m := p.Margin[c]; m < 0 || m >= 1 {
			return fmt.Errorf("watch-list policy: margin for %s must be in [0,1), got %v", c, m)
		}
	}
	return nil
}

// Matcher compares face embeddings with a fixed watch list. It is immutable, so safe for concurrent use;
// a changed watch list means a new Matcher.
type Matcher struct {
	ids    []Identity
	policy Policy
}

// NewMatcher builds a matcher. Identities whose embeddings come from another model than modelSHA (when
// modelSHA is set) are refused, as are expired ones.
func NewMatcher(ids []Identity, policy Policy, modelSHA string, now time.Time) (*Matcher, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	m := &Matcher{policy: policy}
	for _, id := range ids {
		if _, err := ParseCategory(string(id.Category)); err != nil {
			return nil, fmt.Errorf("watch list entry %s (%s): %w", id.ID, id.Name, err)
		}
		if modelSHA != "" && id.EmbeddingModel != modelSHA {
			return nil, fmt.Errorf("watch list entry %s (%s) was enrolled with embedding model %s, the loaded "+
				"model is %s: re-enrol it", id.ID, id.Name, short(id.EmbeddingModel), short(modelSHA))
		}
		if len(id.Embeddings) == 0 {
			return nil, fmt.Errorf("watch list entry %s (%s) has no embeddings", id.ID, id.Name)
		}
		if !id.Expires.IsZero() && !now.Before(id.Expires) {
			continue
		}
		m.ids = append(m.ids, id)
	}
	return m, nil
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

// Len is the number of active identities.
func (m *Matcher) Len() int { return len(m.ids) }

// Candidate is one identity's similarity to a probe.
type Candidate struct {
	Identity   *Identity
	Similarity float32
}

// Rank returns every identity's best similarity to emb, most similar first.
func (m *Matcher) Rank(emb []float32) []Candidate {
	out := make([]Candidate, 0, len(m.ids))
	for i := range m.ids {
		id := &m.ids[i]
		best := float32(-2)
		for _, e := range id.Embeddings {
			best = max(best, Cosine(emb, e))
		}
		out = append(out, Candidate{id, best})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Similarity > out[b].Similarity })
	return out
}

// Match compares emb with the watch list. nearest is the most similar identity (nil for an empty list);
// accepted is the same identity when it passes its category's threshold and leads the second best by at
// least the margin, else nil.
func (m *Matcher) Match(emb []float32) (accepted, nearest *Match) {
	ranked := m.Rank(emb)
	if len(ranked) == 0 {
		return nil, nil
	}
	best := ranked[0]
	margin := best.Similarity + 1 // no competitor: the margin is to "nobody" at similarity -1
	if len(ranked) > 1 {
		margin = best.Similarity - ranked[1].Similarity
	}
	nearest = &Match{PersonID: best.Identity.ID, Name: best.Identity.Name, Category: best.Identity.Category,
		Similarity: best.Similarity, Margin: margin}
	cat := best.Identity.Category
	if best.Similarity >= m.policy.Threshold[cat] && margin >= m.policy.Margin[cat] {
		a := *nearest
		return &a, nearest
	}
	return nil, nearest
}
