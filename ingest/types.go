package ingest

import (
	"time"

	"gocv.io/x/gocv"

	"snowlight/ingest/av"
)

// Codec is the compression format of a camera's video.
type Codec = av.Codec

// Codecs a camera may send.
const (
	H264 = av.H264
	H265 = av.H265
)

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

// Frame is one decoded picture. The receiver owns Mat and must Close the frame.
type Frame struct {
	Camera string
	// Seq numbers the frames a worker emits, from 1, across reconnects.
	Seq      uint64
	Time     time.Time
	PTS      time.Duration
	Keyframe bool
	// Corrupt marks a picture decoded with concealed errors (after packet loss).
	Corrupt bool
	Mat     gocv.Mat
}

// Close frees the picture.
func (f *Frame) Close() error { return f.Mat.Close() }
