package config

import (
	"strings"
	"testing"
)

const withRoads = `
roads:
  - {id: high-street, points: [{lat: 52.5200, lon: 13.4000}, {lat: 52.5200, lon: 13.4050}, {lat: 52.5210, lon: 13.4050}]}
  - {id: market-lane, oneway: true, points: [{lat: 52.5210, lon: 13.4050}, {lat: 52.5230, lon: 13.4050}]}
  - {points: [{lat: 52.5200, lon: 13.4000}, {lat: 52.5180, lon: 13.4000}]}
`

func TestRoads(t *testing.T) {
	c, err := parse(t, valid+withRoads)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Roads) != 3 || c.Roads[0].ID != "high-street" || c.Roads[0].Oneway || !c.Roads[1].Oneway ||
		len(c.Roads[0].Points) != 3 || c.Roads[1].Points[1].Lat != 52.5230 {
		t.Errorf("roads read as %+v", c.Roads)
	}
	if c, err := parse(t, valid); err != nil || c.Roads != nil {
		t.Errorf("without roads: %+v, %v", c.Roads, err)
	}
}

func TestInvalidRoads(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"one point", "{lat: 52.5210, lon: 13.4050}, {lat: 52.5230, lon: 13.4050}]", "{lat: 52.5210, lon: 13.4050}]", "roads[1].points: a road needs at least 2 points, has 1"},
		{"no points", "{points: [{lat: 52.5200, lon: 13.4000}, {lat: 52.5180, lon: 13.4000}]}", "{points: []}", "roads[2].points: a road needs at least 2 points, has 0"},
		{"latitude", "lat: 52.5230", "lat: 152.5230", "roads[1].points[1].lat: 152.523 is not a latitude"},
		{"longitude", "lon: 13.4000}, {lat: 52.5180", "lon: -200}, {lat: 52.5180", "roads[2].points[0].lon: -200 is not a longitude"},
		{"nan", "lat: 52.5180", "lat: .nan", "roads[2].points[1].lat: NaN is not a latitude"},
		{"bad id", "id: market-lane", "id: Market Lane", `roads[1].id: "Market Lane" must be`},
		{"duplicate id", "id: market-lane", "id: high-street", `roads[1].id: duplicate id "high-street"`},
		{"unknown key", "oneway: true", "one_way: true", "field one_way not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(withRoads, tc.from) {
				t.Fatalf("test edits %q, which the roads lack", tc.from)
			}
			_, err := parse(t, valid+strings.Replace(withRoads, tc.from, tc.to, 1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
