package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAlertScopeAllows(t *testing.T) {
	al := AlertView{Camera: "gate", Area: "district-1", PersonID: "p-anna", Patrol: "u-12"}
	cases := []struct {
		name  string
		scope AlertScope
		want  bool
	}{
		{"nothing", AlertScope{}, false},
		{"all", AlertScope{All: true}, true},
		{"every camera", AlertScope{Cameras: []string{"*"}}, true},
		{"its camera", AlertScope{Cameras: []string{"bridge", "gate"}}, true},
		{"other cameras", AlertScope{Cameras: []string{"bridge"}}, false},
		{"its area", AlertScope{Areas: []string{"district-1"}}, true},
		{"another area", AlertScope{Areas: []string{"district-2"}}, false},
		{"its person", AlertScope{Persons: []string{"p-anna"}}, true},
		{"another person", AlertScope{Persons: []string{"p-ben"}}, false},
		{"the unit sent", AlertScope{Unit: "u-12"}, true},
		{"another unit", AlertScope{Unit: "u-7"}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.scope.Allows(al), c.name)
	}
	// Empty fields of an alert never match empty scope entries: an alert about nobody is not a
	// guardian's, an unassigned alert is not a unit-less patrol's.
	bare := AlertView{Camera: "gate"}
	for _, s := range []AlertScope{{Persons: []string{""}}, {Areas: []string{""}}, {Unit: ""}} {
		assert.False(t, s.Allows(bare), "%+v allows an alert with no person, area or unit", s)
	}
}
