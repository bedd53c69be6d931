package camsim

import (
	"errors"
	"fmt"
	"io"
	"time"

	"snowlight/ingest/av"
	"snowlight/media"
)

// source is one video file, scanned once: its stream facts, its loop period and, when it is small
// enough, all its access units in memory.
type source struct {
	path   string
	info   av.StreamInfo
	params [][]byte
	// first is the DTS of the first packet: media time 0 of the camera.
	first  time.Duration
	period time.Duration // one play-through: last DTS - first DTS + one frame
	frames int
	cached []av.Packet // nil when the file is re-read on every loop
	// truncated is set when the file ended in a read error rather than a clean end.
	truncated error
}

// loadSource scans path. A file that cannot be opened or holds no video is an error; a file that breaks
// off part-way (a truncated recording) plays the frames before the break.
func loadSource(path string, maxCache int) (*source, error) {
	d, err := av.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("camsim: %w", err)
	}
	defer d.Close()
	src := &source{path: path, info: d.Info(), params: d.Info().ParamSets}
	var (
		bytes   int
		cache   []av.Packet
		lastDTS time.Duration
		keyed   bool
	)
	for {
		pkt, err := d.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			src.truncated = err
			break
		}
		if !keyed {
			if !pkt.Keyframe {
				continue // a camera starts at a keyframe
			}
			keyed = true
			src.first = pkt.DTS
			if len(src.params) == 0 {
				src.params = paramSets(src.info.Codec, pkt.AU)
			}
		}
		src.frames++
		lastDTS = pkt.DTS
		if cache != nil || src.frames == 1 {
			for _, n := range pkt.AU {
				bytes += len(n)
			}
			if bytes <= maxCache {
				cache = append(cache, pkt)
			} else {
				cache = nil
			}
		}
	}
	if src.frames == 0 {
		if src.truncated != nil {
			return nil, fmt.Errorf("camsim: %s has no playable video: %w", path, src.truncated)
		}
		return nil, fmt.Errorf("camsim: %s has no keyframe to start at", path)
	}
	if len(src.params) == 0 {
		return nil, fmt.Errorf("camsim: %s carries no parameter sets", path)
	}
	src.period = lastDTS - src.first + frameDuration(src.info.FrameRate, lastDTS-src.first, src.frames)
	src.cached = cache
	return src, nil
}

// frameDuration is the nominal frame interval, else the average one.
func frameDuration(rate float64, span time.Duration, frames int) time.Duration {
	if rate > 0 {
		return time.Duration(float64(time.Second) / rate)
	}
	if frames > 1 {
		return span / time.Duration(frames-1)
	}
	return 40 * time.Millisecond
}

// packets calls fn for each playable access unit of one play-through, from the first keyframe, until fn
// returns false or the file ends.
func (s *source) packets(fn func(av.Packet) bool) error {
	if s.cached != nil {
		for _, p := range s.cached {
			if !fn(p) {
				return nil
			}
		}
		return nil
	}
	d, err := av.OpenFile(s.path)
	if err != nil {
		return fmt.Errorf("camsim: reopen: %w", err)
	}
	defer d.Close()
	keyed := false
	for n := 0; n < s.frames; n++ {
		pkt, err := d.Read()
		if err != nil {
			return nil // the scan already counted how far the file plays
		}
		if !keyed && !pkt.Keyframe {
			n--
			continue
		}
		keyed = true
		if !fn(pkt) {
			return nil
		}
	}
	return nil
}

// paramSets picks the parameter sets out of a keyframe.
func paramSets(c media.Codec, au [][]byte) [][]byte {
	var ps [][]byte
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		var isPS bool
		switch c {
		case media.H264:
			t := n[0] & 0x1f
			isPS = t == 7 || t == 8
		case media.H265:
			t := (n[0] >> 1) & 0x3f
			isPS = t == 32 || t == 33 || t == 34
		}
		if isPS {
			ps = append(ps, n)
		}
	}
	return ps
}
