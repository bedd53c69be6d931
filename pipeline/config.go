package pipeline

import (
	"errors"
	"fmt"

	"snowlight/config"
	"snowlight/tracks/stitch"
)

// Topology builds the stitcher's camera network from the deployment's cameras: positions, neighbours
// with their transit windows, and whether confident links may teach it.
func Topology(cfg *config.Config) (*stitch.Topology, error) {
	cams := make([]stitch.Camera, 0, len(cfg.Cameras))
	for _, c := range cfg.Cameras {
		sc := stitch.Camera{ID: c.ID, Position: c.Position}
		for _, n := range c.Neighbours {
			sc.Neighbours = append(sc.Neighbours, stitch.Neighbour{Camera: n.Camera, Min: n.MinTransit, Max: n.MaxTransit})
		}
		cams = append(cams, sc)
	}
	learn := stitch.DefaultLearning()
	learn.Enabled = cfg.Topology.Learn
	t, err := stitch.NewTopology(cams, learn)
	if err != nil {
		return nil, fmt.Errorf("camera topology: %w", err)
	}
	return t, nil
}

// Recordings lists the cameras that have a recording, each at its detection rate.
func Recordings(cfg *config.Config) ([]Recording, error) {
	var out []Recording
	for _, c := range cfg.Cameras {
		if c.Recording == nil {
			continue
		}
		out = append(out, Recording{Camera: c.ID, File: c.Recording.File, Start: c.Recording.Start, FPS: c.DetectFPS})
	}
	if len(out) == 0 {
		return nil, errors.New("no camera in the configuration has a recording (cameras[].recording: {file, start})")
	}
	return out, nil
}
