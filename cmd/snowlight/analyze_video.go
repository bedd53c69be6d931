package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"gocv.io/x/gocv"

	"snowlight/ingest/av"
)

// videoSource yields the decoded frames of a video file in decode order.
type videoSource interface {
	// Next returns the next frame that want accepts, numbered from 1 in decode order, with its time from
	// the start of the file; io.EOF after the last. Frames want refuses are decoded but not converted.
	// The caller closes the Mat.
	Next(want func(n int, t time.Duration) bool) (int, time.Duration, gocv.Mat, error)
	// Frames estimates the number of frames (0 when unknown), for progress.
	Frames() int
	Describe() string
	Close()
}

// openVideo opens path with the project's libavcodec decoder (H.264/H.265, as cameras send), or with
// OpenCV's VideoCapture for anything else an investigator may be handed (MPEG-4, MJPEG, ...).
func openVideo(path string, log *slog.Logger) (videoSource, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open video: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open video %s: not a regular file", path)
	}
	dm, avErr := av.OpenFile(path)
	if avErr == nil {
		dec, err := av.NewDecoder(av.DecoderOptions{Codec: dm.Info().Codec})
		if err != nil {
			dm.Close()
			return nil, err
		}
		return &avSource{dm: dm, dec: dec}, nil
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
	return &captureSource{vc: vc, fps: vc.Get(gocv.VideoCaptureFPS), img: gocv.NewMat()}, nil
}

type avSource struct {
	dm      *av.Demuxer
	dec     *av.Decoder
	n       int
	drained bool
}

func (s *avSource) Frames() int {
	i := s.dm.Info()
	return int(i.Duration.Seconds()*i.FrameRate + 0.5)
}

func (s *avSource) Describe() string {
	i := s.dm.Info()
	return fmt.Sprintf("%v %dx%d %.2f fps", i.Codec, i.Width, i.Height, i.FrameRate)
}

func (s *avSource) Next(want func(int, time.Duration) bool) (int, time.Duration, gocv.Mat, error) {
	for {
		pic, err := s.dec.Receive()
		switch {
		case err == nil:
			s.n++
			t := time.Duration(pic.PTS)
			if !want(s.n, t) {
				continue
			}
			img, err := s.dec.BGR()
			if err != nil {
				return 0, 0, gocv.Mat{}, fmt.Errorf("frame %d: %w", s.n, err)
			}
			return s.n, t, img, nil
		case errors.Is(err, io.EOF):
			return 0, 0, gocv.Mat{}, io.EOF
		case !errors.Is(err, av.ErrNeedInput):
			return 0, 0, gocv.Mat{}, fmt.Errorf("decode frame %d: %w", s.n+1, err)
		}
		if s.drained {
			return 0, 0, gocv.Mat{}, io.EOF
		}
		p, err := s.dm.Read()
		if errors.Is(err, io.EOF) {
			if err := s.dec.Drain(); err != nil {
				return 0, 0, gocv.Mat{}, err
			}
			s.drained = true
			continue
		}
		if err != nil {
			return 0, 0, gocv.Mat{}, err
		}
		if err := s.dec.Send(p.AU, int64(p.PTS)); err != nil {
			return 0, 0, gocv.Mat{}, fmt.Errorf("decode after frame %d: %w", s.n, err)
		}
	}
}

func (s *avSource) Close() {
	s.dec.Close()
	s.dm.Close()
}

type captureSource struct {
	vc  *gocv.VideoCapture
	fps float64
	img gocv.Mat
	n   int
}

func (s *captureSource) Frames() int { return int(s.vc.Get(gocv.VideoCaptureFrameCount)) }

func (s *captureSource) Describe() string {
	return fmt.Sprintf("%s %dx%d %.2f fps (OpenCV)", s.vc.CodecString(), int(s.vc.Get(gocv.VideoCaptureFrameWidth)),
		int(s.vc.Get(gocv.VideoCaptureFrameHeight)), s.fps)
}

func (s *captureSource) Next(want func(int, time.Duration) bool) (int, time.Duration, gocv.Mat, error) {
	for s.vc.Read(&s.img) {
		s.n++
		var t time.Duration
		if s.fps > 0 {
			t = time.Duration(float64(s.n-1) / s.fps * float64(time.Second))
		}
		if want(s.n, t) {
			return s.n, t, s.img.Clone(), nil
		}
	}
	return 0, 0, gocv.Mat{}, io.EOF
}

func (s *captureSource) Close() {
	s.img.Close()
	s.vc.Close()
}
