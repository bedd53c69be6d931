package dispatch

import (
	"context"
	"snowlight/geo"
)

// Route says how a unit's distance to an incident was measured.
type Route string

// Routes.
const (
	// RoadRoute is the shortest way along the configured road network, plus the legs between each
	// position and its nearest road.
	RoadRoute Route = "road"
	// GreatCircleRoute is as the crow flies. A Router returns it for a unit it cannot route (no road
	// near it, or none that leads to the incident), scaled by its detour factor so that it ranks
	// fairly among road distances, which are never shorter than the straight line.
	GreatCircleRoute Route = "great_circle"
)

// Travel is how far one unit has to go to reach an incident.
type Travel struct {
	Metres float64
	Route  Route
}

// Router measures travel distances. Plan ranks units by it when PlanOptions.Router is set.
type Router interface {
	// Travel returns, for each position in from and in its order, the distance a unit there travels to
	// reach to. Units travel to the incident, not the other way round: one-way streets count in that
	// direction.
	Travel(ctx context.Context, to geo.LatLon, from []geo.LatLon) ([]Travel, error)
}
