package rules

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"snowlight/alerts"
	"snowlight/watchlist"
)

// Rule says whether triggers of one kind, in its scope, alert. Rules are read in order and the
// first whose scope matches a trigger decides: the trigger alerts when the rule is not Off and its
// schedule is active at the trigger's time. A trigger no rule matches alerts.
//
// Examples: loitering at the school gate only at night is
//
//	{kind: loitering, cameras: [school-gate], schedule: "22:00-06:00 @Europe/Vienna"}
//
// and suspects only on two cameras is a rule for those cameras followed by
//
//	{kind: watchlist_hit, categories: [suspect], off: true}
type Rule struct {
	// Kind is the alert kind the rule is about; empty matches every kind.
	Kind alerts.Kind `yaml:"kind" json:"kind,omitempty"`
	// Categories limits the rule to persons of these watch-list categories (rules about a person);
	// Cameras to these cameras; Zones to these image zones (loitering). Empty matches all.
	Categories []watchlist.Category `yaml:"categories" json:"categories,omitempty"`
	Cameras    []string             `yaml:"cameras" json:"cameras,omitempty"`
	Zones      []string             `yaml:"zones" json:"zones,omitempty"`
	// Schedule is when matching triggers alert; empty is always.
	Schedule Schedule `yaml:"schedule" json:"schedule"`
	// Off silences matching triggers.
	Off bool `yaml:"off" json:"off,omitempty"`
}

// scope is what a trigger is matched on.
type scope struct {
	kind     alerts.Kind
	category watchlist.Category // "" when the trigger is not about a listed person
	camera   string
	zone     string
	at       time.Time
}

func (r *Rule) matches(s scope) bool {
	return (r.Kind == "" || r.Kind == s.kind) &&
		(len(r.Categories) == 0 || s.category != "" && slices.Contains(r.Categories, s.category)) &&
		(len(r.Cameras) == 0 || slices.Contains(r.Cameras, s.camera)) &&
		(len(r.Zones) == 0 || s.zone != "" && slices.Contains(r.Zones, s.zone))
}

// policy is the ordered rules.
type policy []Rule

// allows reports whether a trigger in scope s alerts, and which rule decided (-1: none matched).
func (p policy) allows(s scope) (bool, int) {
	for i := range p {
		if p[i].matches(s) {
			return !p[i].Off && p[i].Schedule.Active(s.at), i
		}
	}
	return true, -1
}

// validateRules checks rules against the known cameras and their zones; errors name the field.
func validateRules(rules []Rule, cameras map[string]*camera) error {
	var errs []error
	for i, r := range rules {
		f := fmt.Sprintf("rules[%d]", i)
		if r.Kind != "" {
			if _, err := alerts.ParseKind(string(r.Kind)); err != nil {
				errs = append(errs, fmt.Errorf("%s.kind: %w", f, err))
			}
		}
		for j, c := range r.Categories {
			if !c.Valid() {
				_, err := watchlist.ParseCategory(string(c))
				errs = append(errs, fmt.Errorf("%s.categories[%d]: %w", f, j, err))
			}
		}
		if len(r.Categories) > 0 && r.Kind != "" && r.Kind != alerts.WatchlistHit && r.Kind != alerts.SafeZoneExit {
			errs = append(errs, fmt.Errorf("%s.categories: %s alerts are about no listed person", f, r.Kind))
		}
		for j, c := range r.Cameras {
			if _, ok := cameras[c]; !ok {
				errs = append(errs, fmt.Errorf("%s.cameras[%d]: unknown camera %q", f, j, c))
			}
		}
		for j, z := range r.Zones {
			found := false
			for id, cam := range cameras {
				if (len(r.Cameras) == 0 || slices.Contains(r.Cameras, id)) && cam.zone(z) != nil {
					found = true
				}
			}
			if !found {
				errs = append(errs, fmt.Errorf("%s.zones[%d]: no camera of the rule has a zone %q", f, j, z))
			}
		}
		if len(r.Zones) > 0 && r.Kind != "" && r.Kind != alerts.Loitering {
			errs = append(errs, fmt.Errorf("%s.zones: %s alerts are about no image zone", f, r.Kind))
		}
	}
	return errors.Join(errs...)
}
