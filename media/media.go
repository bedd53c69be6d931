// Package media holds the compressed video that crosses from ingest to the stages that keep, cut and
// show it: the codec of a camera, its access units, and the Ring that keeps the last stretch of them for
// clips and live view, and recordings of it in files. Nothing here decodes a picture, so it needs
// neither cgo nor libav.
package media

import (
	"fmt"
	"time"
)

// Codec is the compression format of a camera's video.
type Codec int

// Codecs a camera may send. The zero value is invalid so that a forgotten field is caught.
const (
	H264 Codec = iota + 1
	H265
)

func (c Codec) String() string {
	switch c {
	case H264:
		return "H264"
	case H265:
		return "H265"
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// AccessUnit is one compressed picture of one camera.
//
// NALUs and their bytes are shared with the ring and every subscriber: readers must not modify them.
type AccessUnit struct {
	Camera string
	// Time is the wall-clock time the picture was captured (from RTCP sender reports when the camera
	// sends them, else from arrival), never going back for a camera, across reconnects too.
	Time time.Time
	// PTS is media time: RTP time unwrapped and rebased so that it never goes back for a camera, across
	// reconnects and timestamp jumps.
	PTS time.Duration
	// NALUs are the NAL units without start codes, in decode order. Keyframes carry their parameter sets.
	NALUs    [][]byte
	Keyframe bool
}

// Size is the number of payload bytes.
func (au AccessUnit) Size() int {
	n := 0
	for _, nalu := range au.NALUs {
		n += len(nalu)
	}
	return n
}

// Recording is one camera's recorded video.
type Recording struct {
	Camera string
	File   string
	// Start is the wall time of media time (PTS) zero: a frame's wall time is Start + PTS.
	Start time.Time
	// FPS is the rate the recording is played at: about this many pictures a second are decoded (the
	// camera's detection rate).
	FPS float64
}
