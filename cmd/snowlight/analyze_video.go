package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"time"

	"gocv.io/x/gocv"

	"snowlight/ingest"
	"snowlight/media"
)

// videoSource yields the frames of a video file, sampled at a rate.
type videoSource interface {
	// Next returns the next frame, numbered from 1 at the stream's frame rate, with its time from the
	// start of the file; io.EOF after the last. The caller closes the Mat.
	Next(ctx context.Context) (int, time.Duration, gocv.Mat, error)
	// Frames estimates the number of frames in the file (0 when unknown), for progress.
	Frames() int
	Describe() string
	Close()
}

// openVideo opens path with ingest's file reader (H.264/H.265, as cameras send), or with OpenCV's
// VideoCapture for anything else an investigator may be handed (MPEG-4, MJPEG, ...). fps > 0 takes
// that many frames a second; 0 every frame.
func openVideo(path string, fps float64, log *slog.Logger) (videoSource, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open video: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open video %s: not a regular file", path)
	}
	// The reader stamps frames with start + PTS: from the Unix epoch, the PTS is the time in the file.
	src, avErr := ingest.OpenRecording(media.Recording{Camera: path, File: path, Start: time.Unix(0, 0), FPS: fps}, log)
	if avErr == nil {
		return &fileSource{src: src}, nil
	}
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil || !vc.IsOpened() {
		if err == nil {
			vc.Close()
			err = errors.New("OpenCV cannot open it")
		}
		return nil, fmt.Errorf("open video %s: %v; %w", path, avErr, err)
	}
	log.Info("video is not H.264/H.265: decoding with OpenCV VideoCapture", "file", path, "reason", avErr)
	s := &captureSource{vc: vc, fps: vc.Get(gocv.VideoCaptureFPS), img: gocv.NewMat()}
	if fps > 0 {
		s.period = time.Duration(float64(time.Second) / fps)
	}
	return s, nil
}

// fileSource reads H.264/H.265 files.
type fileSource struct{ src *ingest.FileSource }

func (s *fileSource) Frames() int {
	i := s.src.Info()
	return int(i.Duration.Seconds()*i.FrameRate + 0.5)
}

func (s *fileSource) Describe() string {
	i := s.src.Info()
	return fmt.Sprintf("%v %dx%d %.2f fps", i.Codec, i.Width, i.Height, i.FrameRate)
}

func (s *fileSource) Next(ctx context.Context) (int, time.Duration, gocv.Mat, error) {
	f, err := s.src.Next(ctx)
	if err != nil {
		return 0, 0, gocv.Mat{}, err
	}
	n := f.Seq
	if rate := s.src.Info().FrameRate; rate > 0 {
		n = uint64(math.Round(f.PTS.Seconds()*rate)) + 1
	}
	return int(n), f.PTS, f.Mat, nil
}

func (s *fileSource) Close() { s.src.Close() }

// captureSource reads what OpenCV reads.
type captureSource struct {
	vc     *gocv.VideoCapture
	fps    float64
	img    gocv.Mat
	n      int
	period time.Duration // between frames taken; 0: every frame
	due    time.Duration
}

func (s *captureSource) Frames() int { return int(s.vc.Get(gocv.VideoCaptureFrameCount)) }

func (s *captureSource) Describe() string {
	return fmt.Sprintf("%s %dx%d %.2f fps (OpenCV)", s.vc.CodecString(), int(s.vc.Get(gocv.VideoCaptureFrameWidth)),
		int(s.vc.Get(gocv.VideoCaptureFrameHeight)), s.fps)
}

func (s *captureSource) Next(ctx context.Context) (int, time.Duration, gocv.Mat, error) {
	for s.vc.Read(&s.img) {
		if err := ctx.Err(); err != nil {
			return 0, 0, gocv.Mat{}, err
		}
		s.n++
		var t time.Duration
		if s.fps > 0 {
			t = time.Duration(float64(s.n-1) / s.fps * float64(time.Second))
		}
		if s.period > 0 {
			if t+time.Millisecond < s.due { // a millisecond of slack for rounded timestamps
				continue
			}
			if s.due += s.period; s.due <= t {
				s.due = t + s.period // after a gap, the grid restarts here
			}
		}
		return s.n, t, s.img.Clone(), nil
	}
	return 0, 0, gocv.Mat{}, io.EOF
}

func (s *captureSource) Close() {
	s.img.Close()
	s.vc.Close()
}
