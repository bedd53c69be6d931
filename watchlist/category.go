package watchlist

import (
	"fmt"
	"strings"
)

// Category is the kind of watch-list entry. Each has its own similarity threshold because a wrong name
// costs differently: a patrol stopping the wrong suspect is worse than a carer checking on the wrong
// at-risk person.
type Category string

// The watch-list categories. The spelling is identifier-safe because it appears in configuration keys,
// JSON, URLs and metric labels.
const (
	AtRisk  Category = "at_risk" // e.g. a dementia patient who may wander
	Missing Category = "missing" // e.g. a lost child
	Suspect Category = "suspect"
)

// Categories lists every valid category.
func Categories() []Category { return []Category{AtRisk, Missing, Suspect} }

// ParseCategory reads a category as people type it: case and surrounding space do not matter, and a
// hyphen stands for the underscore ("at-risk" is at_risk), so older files and hand-written rules keep
// working. The result is always one of Categories().
func ParseCategory(s string) (Category, error) {
	norm := Category(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	if norm.Valid() {
		return norm, nil
	}
	return "", fmt.Errorf("unknown watch-list category %q (want at_risk, missing or suspect)", s)
}

// Valid reports whether c is one of Categories() as spelt there.
func (c Category) Valid() bool {
	switch c {
	case AtRisk, Missing, Suspect:
		return true
	}
	return false
}

// Label is the category as words for people ("at-risk"), in alert texts and notices.
func (c Category) Label() string { return strings.ReplaceAll(string(c), "_", "-") }

// UnmarshalText reads a category with ParseCategory, so JSON and YAML written with another spelling
// (alerts stored as "at-risk", rules typed by hand) decode to the canonical one, and unknown names fail
// the decoding instead of reaching a comparison that never matches. Empty text is the empty Category:
// no category, as on an alert about a camera.
func (c *Category) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*c = ""
		return nil
	}
	v, err := ParseCategory(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
