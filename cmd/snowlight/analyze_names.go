package main

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"snowlight/detect"
	"snowlight/pipeline"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// trackNamer names the faces of a video by face track: faces are followed from frame to frame
// (pipeline.FaceTrackerConfig), each track gathers identity evidence under the rule the edge uses for
// person tracks (tracks' template rule, the category's threshold and margin), and when a track ends
// every frame of it takes the track's final identity. A frame is therefore held back until every
// track in it has ended; what comes out is in frame order. With a watch list, the tracks the photos
// left unnamed are then named by the faces the photos named elsewhere in the video
// (pipeline.LocalNamer), which needs the whole video: every frame is held back to the end.
type trackNamer struct {
	tracker *tracks.Tracker
	matcher *watchlist.Matcher // nil: nobody to name
	names   map[string]string  // person id -> name
	pending []*pendingFrame
	// ended holds the sightings of tracks that ended while pending frames refer to them; held counts
	// the pending faces of each track.
	ended map[uint64]*endedTrack
	held  map[uint64]int
}

// endedTrack is a track's final sighting and, when a local template named it, that match and the
// tracks whose faces make the template.
type endedTrack struct {
	tracks.Sighting
	local *watchlist.Match
	from  []uint64
}

// pendingFrame is a frame's record and, per face, its track (0: none) and its own match.
type pendingFrame struct {
	rec    frameRecord
	tracks []uint64
	own    []*watchlist.Match
}

// candidatesPerFace is how many of the most similar people each face passes to its track, as at the
// edge (pipeline.EdgeConfig.Candidates).
const candidatesPerFace = 3

// newTrackNamer names faces after the people of matcher (nil: nobody), whose entries are ids.
func newTrackNamer(matcher *watchlist.Matcher, ids []watchlist.Person) (*trackNamer, error) {
	tr, err := tracks.NewTracker(pipeline.FaceTrackerConfig())
	if err != nil {
		return nil, fmt.Errorf("face tracker: %w", err)
	}
	n := &trackNamer{tracker: tr, matcher: matcher, names: map[string]string{}, ended: map[uint64]*endedTrack{},
		held: map[uint64]int{}}
	for _, id := range ids {
		n.names[id.ID] = id.Name
	}
	return n, nil
}

// add tracks the faces of one frame (rec's faces, in res.Faces' order) and returns the frames that are
// now complete, in order. A frame the motion gate skipped leaves the tracks as they are.
func (n *trackNamer) add(at time.Time, res detect.Result, rec frameRecord) []frameRecord {
	p := &pendingFrame{rec: rec, tracks: make([]uint64, len(res.Faces)), own: make([]*watchlist.Match, len(res.Faces))}
	if !res.Skipped {
		dets := make([]tracks.Detection, len(res.Faces))
		for i := range res.Faces {
			f := &res.Faces[i]
			tf := pipeline.TrackFace(f, n.matcher, candidatesPerFace)
			dets[i] = tracks.Detection{Box: tf.Box, Score: tf.Score, Face: tf, Appearance: tf.Embedding}
			p.own[i] = f.Match
		}
		for _, t := range n.tracker.Update(at, dets) {
			p.tracks[t.Detection] = t.ID
			n.held[t.ID]++
		}
		for _, s := range n.tracker.Sightings() {
			n.ended[s.TrackID] = &endedTrack{Sighting: s}
		}
	}
	n.pending = append(n.pending, p)
	if n.matcher != nil {
		return nil // finish names by local templates
	}
	return n.flush()
}

// finish ends every track, names the tracks left unnamed by local templates, and returns the frames
// still held back.
func (n *trackNamer) finish() []frameRecord {
	for _, s := range n.tracker.Finish() {
		n.ended[s.TrackID] = &endedTrack{Sighting: s}
	}
	if n.matcher != nil {
		n.nameLocally()
	}
	return n.flush()
}

// nameLocally names the tracks the photos left unnamed by the faces the photos named elsewhere in the
// video (pipeline.LocalNamer).
func (n *trackNamer) nameLocally() {
	all := make([]*endedTrack, 0, len(n.ended))
	for _, t := range n.ended {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b *endedTrack) int { return cmp.Compare(a.TrackID, b.TrackID) })
	ln := pipeline.NewLocalNamer(pipeline.DefaultLocalConfig())
	track := map[string]uint64{}
	for _, t := range all {
		ln.Learn(t.Sighting)
		track[t.ID] = t.TrackID
	}
	for _, t := range all {
		ln.Consider(n.matcher, t.Sighting)
	}
	for _, t := range all {
		if m, how := ln.Name(t.Sighting); m != nil {
			t.local = m
			for _, id := range how.From {
				t.from = append(t.from, track[id])
			}
		}
	}
}

// flush names and returns the frames at the front whose tracks have all ended.
func (n *trackNamer) flush() []frameRecord {
	var out []frameRecord
	for len(n.pending) > 0 {
		p := n.pending[0]
		for _, id := range p.tracks {
			if _, ok := n.ended[id]; id != 0 && !ok {
				return out
			}
		}
		for i, id := range p.tracks {
			n.name(&p.rec.Faces[i], id, p.own[i])
			if id == 0 {
				continue
			}
			if n.held[id]--; n.held[id] == 0 {
				delete(n.held, id)
				delete(n.ended, id)
			}
		}
		out = append(out, p.rec)
		n.pending[0] = nil
		n.pending = n.pending[1:]
	}
	return out
}

// name gives a face its track's identity; source says whether the face's own match (the rule applied
// to this frame alone) agrees ("face") or the track's other frames named it ("track"). A face on no
// track keeps its own match.
func (n *trackNamer) name(f *jsonFace, track uint64, own *watchlist.Match) {
	f.Track = track
	if track == 0 {
		if own != nil {
			f.Identity, f.Source = own.Name, "face"
		}
		return
	}
	t := n.ended[track]
	if t.local != nil {
		f.Identity, f.Source, f.TrackSimilarity, f.LocalTracks = t.local.Name, "video", round(t.local.Similarity, 3), t.from
		if own != nil && own.PersonID == t.local.PersonID {
			f.Source = "face"
		}
		return
	}
	ev := t.Evidence
	if ev.PersonID == "" {
		return
	}
	f.Identity, f.Source = n.names[ev.PersonID], "track"
	if own != nil && own.PersonID == ev.PersonID {
		f.Source = "face"
	}
	for _, c := range ev.Candidates {
		if c.PersonID == ev.PersonID {
			f.TrackSimilarity = round(float32(c.Score), 3)
		}
	}
}
