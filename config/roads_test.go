package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const withRoads = `
roads:
  - {id: high-street, points: [{lat: 52.5200, lon: 13.4000}, {lat: 52.5200, lon: 13.4050}, {lat: 52.5210, lon: 13.4050}]}
  - {id: market-lane, oneway: true, points: [{lat: 52.5210, lon: 13.4050}, {lat: 52.5230, lon: 13.4050}]}
  - {points: [{lat: 52.5200, lon: 13.4000}, {lat: 52.5180, lon: 13.4000}]}
`

func TestRoads(t *testing.T) {
	c, err := parse(t, valid+withRoads)
	require.NoError(t, err)
	require.Len(t, c.Roads, 3)
	assert.Equal(t, "high-street", c.Roads[0].ID)
	assert.False(t, c.Roads[0].Oneway)
	assert.True(t, c.Roads[1].Oneway)
	assert.Len(t, c.Roads[0].Points, 3)
	require.Len(t, c.Roads[1].Points, 2)
	assert.Equal(t, 52.5230, c.Roads[1].Points[1].Lat)

	c, err = parse(t, valid)
	require.NoError(t, err)
	assert.Nil(t, c.Roads, "without roads")
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
			require.Contains(t, withRoads, tc.from, "the test edits a line the roads lack")
			_, err := parse(t, valid+strings.Replace(withRoads, tc.from, tc.to, 1))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
