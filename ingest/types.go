package ingest

import (
	"time"

	"gocv.io/x/gocv"
)

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
