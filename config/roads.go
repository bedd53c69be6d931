package config

import (
	"fmt"

	"snowlight/alerts/dispatch/roads"
	"snowlight/geo"
)

// Road is one street or part of one, for routing patrols without a map service: a polyline, in the
// direction of traffic if it is one-way. Roads meet where they share a point (within a metre).
type Road struct {
	ID     string       `yaml:"id"` // optional; names the road in messages
	Oneway bool         `yaml:"oneway"`
	Points []geo.LatLon `yaml:"points"`
}

// validateRoads checks what the road graph needs, naming the field, so that building it cannot fail.
func (c *Config) validateRoads(errs *fieldErrors) {
	ids := map[string]bool{}
	total := 0
	for i, r := range c.Roads {
		f := fmt.Sprintf("roads[%d]", i)
		if r.ID != "" {
			checkID(errs, f+".id", r.ID, ids)
		}
		if len(r.Points) < 2 {
			errs.add(f+".points", "a road needs at least 2 points, has %d", len(r.Points))
		}
		if total += len(r.Points); total > roads.MaxPoints {
			errs.add(f+".points", "more than %d points in all roads", roads.MaxPoints)
			return
		}
		for j, p := range r.Points {
			pf := fmt.Sprintf("%s.points[%d]", f, j)
			if !finite(p.Lat) || p.Lat < -90 || p.Lat > 90 {
				errs.add(pf+".lat", "%v is not a latitude", p.Lat)
				continue
			}
			if !finite(p.Lon) || p.Lon < -180 || p.Lon > 180 {
				errs.add(pf+".lon", "%v is not a longitude", p.Lon)
				continue
			}
			if j == 0 {
				continue
			}
			q := r.Points[j-1]
			if d := geo.Distance(q, p); d > roads.MaxSegment {
				errs.add(pf, "%.0f km from the previous point, more than %.0f km: latitude and longitude swapped?", d/1000, roads.MaxSegment/1000)
			}
		}
	}
}
