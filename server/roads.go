package server

import (
	"fmt"
	"slices"

	"snowlight/alerts/dispatch"
	"snowlight/alerts/dispatch/roads"
	"snowlight/config"
)

// planOptions ranks patrols by road when the configuration has roads, and as the crow flies when not.
func planOptions(rs []config.Road) (dispatch.PlanOptions, error) {
	if len(rs) == 0 {
		return dispatch.PlanOptions{}, nil
	}
	in := make([]roads.Road, len(rs))
	for i, r := range rs {
		in[i] = roads.Road{ID: r.ID, Oneway: r.Oneway, Points: slices.Clone(r.Points)}
	}
	g, err := roads.New(in, roads.Options{})
	if err != nil {
		return dispatch.PlanOptions{}, fmt.Errorf("roads: %w", err)
	}
	return dispatch.PlanOptions{Router: g}, nil
}
