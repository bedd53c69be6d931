package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"snowlight/config"
	"snowlight/detect"
	"snowlight/testvideos"
	"snowlight/watchlist"
)

// scenarioConfig describes a rendered scenario (a directory with truth.json and one video per camera)
// as a deployment whose cameras replay their videos at fps detections a second.
func scenarioConfig(dir string, fps float64) (*config.Config, *testvideos.Truth, error) {
	truth, err := testvideos.ReadTruth(dir)
	if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	b.WriteString("cameras:\n")
	for _, c := range truth.Cameras {
		fmt.Fprintf(&b, "  - id: %q\n    detect_fps: %g\n", c.ID, fps)
		if c.Position != nil {
			fmt.Fprintf(&b, "    position: {lat: %.7f, lon: %.7f}\n", c.Position.Lat, c.Position.Lon)
		}
		fmt.Fprintf(&b, "    recording: {file: %q, start: %q}\n", c.File, truth.Start.Format(time.RFC3339Nano))
		if len(c.Neighbours) > 0 {
			b.WriteString("    neighbours:\n")
			for _, n := range c.Neighbours {
				fmt.Fprintf(&b, "      - {camera: %q, min: %gs, max: %gs}\n", n.Camera, n.Transit[0], n.Transit[1])
			}
		}
	}
	cfg, err := config.Parse(strings.NewReader(b.String()), os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("scenario %s: %w", dir, err)
	}
	for _, c := range cfg.Cameras {
		if r := c.Recording; r != nil && !filepath.IsAbs(r.File) {
			r.File = filepath.Join(dir, r.File)
		}
	}
	return cfg, truth, nil
}

// scenarioWatchList enrols the scenario's enrolled people from their enrolment photos (never the
// rendered ones), under their scenario ids and categories.
func scenarioWatchList(ctx context.Context, p *detect.Pipeline, truth *testvideos.Truth) ([]watchlist.Person, error) {
	rules := detect.DefaultEnrolmentRules()
	var ids []watchlist.Person
	for _, person := range truth.Persons {
		if !person.Enrolled {
			continue
		}
		cat, err := watchlist.ParseCategory(person.Category)
		if err != nil {
			return nil, fmt.Errorf("scenario person %s: %w", person.ID, err)
		}
		var photos []detect.PhotoInput
		for _, path := range person.Enrol {
			ph, err := detect.ReadPhotoFile(path, rules.Limits.MaxBytes)
			if err != nil {
				return nil, fmt.Errorf("scenario person %s: %w", person.ID, err)
			}
			photos = append(photos, ph)
		}
		name := person.Name
		if name == "" {
			name = person.ID
		}
		id, err := p.Enrol(ctx, name, cat, photos, rules)
		if err != nil {
			return nil, err
		}
		id.ID = person.ID
		ids = append(ids, id)
	}
	return ids, nil
}
