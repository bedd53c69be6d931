package watchlist

import (
	"fmt"
	"time"
)

// Policy is what each category demands: when the nearest person is accepted as a name, and how long
// an entry may stay on the list.
type Policy struct {
	// Threshold is, per category, the minimum cosine similarity.
	Threshold map[Category]float32
	// Margin is, per category, how far the best person must be ahead of the second best; closer calls
	// are unknown.
	Margin map[Category]float32
	// MaxExpiry is, per category, the longest an entry may stay on the list from its enrolment: an
	// entry must be renewed, with a legal basis, to stay longer.
	MaxExpiry map[Category]time.Duration
	// LearnFromConfirmations says, per category, whether faces operators confirm as a person join
	// the person's template (Person.Confirmed); off unless a deployment turns it on.
	LearnFromConfirmations map[Category]bool
	// LocalTemplates says, per category, whether the faces the photos named in one camera's or one
	// video's footage may name the person's other tracks there (Matcher.RankWith's local templates,
	// pipeline.LocalNamer); on unless a deployment turns it off.
	LocalTemplates map[Category]bool
}

// DefaultPolicy holds the thresholds chosen from measured data; docs/ACCURACY.md ("Watch-list
// thresholds") gives the false-match rates they produce on the labelled sets and the command that
// measured them. These are the product's only default numbers for the watch list: configuration
// overrides them per category.
func DefaultPolicy() Policy {
	const day = 24 * time.Hour
	return Policy{
		Threshold: map[Category]float32{
			AtRisk:  0.45, // FMR 2.7e-4 on the calibration set: a carer checks on a stranger
			Missing: 0.50, // FMR 4.8e-5
			Suspect: 0.55, // no impostor pair of 103,631 reaches it: a patrol stops the wrong person
		},
		Margin: map[Category]float32{AtRisk: 0.08, Missing: 0.08, Suspect: 0.10},
		// How long one authorisation lasts (the configuration's defaults before there was one
		// model); a longer search needs the entry renewed.
		MaxExpiry:              map[Category]time.Duration{AtRisk: 90 * day, Missing: 90 * day, Suspect: 30 * day},
		LearnFromConfirmations: map[Category]bool{},
		// Within every category's budget on the labelled sets (docs/ACCURACY.md, "Local templates").
		LocalTemplates: map[Category]bool{AtRisk: true, Missing: true, Suspect: true},
	}
}

// Validate checks that every category has a threshold in (0, 1], a margin in [0, 1) and a positive
// longest expiry.
func (p Policy) Validate() error {
	for _, c := range Categories() {
		if t, ok := p.Threshold[c]; !ok || !(t > 0 && t <= 1) {
			return fmt.Errorf("watch-list policy: threshold for %s must be in (0,1], got %v", c, t)
		}
		if m := p.Margin[c]; !(m >= 0 && m < 1) {
			return fmt.Errorf("watch-list policy: margin for %s must be in [0,1), got %v", c, m)
		}
		if d := p.MaxExpiry[c]; d <= 0 {
			return fmt.Errorf("watch-list policy: longest expiry for %s must be positive, got %v", c, d)
		}
	}
	return nil
}

// ThresholdFor is the similarity a face must reach to be named as p: p's own threshold when set, else
// its category's.
func (p Policy) ThresholdFor(person *Person) float32 {
	if person.Threshold > 0 {
		return person.Threshold
	}
	return p.Threshold[person.Category]
}

// CheckEntry checks what the law asks of a new entry before it is enrolled: a legal basis, who
// approved it, and an expiry after now and no later than the category's MaxExpiry after enrolment.
func (p Policy) CheckEntry(person *Person, now time.Time) error {
	longest := p.MaxExpiry[person.Category]
	switch {
	case person.LegalBasis == "":
		return fmt.Errorf("watch-list entry %s: a legal basis (case number, order) is required", person.Name)
	case person.ApprovedBy == "":
		return fmt.Errorf("watch-list entry %s: who approved the entry is required", person.Name)
	case person.Expires.IsZero():
		return fmt.Errorf("watch-list entry %s: an expiry is required (at most %s for %s)", person.Name, days(longest), person.Category)
	case !person.Expires.After(now):
		return fmt.Errorf("watch-list entry %s: expiry %s is not in the future", person.Name, person.Expires.Format(time.DateOnly))
	case person.Expires.Sub(person.Enrolled) > longest:
		return fmt.Errorf("watch-list entry %s: expiry %s is more than %s after enrolment, the longest a %s entry may stay",
			person.Name, person.Expires.Format(time.DateOnly), days(longest), person.Category)
	}
	return nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
