package audit

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Case is the justification an identity-revealing action must carry: the case (incident, file) number it
// belongs to and why it is needed.
type Case struct {
	Number string `json:"case"`
	Reason string `json:"reason"`
}

// MinReason is the shortest reason accepted: long enough that "x" or "test" is refused.
const MinReason = 10

// ParseCase checks a case number and reason, with messages a person can act on, and returns them
// trimmed.
func ParseCase(number, reason string) (Case, error) {
	c := Case{Number: strings.TrimSpace(number), Reason: strings.TrimSpace(reason)}
	if err := c.check(); err != nil {
		return Case{}, err
	}
	return c, nil
}

func (c Case) check() error {
	switch {
	case c.Number == "" && c.Reason == "":
		return fmt.Errorf("this action reveals identities: give a case number (case) and a reason (reason)")
	case c.Number == "":
		return fmt.Errorf("give the case number (case) this action belongs to")
	case c.Reason == "":
		return fmt.Errorf("give a reason (reason) for this action")
	case len(c.Number) > maxField || !printable(c.Number):
		return fmt.Errorf("case number must be at most %d printable characters", maxField)
	case utf8.RuneCountInString(c.Reason) < MinReason:
		return fmt.Errorf("reason too short: say in at least %d characters why this is needed", MinReason)
	case len(c.Reason) > maxReason || !printable(c.Reason):
		return fmt.Errorf("reason must be at most %d printable characters", maxReason)
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

type caseKey struct{}

// NewContext returns ctx carrying the case of the request (set by the web server once it has checked
// and recorded it).
func NewContext(ctx context.Context, c Case) context.Context {
	return context.WithValue(ctx, caseKey{}, c)
}

// FromContext returns the request's case, if the route required one.
func FromContext(ctx context.Context) (Case, bool) {
	c, ok := ctx.Value(caseKey{}).(Case)
	return c, ok
}
