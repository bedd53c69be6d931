package media

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Clip is a run of access units that a decoder or muxer can start at: AUs[0] is a keyframe.
type Clip struct {
	Codec Codec
	// ParamSets are the parameter sets (VPS/SPS/PPS) in force at the first access unit, for a container
	// header such as MP4's avcC; keyframes also carry them in band.
	ParamSets [][]byte
	AUs       []AccessUnit
}

// Start and End are the wall times of the first and last access unit.
func (c Clip) Start() time.Time { return c.AUs[0].Time }
func (c Clip) End() time.Time   { return c.AUs[len(c.AUs)-1].Time }

// ErrNotBuffered means the ring holds nothing in the requested window.
var ErrNotBuffered = errors.New("no video buffered for that time")

// Ring keeps the last stretch of one camera's compressed video as whole GOPs, bounded by duration and by
// bytes (whichever is hit first). It is safe for concurrent use: one writer (the worker) and any number of
// readers (clip building, live view).
//
// The byte bound holds inside a GOP too: a GOP that alone outgrows it (a camera that sent one keyframe
// and never another, at any bitrate) is dropped, and nothing is kept until the next keyframe, so a
// broken or hostile camera cannot exhaust memory. Live viewers already watching keep receiving the
// stream; clips and new viewers wait for the next keyframe.
type Ring struct {
	maxDur   time.Duration
	maxBytes int

	mu    sync.Mutex
	codec Codec
	gops  []gop // oldest first
	bytes int
	// overflow is set while the GOP being written has been dropped for outgrowing maxBytes.
	overflow            bool
	droppedGOPs, skipAU uint64
	subs                map[*subscriber]struct{}
}

type gop struct {
	params [][]byte
	aus    []AccessUnit
	bytes  int
}

// NewRing returns a ring that keeps at least maxDur of video when maxBytes allows, and never more than
// maxBytes.
func NewRing(maxDur time.Duration, maxBytes int) *Ring {
	return &Ring{maxDur: maxDur, maxBytes: maxBytes, subs: make(map[*subscriber]struct{})}
}

// Push appends an access unit and reports whether it made the GOP being written outgrow the byte bound,
// which dropped that GOP (once per GOP). Access units before the first keyframe, and after a dropped
// GOP until the next keyframe, cannot start a clip or a viewer's decoder and are not kept.
func (r *Ring) Push(codec Codec, params [][]byte, au AccessUnit) (dropped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		s.offer(au)
	}
	size := au.Size()
	switch {
	case au.Keyframe:
		r.codec = codec
		r.overflow = false
		r.gops = append(r.gops, gop{params: params, aus: []AccessUnit{au}, bytes: size})
	case r.overflow:
		r.skipAU++
		return false
	case len(r.gops) == 0:
		return false
	default:
		g := &r.gops[len(r.gops)-1]
		g.aus = append(g.aus, au)
		g.bytes += size
	}
	r.bytes += size
	if last := r.gops[len(r.gops)-1]; last.bytes > r.maxBytes {
		r.bytes -= last.bytes
		r.gops[len(r.gops)-1] = gop{}
		r.gops = r.gops[:len(r.gops)-1]
		r.overflow = true
		r.droppedGOPs++
		r.skipAU += uint64(len(last.aus))
		dropped = true
	}
	r.evict(au.Time)
	return dropped
}

// evict drops the oldest GOP while the next one alone still reaches back maxDur, or while over the byte
// budget, always keeping the newest GOP.
func (r *Ring) evict(now time.Time) {
	n := 0
	for len(r.gops)-n > 1 {
		next := r.gops[n+1].aus[0].Time
		if !next.After(now.Add(-r.maxDur)) || r.bytes > r.maxBytes {
			r.bytes -= r.gops[n].bytes
			r.gops[n] = gop{}
			n++
			continue
		}
		break
	}
	if n > 0 {
		r.gops = append(r.gops[:0], r.gops[n:]...)
	}
}

// Window returns the access units from the last keyframe at or before from through the last access unit
// (in decode order) shown at or before to. When the ring does not reach back to from, the clip starts at the oldest keyframe.
func (r *Ring) Window(from, to time.Time) (Clip, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := -1
	for i := len(r.gops) - 1; i >= 0; i-- {
		if !r.gops[i].aus[0].Time.After(from) {
			start = i
			break
		}
	}
	if start < 0 {
		start = 0
	}
	var clip Clip
	for i := start; i < len(r.gops); i++ {
		g := r.gops[i]
		if g.aus[0].Time.After(to) {
			break
		}
		if clip.AUs == nil {
			clip.ParamSets = g.params
		}
		// Up to the last access unit shown by to, in decode order: with B-frames that includes a later
		// reference picture the B-frames before to need.
		last := -1
		for j, au := range g.aus {
			if !au.Time.After(to) {
				last = j
			}
		}
		clip.AUs = append(clip.AUs, g.aus[:last+1]...)
	}
	if len(clip.AUs) == 0 || clip.End().Before(from) {
		return Clip{}, ErrNotBuffered
	}
	clip.Codec = r.codec
	return clip, nil
}

// RingStats describes what a ring holds.
type RingStats struct {
	GOPs, AccessUnits int
	Bytes             int
	Oldest, Newest    time.Time
	// DroppedGOPs counts GOPs dropped for outgrowing the byte bound, and DroppedAccessUnits the access
	// units not kept because of that (theirs and those until the next keyframe).
	DroppedGOPs, DroppedAccessUnits uint64
}

// Stats reports what the ring holds now.
func (r *Ring) Stats() RingStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := RingStats{GOPs: len(r.gops), Bytes: r.bytes, DroppedGOPs: r.droppedGOPs, DroppedAccessUnits: r.skipAU}
	for _, g := range r.gops {
		s.AccessUnits += len(g.aus)
	}
	if len(r.gops) > 0 {
		s.Oldest = r.gops[0].aus[0].Time
		last := r.gops[len(r.gops)-1].aus
		s.Newest = last[len(last)-1].Time
	}
	return s
}

// Params returns the codec and parameter sets of the newest GOP; ok is false before the first keyframe.
func (r *Ring) Params() (codec Codec, params [][]byte, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.gops) == 0 {
		return 0, nil, false
	}
	return r.codec, r.gops[len(r.gops)-1].params, true
}

// Subscribe streams access units to a live viewer: first the newest GOP from its keyframe (so a decoder
// can start at once; while the GOP being sent is dropped for its size, nothing until the next keyframe),
// then every new access unit. A subscriber that falls behind by more than buffer
// access units loses them up to the next keyframe, never a reference in the middle of a GOP. The channel
// closes when ctx ends.
func (r *Ring) Subscribe(ctx context.Context, buffer int) <-chan AccessUnit {
	r.mu.Lock()
	defer r.mu.Unlock()
	var backlog []AccessUnit
	if len(r.gops) > 0 && !r.overflow {
		// While the GOP being sent is dropped, an older one would not lead into what follows.
		backlog = r.gops[len(r.gops)-1].aus
	}
	s := &subscriber{ch: make(chan AccessUnit, len(backlog)+max(buffer, 1))}
	for _, au := range backlog {
		s.ch <- au
	}
	s.started = len(backlog) > 0
	r.subs[s] = struct{}{}
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, s)
		close(s.ch)
	})
	return s.ch
}

// subscriber is guarded by Ring.mu.
type subscriber struct {
	ch      chan AccessUnit
	started bool // has a keyframe been delivered since the subscriber last lost data
	dropped uint64
}

func (s *subscriber) offer(au AccessUnit) {
	if !s.started && !au.Keyframe {
		s.dropped++
		return
	}
	select {
	case s.ch <- au:
		s.started = true
	default:
		s.started = false
		s.dropped++
	}
}
