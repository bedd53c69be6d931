package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"snowlight/center"
	"snowlight/detect"
	"snowlight/ingest"
	"snowlight/media"
	"snowlight/tracks"
)

// ReplayOptions configure a replay of recorded cameras.
type ReplayOptions struct {
	Recordings []media.Recording
	// Detectors run the cameras: camera i uses Detectors[i % len]. Cameras on different detectors
	// run in parallel, those on one detector take turns (its networks run one frame at a time), so
	// one detector per core is the fastest.
	Detectors []*detect.Pipeline
	// Gate, when set, gives every camera a motion gate: frames where nothing moves skip the
	// detectors, as they would live.
	Gate   *detect.GateConfig
	Edge   EdgeConfig
	Center center.Config
	// Buffer is how many processed frames a camera may run ahead of the slowest one [32].
	Buffer int
	Log    *slog.Logger
}

// ReplayStats is what a replay did.
type ReplayStats struct {
	Cameras []CameraStats
	Center  center.Stats
	// Trajectories formed by the final sightings, how many of them join several sightings, and by
	// how many links.
	Trajectories, Linked, Links int
	// Identified lists the watch-list identities the final sightings carried.
	Identified []string
	Elapsed    time.Duration
}

// CameraStats is one camera's share of a replay.
type CameraStats struct {
	Camera string
	Source ingest.FileStats
	Edge   EdgeStats
}

// Frames is the number of frames sampled from all recordings.
func (s ReplayStats) Frames() int {
	n := 0
	for _, c := range s.Cameras {
		n += c.Source.Frames
	}
	return n
}

// batch is what one processed frame of a camera yields: its events, or the camera's error. Every
// frame yields a batch, even an empty one, so the merger knows how far each camera has got.
type batch struct {
	at     time.Time
	events []tracks.SightingEvent
	err    error
}

// Replay runs recorded cameras through the whole pipeline as if they were live: each recording is
// decoded at its detection rate with wall time = start + PTS, each camera has its edge, the cameras
// run in parallel as fast as the detectors allow, and the center receives their sighting events in
// wall-time order, the order a live deployment would have seen them in. It returns when every
// recording has been played and every track ended.
func Replay(ctx context.Context, o ReplayOptions) (ReplayStats, error) {
	start := time.Now()
	if len(o.Recordings) == 0 || len(o.Detectors) == 0 {
		return ReplayStats{}, errors.New("replay: need recordings and at least one detector")
	}
	seen := map[string]bool{}
	for _, r := range o.Recordings {
		if seen[r.Camera] {
			return ReplayStats{}, fmt.Errorf("replay: camera %s has two recordings", r.Camera)
		}
		seen[r.Camera] = true
	}
	if o.Buffer <= 0 {
		o.Buffer = 32
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	// What the summary needs is gathered from the center's events; the caller's hook still sees them.
	traj := map[string]string{}
	linked := map[string]bool{}
	ids := map[string]bool{}
	user := o.Center.OnEvent
	o.Center.OnEvent = func(e center.Event) {
		switch {
		case e.Decision != nil:
			traj[e.Decision.Sighting] = e.Decision.Trajectory
			linked[e.Decision.Sighting] = e.Decision.Link != nil
		case e.Sighting != nil && e.Sighting.Final && e.Sighting.PersonID() != "":
			ids[e.Sighting.PersonID()] = true
		}
		if user != nil {
			user(e)
		}
	}
	cn, err := center.New(o.Center)
	if err != nil {
		return ReplayStats{}, err
	}

	// Open everything before starting, so a bad file fails the replay before any work is done.
	type camera struct {
		src  *ingest.FileSource
		edge *Edge
		det  *detect.Camera
		out  chan batch
		head *batch
		done bool
	}
	cams := make([]*camera, len(o.Recordings))
	defer func() {
		for _, c := range cams {
			if c == nil {
				continue
			}
			if c.src != nil {
				c.src.Close()
			}
			if c.det != nil {
				c.det.Close()
			}
		}
	}()
	for i, r := range o.Recordings {
		c := &camera{out: make(chan batch, o.Buffer)}
		cams[i] = c
		if c.src, err = ingest.OpenRecording(r, log); err != nil {
			return ReplayStats{}, fmt.Errorf("replay: %w", err)
		}
		c.det = o.Detectors[i%len(o.Detectors)].NewCamera(r.Camera, o.Gate)
		if c.edge, err = NewEdge(r.Camera, c.det, o.Edge); err != nil {
			return ReplayStats{}, fmt.Errorf("replay: %w", err)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(c.out)
			playCamera(runCtx, c.src, c.edge, c.out, log)
		}()
	}
	// Whatever happens below, the cameras stop and their goroutines end before Replay returns.
	defer wg.Wait()
	defer cancel()

	// Merge: hand the center the earliest batch of any camera, which is only known once every camera
	// still playing has a batch waiting.
	for {
		for _, c := range cams {
			if c.done || c.head != nil {
				continue
			}
			select {
			case b, ok := <-c.out:
				if !ok {
					c.done = true
					continue
				}
				if b.err != nil {
					return ReplayStats{}, fmt.Errorf("replay: %w", b.err)
				}
				c.head = &b
			case <-ctx.Done():
				return ReplayStats{}, ctx.Err()
			}
		}
		var next *camera
		for _, c := range cams {
			if c.head != nil && (next == nil || c.head.at.Before(next.head.at)) {
				next = c
			}
		}
		if next == nil {
			break
		}
		for _, ev := range next.head.events {
			if err := cn.Handle(ctx, ev); err != nil {
				return ReplayStats{}, fmt.Errorf("replay: %w", err)
			}
		}
		next.head = nil
	}

	st := ReplayStats{Center: cn.Stats(), Elapsed: time.Since(start)}
	for i, c := range cams {
		st.Cameras = append(st.Cameras, CameraStats{Camera: o.Recordings[i].Camera, Source: c.src.Stats(), Edge: c.edge.Stats()})
	}
	size := map[string]int{}
	for _, t := range traj {
		size[t]++
	}
	for _, n := range size {
		st.Trajectories++
		if n > 1 {
			st.Linked++
		}
	}
	for _, l := range linked {
		if l {
			st.Links++
		}
	}
	for id := range ids {
		st.Identified = append(st.Identified, id)
	}
	sort.Strings(st.Identified)
	return st, nil
}

// playCamera decodes a recording frame by frame through its edge and sends a batch per frame, then
// the final sightings of the tracks still open at the end.
func playCamera(ctx context.Context, src *ingest.FileSource, edge *Edge, out chan<- batch, log *slog.Logger) {
	send := func(b batch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var last time.Time
	for {
		f, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() == nil {
				send(batch{err: err})
			}
			return
		}
		events, err := edge.Process(ctx, f)
		f.Close()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// As live: one picture the detectors fail on is counted and skipped.
			log.Warn("frame skipped", "camera", edge.Camera(), "seq", f.Seq, "err", err)
		}
		last = f.Time
		if !send(batch{at: f.Time, events: events}) {
			return
		}
	}
	events := edge.Finish()
	if len(events) > 0 {
		send(batch{at: last, events: events})
	}
}
