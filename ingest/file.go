package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"snowlight/ingest/av"
	"snowlight/media"
)

// FileSource decodes a recording into frames at its rate, as a Worker decodes a live camera in sampled
// mode: pictures no later picture refers to are skipped without decoding when not wanted, and only the
// wanted ones are converted to BGR. It is the one reader of video files into pictures: replay plays
// cameras' recordings with it, analyze an investigator's video. Not safe for concurrent use.
type FileSource struct {
	rec     media.Recording
	dm      *av.Demuxer
	dec     *av.Decoder
	codec   media.Codec
	log     *slog.Logger
	sample  sampler // at the recording's FPS
	seq     uint64
	drained bool
	// skipToKey is set after a picture failed to decode: its successors may refer to it.
	skipToKey bool
	stats     FileStats
}

// FileStats counts a recording's pictures.
type FileStats struct {
	AccessUnits int // read from the file
	Decoded     int // pictures the decoder produced
	Frames      int // frames handed out
	Damaged     int // access units that failed to decode (the source resumed at the next keyframe)
	// BrokenOff is set when the file ended in a read error; the frames before it were delivered.
	BrokenOff error
}

// OpenRecording opens a recording for decoding. The file must be H.264 or H.265. A recording without
// FPS is decoded whole, every picture a frame.
func OpenRecording(rec media.Recording, log *slog.Logger) (*FileSource, error) {
	switch {
	case rec.Camera == "":
		return nil, errors.New("recording: camera id is required")
	case rec.Start.IsZero():
		return nil, fmt.Errorf("recording of camera %s: start time is required", rec.Camera)
	case !(rec.FPS >= 0 && rec.FPS <= 120):
		return nil, fmt.Errorf("recording of camera %s: rate %v outside [0, 120]", rec.Camera, rec.FPS)
	}
	dm, err := av.OpenFile(rec.File)
	if err != nil {
		return nil, fmt.Errorf("recording of camera %s: %w", rec.Camera, err)
	}
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: dm.Info().Codec, Threads: 1})
	if err != nil {
		dm.Close()
		return nil, fmt.Errorf("recording of camera %s: %w", rec.Camera, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FileSource{rec: rec, dm: dm, dec: dec, codec: dm.Info().Codec, log: log.With("camera", rec.Camera),
		sample: newSampler(rec.FPS)}, nil
}

// Info describes the recording's video stream.
func (s *FileSource) Info() av.StreamInfo { return s.dm.Info() }

// Stats returns the counts so far.
func (s *FileSource) Stats() FileStats { return s.stats }

// Close frees the decoder and the file.
func (s *FileSource) Close() {
	s.dec.Close()
	s.dm.Close()
}

// Next returns the next sampled frame, or io.EOF after the last. The caller closes the frame.
func (s *FileSource) Next(ctx context.Context) (Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, err
		}
		pic, err := s.dec.Receive()
		switch {
		case err == nil:
			s.stats.Decoded++
			pts := time.Duration(pic.PTS)
			if !s.sample.wants(pts) {
				continue
			}
			s.sample.take(pts)
			mat, err := s.dec.BGR()
			if err != nil {
				return Frame{}, fmt.Errorf("recording of camera %s: convert picture at %v: %w", s.rec.Camera, pts, err)
			}
			s.seq++
			s.stats.Frames++
			return Frame{Camera: s.rec.Camera, Seq: s.seq, Time: s.rec.Start.Add(pts), PTS: pts,
				Keyframe: pic.Keyframe, Corrupt: pic.Corrupt, Mat: mat}, nil
		case errors.Is(err, io.EOF):
			return Frame{}, io.EOF
		case !errors.Is(err, av.ErrNeedInput):
			return Frame{}, fmt.Errorf("recording of camera %s: decode: %w", s.rec.Camera, err)
		}
		if s.drained {
			return Frame{}, io.EOF
		}
		if err := s.feed(); err != nil {
			return Frame{}, err
		}
	}
}

// feed sends the decoder the next access unit it needs, or drains it at the end of the file.
func (s *FileSource) feed() error {
	for {
		p, err := s.dm.Read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A recording cut off mid-write: keep what came before, and say so.
				s.stats.BrokenOff = err
				s.log.Warn("recording breaks off; replaying what precedes the break", "frames", s.stats.Frames, "err", err)
			}
			s.drained = true
			if err := s.dec.Drain(); err != nil {
				return fmt.Errorf("recording of camera %s: drain decoder: %w", s.rec.Camera, err)
			}
			return nil
		}
		s.stats.AccessUnits++
		if s.skipToKey && !p.Keyframe {
			continue
		}
		s.skipToKey = false
		if !s.sample.wants(p.PTS) && av.Disposable(s.codec, p.AU) {
			continue
		}
		if err := s.dec.Send(p.AU, int64(p.PTS)); err != nil {
			s.stats.Damaged++
			s.skipToKey = true
			s.log.Warn("picture does not decode; resuming at the next keyframe", "pts", p.PTS, "err", err)
			continue
		}
		return nil
	}
}
