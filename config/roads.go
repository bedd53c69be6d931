package config

import (
	"fmt"

	"snowlight/geo"
)

// Road is one street or part of one, for routing patrols without a map service: a polyline, in the
// direction of traffic if it is one-way. Roads meet where they share a point (within a metre).
type Road struct {
	ID     string       `yaml:"id"` // optional; names the road in messages
	Oneway bool         `yaml:"oneway"`
	Points []geo.LatLon `yaml:"points"`
}

// validateRoads checks the roads point by point, naming the field; the road network (deploy) checks
// the whole: how many points, how far apart.
func (c *Config) validateRoads(errs *fieldErrors) {
	ids := map[string]bool{}
	for i, r := range c.Roads {
		f := fmt.Sprintf("roads[%d]", i)
		if r.ID != "" {
			checkID(errs, f+".id", r.ID, ids)
		}
		if len(r.Points) < 2 {
			errs.add(f+".points", "a road needs at least 2 points, has %d", len(r.Points))
		}
		for j, p := range r.Points {
			pf := fmt.Sprintf("%s.points[%d]", f, j)
			if !finite(p.Lat) || p.Lat < -90 || p.Lat > 90 {
				errs.add(pf+".lat", "%v is not a latitude", p.Lat)
				continue
			}
			if !finite(p.Lon) || p.Lon < -180 || p.Lon > 180 {
				errs.add(pf+".lon", "%v is not a longitude", p.Lon)
			}
		}
	}
}
