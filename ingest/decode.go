package ingest

import (
	"errors"
	"fmt"
	"time"

	"snowlight/ingest/av"
	"snowlight/media"
)

// frameDecoder decodes one session's access units into Frames, doing only the work the mode needs:
// sampled decoding skips disposable pictures it does not want and converts to BGR only the pictures it
// keeps; keyframe mode sends the decoder nothing else.
type frameDecoder struct {
	w      *Worker
	codec  media.Codec
	dec    *av.Decoder
	sample sampler // DecodeSampled's grid
	// meta maps the PTS given to the decoder back to the access unit's times.
	meta      map[int64]media.AccessUnit
	skipToKey bool
}

func newFrameDecoder(w *Worker, codec media.Codec) (*frameDecoder, error) {
	threads := w.cfg.DecodeThreads
	if w.cfg.Decode == DecodeKeyframes {
		// Frame threading would hold each keyframe back until the next ones arrive, a second apiece.
		threads = 1
	}
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: codec, Threads: threads,
		MaxWidth: w.cfg.MaxWidth, MaxHeight: w.cfg.MaxHeight})
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", w.cfg.Camera, err)
	}
	fd := &frameDecoder{w: w, codec: codec, dec: dec, meta: make(map[int64]media.AccessUnit)}
	if w.cfg.Decode == DecodeSampled {
		fd.sample = newSampler(w.cfg.SampleFPS)
	}
	return fd, nil
}

// run decodes until queue closes, then frees the decoder.
func (fd *frameDecoder) run(queue <-chan media.AccessUnit) {
	defer fd.dec.Close()
	for au := range queue {
		fd.decode(au)
	}
}

// wanted says whether a picture with this PTS is to become a Frame.
func (fd *frameDecoder) wanted(pts time.Duration) bool {
	switch fd.w.cfg.Decode {
	case DecodeSampled:
		return fd.sample.wants(pts)
	case DecodeKeyframes, DecodeAll:
		return true
	}
	return false
}

func (fd *frameDecoder) decode(au media.AccessUnit) {
	w := fd.w
	if fd.skipToKey && !au.Keyframe {
		return
	}
	fd.skipToKey = false
	mode := w.cfg.Decode
	if mode == DecodeKeyframes && !au.Keyframe {
		return
	}
	if mode == DecodeSampled && !fd.wanted(au.PTS) && av.Disposable(fd.codec, au.NALUs) {
		return
	}
	start := time.Now()
	defer func() { w.c.decodeNanos.Add(int64(time.Since(start))) }()
	key := int64(au.PTS)
	fd.meta[key] = au
	if err := fd.dec.Send(au.NALUs, key); err != nil {
		delete(fd.meta, key)
		w.c.decodeErrs.Add(1)
		w.logger().Debug("decode", "err", err)
		// References may be broken: resume at the next keyframe.
		fd.skipToKey = true
		return
	}
	for {
		pic, err := fd.dec.Receive()
		if errors.Is(err, av.ErrNeedInput) {
			return
		}
		if err != nil {
			w.c.decodeErrs.Add(1)
			w.logger().Debug("decode", "err", err)
			return
		}
		meta, ok := fd.meta[pic.PTS]
		delete(fd.meta, pic.PTS)
		fd.prune(pic.PTS)
		if !ok {
			continue
		}
		pts := time.Duration(pic.PTS)
		if !fd.wanted(pts) {
			continue
		}
		if mode == DecodeSampled {
			fd.sample.take(pts)
		}
		mat, err := fd.dec.BGR()
		if err != nil {
			w.c.decodeErrs.Add(1)
			w.logger().Debug("convert", "err", err)
			continue
		}
		w.c.decoded.Add(1)
		f := Frame{Camera: w.cfg.Camera, Seq: w.seq.Add(1), Time: meta.Time, PTS: meta.PTS,
			Keyframe: pic.Keyframe, Corrupt: pic.Corrupt, Mat: mat}
		select {
		case w.frames <- f:
		default:
			w.c.dropConsumer.Add(1)
			f.Close()
		}
	}
}

// prune forgets access units the decoder dropped without output, so meta cannot grow without bound.
func (fd *frameDecoder) prune(pts int64) {
	if len(fd.meta) < 64 {
		return
	}
	for k := range fd.meta {
		if k < pts {
			delete(fd.meta, k)
		}
	}
}
