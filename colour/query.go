package colour

import (
	"fmt"
	"math/bits"
	"strings"
	"unicode"
)

// MinShare is the percentage of a region a term must hold to match: a jacket worn open over a shirt or
// a bag across the chest still leaves its colour a third of the torso.
const MinShare = 30

// Term is what a description asks of one region: any of a set of names (Names, a bit per Name), dark
// pixels, or both (dark blue: the smaller of the blue and the dark share). The zero Term asks nothing.
type Term struct {
	Names uint16 `json:"names,omitempty"`
	Dark  bool   `json:"dark,omitempty"`
}

// Any reports whether the term asks nothing.
func (t Term) Any() bool { return t.Names == 0 && !t.Dark }

// Has reports whether n is one of the term's names.
func (t Term) Has(n Name) bool { return t.Names&(1<<n) != 0 }

// Share is the percentage of r the term covers, 0 when r is unknown (all its shares are 0). Called per
// row by the search index's scans, so it visits only the term's names.
func (t Term) Share(r Region) int { return t.share(&r) }

func (t Term) share(r *Region) int {
	named := 0
	for b := t.Names & (1<<NumNames - 1); b != 0; b &= b - 1 {
		named += int(r.Shares[bits.TrailingZeros16(b)])
	}
	switch {
	case t.Names != 0 && t.Dark:
		return min(named, int(r.Dark))
	case t.Dark:
		return int(r.Dark)
	default:
		return named
	}
}

func (t Term) String() string {
	var parts []string
	for n := Name(0); n < NumNames; n++ {
		if t.Has(n) {
			parts = append(parts, n.String())
		}
	}
	s := strings.Join(parts, "/")
	switch {
	case t.Dark && s != "":
		return "dark " + s
	case t.Dark:
		return "dark"
	case s == "":
		return "any"
	}
	return s
}

// Query is a clothing description: what the upper and the lower body wear.
type Query struct {
	Upper Term `json:"upper"`
	Lower Term `json:"lower"`
}

// Any reports whether the query asks nothing.
func (q Query) Any() bool { return q.Upper.Any() && q.Lower.Any() }

func (q Query) String() string { return q.Upper.String() + " top, " + q.Lower.String() + " bottom" }

// Match reports whether d fits the query (every term that asks something holds at least MinShare of its
// region) and how well: the product of the terms' shares, in (0, 1]. A query that asks nothing matches
// everything with score 1.
func (q Query) Match(d Description) (score float32, ok bool) {
	score = 1
	if !q.Upper.Any() {
		s := q.Upper.share(&d.Upper)
		if s < MinShare {
			return 0, false
		}
		score = float32(s) / 100
	}
	if !q.Lower.Any() {
		s := q.Lower.share(&d.Lower)
		if s < MinShare {
			return 0, false
		}
		score *= float32(s) / 100
	}
	return score, true
}

// colourWords maps the words a witness uses to terms. Shades become their basic name; navy and charcoal
// are dark as well.
func colourWord(w string) (Term, bool) {
	bit := func(ns ...Name) uint16 {
		var b uint16
		for _, n := range ns {
			b |= 1 << n
		}
		return b
	}
	if n, err := ParseName(w); err == nil {
		return Term{Names: bit(n)}, true
	}
	switch w {
	case "dark":
		return Term{Dark: true}, true
	case "navy":
		return Term{Names: bit(Blue), Dark: true}, true
	case "charcoal":
		return Term{Names: bit(Grey, Black), Dark: true}, true
	case "maroon", "burgundy", "crimson", "scarlet", "wine":
		return Term{Names: bit(Red)}, true
	case "beige", "tan", "khaki", "camel", "chocolate":
		return Term{Names: bit(Brown)}, true
	case "cream", "ivory":
		return Term{Names: bit(White)}, true
	case "olive", "lime":
		return Term{Names: bit(Green)}, true
	case "violet", "lilac", "lavender", "mauve":
		return Term{Names: bit(Purple)}, true
	case "magenta", "fuchsia", "rose", "salmon":
		return Term{Names: bit(Pink)}, true
	case "teal", "turquoise", "cyan":
		return Term{Names: bit(Blue, Green)}, true
	case "gold", "mustard":
		return Term{Names: bit(Yellow)}, true
	case "silver":
		return Term{Names: bit(Grey)}, true
	case "denim":
		return Term{Names: bit(Blue)}, true
	}
	return Term{}, false
}

// garment says which regions a garment word names: upper, lower or both (a dress).
func garment(w string) (upper, lower bool) {
	switch w {
	case "top", "tops", "shirt", "tshirt", "tee", "jacket", "coat", "hoodie", "sweater", "jumper",
		"sweatshirt", "blouse", "vest", "cardigan", "parka", "anorak", "fleece", "upper", "polo",
		"blazer", "raincoat", "overcoat", "jersey", "tank":
		return true, false
	case "trousers", "pants", "jeans", "shorts", "skirt", "leggings", "bottom", "bottoms", "lower",
		"joggers", "chinos", "slacks", "trouser":
		return false, true
	case "dress", "overalls", "tracksuit", "suit", "uniform":
		return true, true
	}
	return false, false
}

// ParseQuery reads a witness's description such as "red top, dark trousers", "a man in a navy jacket
// and blue jeans" or "black/grey hoodie". Phrases are separated by commas, semicolons, "and" or "with";
// each that names a colour must name the garment it is on. Words that are neither are ignored, so a
// sentence works; a phrase with a garment and no colour says nothing.
func ParseQuery(s string) (Query, error) {
	var q Query
	norm := strings.ToLower(strings.ReplaceAll(s, "t-shirt", "tshirt"))
	for _, phrase := range splitPhrases(norm) {
		var t Term
		var up, low bool
		for _, w := range strings.FieldsFunc(phrase, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if c, ok := colourWord(w); ok {
				t.Names |= c.Names
				t.Dark = t.Dark || c.Dark
				continue
			}
			u, l := garment(w)
			up, low = up || u, low || l
		}
		if t.Any() {
			continue
		}
		if !up && !low {
			return Query{}, fmt.Errorf("colour query %q: say what %q is on (a top, jacket, trousers, jeans, ...)", s, strings.TrimSpace(phrase))
		}
		if up {
			q.Upper = merge(q.Upper, t)
		}
		if low {
			q.Lower = merge(q.Lower, t)
		}
	}
	if q.Any() {
		return Query{}, fmt.Errorf("colour query %q names no colour", s)
	}
	return q, nil
}

// merge joins two phrases about one region ("blue jacket, black jacket") into either.
func merge(a, b Term) Term { return Term{Names: a.Names | b.Names, Dark: a.Dark || b.Dark} }

func splitPhrases(s string) []string {
	for _, sep := range []string{";", " and ", " with ", " plus "} {
		s = strings.ReplaceAll(s, sep, ",")
	}
	return strings.Split(s, ",")
}

// Matcher is a Query prepared for matching many descriptions, as the search index's scans do: the
// terms' names are listed once, so a description is tested by reading only the shares asked for, and
// most are turned away after the first term. It gives the same answers as Query.Match.
type Matcher struct {
	terms [2]termMatcher
	n     int // terms that ask something
}

type termMatcher struct {
	lower bool
	names [NumNames]uint8
	k     int // names asked for
	dark  bool
}

// Matcher prepares q for matching.
func (q Query) Matcher() Matcher {
	var m Matcher
	for i, t := range []Term{q.Upper, q.Lower} {
		if t.Any() {
			continue
		}
		tm := termMatcher{lower: i == 1, dark: t.Dark}
		for b := t.Names & (1<<NumNames - 1); b != 0; b &= b - 1 {
			tm.names[tm.k] = uint8(bits.TrailingZeros16(b))
			tm.k++
		}
		m.terms[m.n] = tm
		m.n++
	}
	return m
}

// Match is Query.Match of the query the matcher was made from.
func (m *Matcher) Match(d *Description) (score float32, ok bool) {
	score = 1
	for i := range m.n {
		t := &m.terms[i]
		r := &d.Upper
		if t.lower {
			r = &d.Lower
		}
		s := 0
		for _, n := range t.names[:t.k] {
			s += int(r.Shares[n])
		}
		switch {
		case t.k > 0 && t.dark:
			s = min(s, int(r.Dark))
		case t.dark:
			s = int(r.Dark)
		}
		if s < MinShare {
			return 0, false
		}
		score *= float32(s) / 100
	}
	return score, true
}
