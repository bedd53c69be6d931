package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"snowlight/detect"
	"snowlight/ingest"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// EdgeConfig is what every camera's edge shares.
type EdgeConfig struct {
	// Tracker configures each camera's tracker (its Camera field is set per edge). Its score bands
	// must suit the detector: see TrackerConfig.
	Tracker tracks.Config
	// WatchList returns the current watch list, nil when there is none. With it every face is ranked
	// against every person, each with the threshold the matcher's policy sets for them; without it
	// the detector's nearest person (set when the detect pipeline has a watch list) is the only
	// candidate. Called once per frame; must be safe for concurrent use.
	WatchList func() *watchlist.Matcher
	// Candidates is how many of the most similar identities each face passes to its track [3].
	Candidates int
	// Local is how the camera's tracks named by the photos name its other tracks (LocalNamer) where
	// the person's category allows it [DefaultLocalConfig].
	Local LocalConfig
	// JPEGQuality of snapshot crops [85].
	JPEGQuality int
	// UpdateEvery re-reports a track still in view when this much wall time has passed since it was
	// last reported, so rules that need the person's whereabouts while they are there (loitering in
	// an image zone) can act [1 s]. Negative reports a track only when it starts, when its identity
	// changes and when it ends.
	UpdateEvery time.Duration
	Metrics     *Metrics
	Log         *slog.Logger
}

// TrackerConfig returns the tracker settings for the detect package's person detector (YOLOX-nano,
// which reports people from score 0.3) at a few detections a second. ByteTrack's bands are kept: a
// detection from 0.5 continues any track and from 0.6 starts one, while partial views (someone
// entering, or half hidden behind another) between 0.3 and 0.5 may only continue a track; the
// detector's small false detections score in that band too, so they never start one. OSNet
// embeddings add BoT-SORT's appearance cost, which keeps walkers apart where their boxes cross.
func TrackerConfig() tracks.Config {
	c := tracks.DefaultConfig()
	c.HighScore, c.LowScore, c.NewTrackScore = 0.5, 0.3, 0.6
	c.Appearance = true
	return c
}

// FaceTrackerConfig returns tracker settings for following faces rather than people, as analyze does
// in footage where bodies are often out of view; detections carry the face embedding as their
// appearance (TrackFace's). YuNet reports faces from 0.7, so every reported face may start a track, and
// a face seen once is already a track (ConfirmHits 1), named when its one frame suffices (MinFrames 1:
// the template of one face is the face, held to the single face's threshold and margin). A face less
// than 0.4 alike its track's (MinAppearance) starts a track of its own: at a shot cut the next
// person's face often sits where the last one's was, and one track over both would give one of them
// the other's name. On tbbt consecutive faces of one labelled track are at least 0.48 alike, faces of
// two people at most 0.38. The edge's person tracks keep MinFrames 2: one lucky frame never sends
// anyone out.
func FaceTrackerConfig() tracks.Config {
	c := tracks.DefaultConfig()
	c.HighScore, c.LowScore, c.NewTrackScore = 0.7, 0.5, 0.7
	c.ConfirmHits = 1
	c.MinAppearance = 0.4
	c.Identity.MinFrames = 1
	return c
}

// GateConfig returns the motion gate settings for the edge: the detect package's defaults, except
// that moving regions covering more than a fifth of the frame get a full pass. A person near the
// camera fills that much, and the person detector run on a crop around them now and then returns
// only their upper body, which makes the track's box jump and the tracker lose them; the crop saves
// little at that size anyway. Empty frames, the bulk of the saving, are still skipped.
func GateConfig() detect.GateConfig {
	g := detect.DefaultGateConfig()
	g.FullAbove = 0.2
	return g
}

func (c *EdgeConfig) setDefaults() {
	if c.Candidates <= 0 {
		c.Candidates = 3
	}
	if c.Local == (LocalConfig{}) {
		c.Local = DefaultLocalConfig()
	}
	if c.UpdateEvery == 0 {
		c.UpdateEvery = time.Second
	}
	if c.JPEGQuality <= 0 || c.JPEGQuality > 100 {
		c.JPEGQuality = 85
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Edge is one camera's side of the pipeline: it runs each frame through the camera's detector and
// tracker and reports sightings. Not safe for concurrent use: one goroutine feeds it the camera's
// frames in order.
type Edge struct {
	camera  string
	cfg     EdgeConfig
	det     *detect.Camera
	tracker *tracks.Tracker
	local   *LocalNamer
	log     *slog.Logger
	// reported is what was last reported of each live track that has been reported at all.
	reported map[uint64]report
	last     time.Time // of the latest frame the detectors ran on, for Finish
	stats    EdgeStats
}

type report struct {
	person string
	at     time.Time
}

// EdgeStats counts an edge's work.
type EdgeStats struct {
	Frames   int // frames given to Process
	Detected int // of which the detectors ran on
	Skipped  int // of which the motion gate skipped
	Errors   int // of which failed in the detectors
	Started  int // sighting events by kind
	Updated  int
	Ended    int
}

// NewEdge makes the edge of one camera around its detector (a detect.Camera on a shared or own
// detect.Pipeline; the Edge does not close it).
func NewEdge(camera string, det *detect.Camera, cfg EdgeConfig) (*Edge, error) {
	if camera == "" || det == nil {
		return nil, errors.New("edge: camera id and detector are required")
	}
	cfg.setDefaults()
	tc := cfg.Tracker
	tc.Camera = camera
	if tc.Logger == nil {
		tc.Logger = cfg.Log
	}
	tr, err := tracks.NewTracker(tc)
	if err != nil {
		return nil, fmt.Errorf("edge %s: %w", camera, err)
	}
	return &Edge{camera: camera, cfg: cfg, det: det, tracker: tr, local: NewLocalNamer(cfg.Local),
		log: cfg.Log.With("camera", camera), reported: map[uint64]report{}}, nil
}

// Camera is the camera's id.
func (e *Edge) Camera() string { return e.camera }

// Stats returns the counts so far.
func (e *Edge) Stats() EdgeStats { return e.stats }

// Process runs one frame through detection and tracking and returns the sighting events it caused:
// a track confirmed (SightingStarted), a track's identity changing (SightingUpdated: at once, not when
// the person leaves) or UpdateEvery passing while it is in view (SightingUpdated), tracks ended
// (SightingEnded). The caller keeps ownership of the frame. A frame the motion gate skips leaves the
// tracks as they are: nothing moved, so they are where they were.
func (e *Edge) Process(ctx context.Context, f ingest.Frame) ([]tracks.SightingEvent, error) {
	e.stats.Frames++
	res, err := e.det.Process(ctx, f.Mat, f.Time)
	if err != nil {
		if ctx.Err() == nil {
			e.stats.Errors++
			e.cfg.Metrics.frame(e.camera, "error")
		}
		return nil, fmt.Errorf("camera %s frame %d: %w", e.camera, f.Seq, err)
	}
	if res.Skipped {
		e.stats.Skipped++
		e.cfg.Metrics.frame(e.camera, "skipped")
		return nil, nil
	}
	e.stats.Detected++
	e.cfg.Metrics.frame(e.camera, "detected")
	var matcher *watchlist.Matcher
	if e.cfg.WatchList != nil {
		matcher = e.cfg.WatchList()
	}
	dets := toDetections(res, ranker{matcher: matcher, keep: e.cfg.Candidates})
	for i := range dets {
		c := frameCrops{frame: f.Mat, body: dets[i].Box, quality: e.cfg.JPEGQuality}
		if dets[i].Face != nil {
			c.face = &dets[i].Face.Box
		}
		dets[i].Crops = c
	}
	e.last = f.Time
	updates := e.tracker.Update(f.Time, dets)
	ended := e.tracker.Sightings()
	// Named tracks teach the local templates first, and with their exact spans: a track beside one
	// named in this very frame must not take its person.
	live := map[uint64]tracks.Sighting{}
	for _, t := range updates {
		if t.PersonID != "" || e.reported[t.ID].person != "" {
			if s, ok := e.tracker.Live(t.ID); ok {
				live[t.ID] = s
				e.local.Learn(s)
			}
		}
	}
	for _, s := range ended {
		e.local.Learn(s)
	}
	teaching := e.local.Teachers() > 0
	var events []tracks.SightingEvent
	for _, t := range updates {
		s, built := live[t.ID]
		if !built && teaching { // an unnamed track may take a local name
			s, built = e.tracker.Live(t.ID)
		}
		person := t.PersonID
		if built {
			e.nameLocally(matcher, &s)
			person = s.PersonID()
		}
		last, reported := e.reported[t.ID]
		kind := tracks.SightingStarted
		switch {
		case !reported:
		case last.person != person:
			kind = tracks.SightingUpdated
		case e.cfg.UpdateEvery > 0 && f.Time.Sub(last.at) >= e.cfg.UpdateEvery:
			kind = tracks.SightingUpdated
		default:
			continue
		}
		if !built {
			if s, built = e.tracker.Live(t.ID); !built {
				continue
			}
		}
		e.reported[t.ID] = report{person: person, at: f.Time}
		events = append(events, e.event(kind, f.Time, s))
	}
	for _, s := range ended {
		e.nameLocally(matcher, &s)
		events = append(events, e.ended(f.Time, s))
	}
	e.local.Forget(f.Time)
	return events, nil
}

// nameLocally names a track the photos did not by the camera's local templates when it can
// (LocalNamer). The callers have let every named track of the frame teach first.
func (e *Edge) nameLocally(m *watchlist.Matcher, s *tracks.Sighting) {
	if s.PersonID() != "" {
		return
	}
	e.local.Consider(m, *s)
	if match, how := e.local.Name(*s); match != nil {
		s.Evidence.PersonID, s.Evidence.Local = match.PersonID, how
	}
}

// Finish ends every track (the stream is over) and returns their final sightings.
func (e *Edge) Finish() []tracks.SightingEvent {
	var matcher *watchlist.Matcher
	if e.cfg.WatchList != nil {
		matcher = e.cfg.WatchList()
	}
	final := e.tracker.Finish()
	for _, s := range final {
		e.local.Learn(s)
	}
	var events []tracks.SightingEvent
	for _, s := range final {
		e.nameLocally(matcher, &s)
		events = append(events, e.ended(e.last, s))
	}
	return events
}

func (e *Edge) ended(at time.Time, s tracks.Sighting) tracks.SightingEvent {
	delete(e.reported, s.TrackID)
	return e.event(tracks.SightingEnded, at, s)
}

func (e *Edge) event(kind tracks.EventKind, at time.Time, s tracks.Sighting) tracks.SightingEvent {
	switch kind {
	case tracks.SightingStarted:
		e.stats.Started++
	case tracks.SightingUpdated:
		e.stats.Updated++
	case tracks.SightingEnded:
		e.stats.Ended++
	}
	e.cfg.Metrics.sighting(e.camera, kind)
	if at.IsZero() { // Finish before any frame: nothing was tracked, but keep the event valid
		at = s.Exit
	}
	return tracks.SightingEvent{Kind: kind, Camera: e.camera, Frame: at, Sighting: s}
}

// Run processes frames until the channel closes (its producer closes it when ctx ends), closing each
// frame, then ends every track; emit receives the events in order. A frame the detectors fail on is
// logged and skipped: one bad picture must not stop a camera. Once ctx is cancelled the remaining
// frames are only closed.
func (e *Edge) Run(ctx context.Context, frames <-chan ingest.Frame, emit func(tracks.SightingEvent)) error {
	for f := range frames {
		if ctx.Err() != nil {
			f.Close()
			continue
		}
		events, err := e.Process(ctx, f)
		f.Close()
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("frame skipped", "seq", f.Seq, "err", err)
			}
			continue
		}
		for _, ev := range events {
			emit(ev)
		}
	}
	for _, ev := range e.Finish() {
		emit(ev)
	}
	return ctx.Err()
}
