// Package clip turns the compressed video an ingest ring holds into MP4 evidence clips. Nothing is decoded
// or re-encoded: the camera's own H.264/H.265 access units are remuxed, so a clip is exactly what the
// camera sent and costs almost no CPU.
package clip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"snowlight/media"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
)

// timescale is the MP4 track clock: the RTP video clock, so media times convert without rounding.
const timescale = 90000

// Info describes a built clip.
type Info struct {
	Camera     string
	Start, End time.Time // wall times of the first and last picture
	Duration   time.Duration
	Frames     int
}

// Source is what clips are cut from: a camera's ring buffer.
type Source interface {
	Window(from, to time.Time) (media.Clip, error)
	Stats() media.RingStats
}

// Cut waits until src holds video up to at+post (or until ctx ends or a camera that stopped sending has
// made waiting pointless), then remuxes [at-pre, at+post] into an MP4 that starts at the keyframe at or
// before at-pre. A camera that went silent yields the shorter clip it has.
func Cut(ctx context.Context, src Source, camera string, at time.Time, pre, post time.Duration) ([]byte, Info, error) {
	end := at.Add(post)
	if err := waitFor(ctx, src, end, post); err != nil {
		return nil, Info{}, fmt.Errorf("cut clip of camera %s at %s: %w", camera, at.Format(time.RFC3339), err)
	}
	c, err := src.Window(at.Add(-pre), end)
	if err != nil {
		return nil, Info{}, fmt.Errorf("cut clip of camera %s at %s: %w", camera, at.Format(time.RFC3339), err)
	}
	b, info, err := Mux(c)
	if err != nil {
		return nil, Info{}, fmt.Errorf("cut clip of camera %s: %w", camera, err)
	}
	info.Camera = camera
	return b, info, nil
}

// waitFor polls until the ring's newest picture reaches end. It gives up waiting (without error) when no
// new picture arrived for stall, since a dead camera will not fill the post-roll.
func waitFor(ctx context.Context, src Source, end time.Time, post time.Duration) error {
	stall := max(post/2, 2*time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := src.Stats().Newest, time.Now()
	for {
		newest := src.Stats().Newest
		if !newest.Before(end) {
			return nil
		}
		if !newest.Equal(last) {
			last, lastChange = newest, time.Now()
		} else if time.Since(lastChange) > stall {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Mux writes c as a progressive MP4 (index first, so browsers start playing before the download ends).
func Mux(c media.Clip) ([]byte, Info, error) {
	if len(c.AUs) == 0 {
		return nil, Info{}, errors.New("mux clip: no video")
	}
	if !c.AUs[0].Keyframe {
		return nil, Info{}, errors.New("mux clip: does not start at a keyframe")
	}
	codec, err := mp4Codec(c)
	if err != nil {
		return nil, Info{}, fmt.Errorf("mux clip: %w", err)
	}
	dts, err := decodeTimes(c)
	if err != nil {
		return nil, Info{}, fmt.Errorf("mux clip: %w", err)
	}
	samples := make([]*pmp4.Sample, len(c.AUs))
	for i, au := range c.AUs {
		payload, err := h264.AVCC(stripDelimiters(c.Codec, au.NALUs)).Marshal()
		if err != nil {
			return nil, Info{}, fmt.Errorf("mux clip: access unit %d: %w", i, err)
		}
		var dur int64
		if i+1 < len(dts) {
			dur = dts[i+1] - dts[i]
		} else if i > 0 {
			dur = dts[i] - dts[i-1]
		}
		samples[i] = &pmp4.Sample{
			Duration:        uint32(max(dur, 1)),
			PTSOffset:       int32(ticks(au.PTS) - dts[i]),
			IsNonSyncSample: !au.Keyframe,
			PayloadSize:     uint32(len(payload)),
			GetPayload:      func() ([]byte, error) { return payload, nil },
		}
	}
	p := pmp4.Presentation{Tracks: []*pmp4.Track{{ID: 1, TimeScale: timescale, Codec: codec, Samples: samples}}}
	var buf bytes.Buffer
	if err := p.Marshal(&buf); err != nil {
		return nil, Info{}, fmt.Errorf("mux clip: %w", err)
	}
	// With B-frames the last picture shown is not the last one stored.
	info := Info{Start: c.Start(), End: c.Start(), Frames: len(c.AUs)}
	var lastPTS time.Duration
	for _, au := range c.AUs {
		if au.Time.After(info.End) {
			info.End = au.Time
		}
		lastPTS = max(lastPTS, au.PTS)
	}
	info.Duration = lastPTS - c.AUs[0].PTS + time.Duration(samples[len(samples)-1].Duration)*time.Second/timescale
	return buf.Bytes(), info, nil
}

func ticks(d time.Duration) int64 { return int64(d) * timescale / int64(time.Second) }

// decodeTimes derives each access unit's decode time from its presentation time; with B-frames they
// differ, and MP4 stores both.
func decodeTimes(c media.Clip) ([]int64, error) {
	out := make([]int64, len(c.AUs))
	switch c.Codec {
	case media.H264:
		ex := h264.NewDTSExtractor()
		for i, au := range c.AUs {
			d, err := ex.Extract(au.NALUs, ticks(au.PTS))
			if err != nil {
				return nil, fmt.Errorf("decode time of access unit %d: %w", i, err)
			}
			out[i] = d
		}
	case media.H265:
		ex := h265.NewDTSExtractor()
		for i, au := range c.AUs {
			d, err := ex.Extract(au.NALUs, ticks(au.PTS))
			if err != nil {
				return nil, fmt.Errorf("decode time of access unit %d: %w", i, err)
			}
			out[i] = d
		}
	default:
		return nil, fmt.Errorf("unsupported codec %v", c.Codec)
	}
	for i := 1; i < len(out); i++ {
		if out[i] <= out[i-1] { // a camera restart inside the window: keep decode order strictly increasing
			out[i] = out[i-1] + 1
		}
	}
	return out, nil
}

// mp4Codec builds the sample description from the clip's parameter sets.
func mp4Codec(c media.Clip) (mp4.Codec, error) {
	params := c.ParamSets
	if len(params) == 0 {
		params = c.AUs[0].NALUs
	}
	switch c.Codec {
	case media.H264:
		var sps, pps []byte
		for _, n := range params {
			if len(n) == 0 {
				continue
			}
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			}
		}
		if sps == nil || pps == nil {
			return nil, errors.New("no H264 SPS/PPS")
		}
		return &mp4.CodecH264{SPS: sps, PPS: pps}, nil
	case media.H265:
		var vps, sps, pps []byte
		for _, n := range params {
			if len(n) < 2 {
				continue
			}
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				vps = n
			case h265.NALUType_SPS_NUT:
				sps = n
			case h265.NALUType_PPS_NUT:
				pps = n
			}
		}
		if vps == nil || sps == nil || pps == nil {
			return nil, errors.New("no H265 VPS/SPS/PPS")
		}
		return &mp4.CodecH265{VPS: vps, SPS: sps, PPS: pps}, nil
	}
	return nil, fmt.Errorf("unsupported codec %v", c.Codec)
}

// stripDelimiters drops access unit delimiters, which MP4 samples must not carry.
func stripDelimiters(c media.Codec, nalus [][]byte) [][]byte {
	out := nalus[:0:0]
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if c == media.H264 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			continue
		}
		if c == media.H265 && h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_AUD_NUT {
			continue
		}
		out = append(out, n)
	}
	return out
}
