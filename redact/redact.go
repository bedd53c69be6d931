// Package redact hides bystanders' faces in exported evidence: every face but the case subject's is
// covered beyond recognition (and beyond detection) in snapshots, and clips are decoded,
// redacted frame by frame and re-encoded for the export only; originals are never touched. Finding the
// faces is the caller's (a detector run per frame); this package decides what to hide and hides it.
package redact

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"time"

	"gocv.io/x/gocv"

	"snowlight/ingest/av"
)

// Margin is how much a face box is grown on each side, as a share of its size, before it is hidden:
// detectors box the inner face, and hair, ears and jaw identify too.
const Margin = 0.3

// Faces decides which faces to hide: every face that is not one of keep (the subject's face in that
// frame). A face is the subject's when its box overlaps a keep box by IoU 0.3 or its centre lies
// inside one.
func Faces(faces, keep []image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, f := range faces {
		kept := false
		for _, k := range keep {
			c := image.Pt((f.Min.X+f.Max.X)/2, (f.Min.Y+f.Max.Y)/2)
			if c.In(k) || iou(f, k) >= 0.3 {
				kept = true
				break
			}
		}
		if !kept {
			out = append(out, f)
		}
	}
	return out
}

func iou(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	ia := float64(in.Dx() * in.Dy())
	return ia / (float64(a.Dx()*a.Dy()+b.Dx()*b.Dy()) - ia)
}

// Hide covers each box (grown by Margin, clipped to the frame) of a BGR frame in place with the box's
// mean colour. Pixelation and blur were tried first and kept a skin-coloured oval framed by hair, in
// which YuNet still found faces at scores up to 0.82 (bbt4.jpg); a flat patch keeps nothing of the
// face's shape or tone. Empty boxes are skipped.
func Hide(frame *gocv.Mat, boxes []image.Rectangle) error {
	if frame.Empty() || frame.Channels() != 3 {
		return fmt.Errorf("hide faces: need a BGR frame, got %dx%d with %d channels", frame.Cols(), frame.Rows(), frame.Channels())
	}
	bounds := image.Rect(0, 0, frame.Cols(), frame.Rows())
	for _, b := range boxes {
		mx, my := int(math.Ceil(Margin*float64(b.Dx()))), int(math.Ceil(Margin*float64(b.Dy())))
		r := image.Rect(b.Min.X-mx, b.Min.Y-my, b.Max.X+mx, b.Max.Y+my).Intersect(bounds)
		if r.Empty() {
			continue
		}
		roi := frame.Region(r)
		roi.SetTo(roi.Mean())
		roi.Close()
	}
	return nil
}

// FrameFaces returns the faces to hide in one decoded frame of a clip (pts from the clip's start):
// run the detector, then Faces with the subject's box.
type FrameFaces func(ctx context.Context, frame gocv.Mat, pts time.Duration) ([]image.Rectangle, error)

// ClipStats says what Clip did.
type ClipStats struct {
	Frames, Hidden int // frames written, face boxes hidden over all frames
}

// Clip re-encodes the video of the clip file in as H.264 MP4 at out with the faces find returns hidden
// in every frame. Decoding is ingest/av's (the project's decoder, also used for camera streams);
// encoding is OpenCV's writer over libavcodec/libx264, in process like the rest: an export is rare and
// short, and a child ffmpeg would add a binary to deploy and a pipe to watch for nothing. The clip keeps
// its frame rate (constant-rate output, frames in presentation order); audio is not carried (the camera
// clips have none).
func Clip(ctx context.Context, in, out string, find FrameFaces) (ClipStats, error) {
	var st ClipStats
	dm, err := av.OpenFile(in)
	if err != nil {
		return st, fmt.Errorf("redact clip %s: %w", in, err)
	}
	defer dm.Close()
	info := dm.Info()
	fps := info.FrameRate
	if fps <= 0 || fps > 240 {
		fps = 25
	}
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: info.Codec})
	if err != nil {
		return st, fmt.Errorf("redact clip %s: %w", in, err)
	}
	defer dec.Close()
	var w *gocv.VideoWriter
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
	frame := gocv.NewMat()
	defer func() { frame.Close() }()

	write := func() error {
		for {
			pic, err := dec.Receive()
			if errors.Is(err, av.ErrNeedInput) || errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if frame.Cols() != pic.Width || frame.Rows() != pic.Height {
				if w != nil {
					return fmt.Errorf("the picture size changed to %dx%d mid-clip", pic.Width, pic.Height)
				}
				frame.Close()
				frame = gocv.NewMatWithSize(pic.Height, pic.Width, gocv.MatTypeCV8UC3)
			}
			if err := dec.BGRInto(&frame); err != nil {
				return err
			}
			boxes, err := find(ctx, frame, time.Duration(pic.PTS))
			if err != nil {
				return err
			}
			if err := Hide(&frame, boxes); err != nil {
				return err
			}
			if w == nil {
				if w, err = gocv.VideoWriterFile(out, "avc1", fps, frame.Cols(), frame.Rows(), true); err != nil {
					return fmt.Errorf("open writer: %w", err)
				}
				if !w.IsOpened() {
					return errors.New("open writer: OpenCV cannot write H.264 MP4 here")
				}
			}
			if err := w.Write(frame); err != nil {
				return fmt.Errorf("write frame: %w", err)
			}
			st.Frames++
			st.Hidden += len(boxes)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("redact clip %s: %w", in, err)
		}
		pkt, err := dm.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("redact clip %s: %w", in, err)
		}
		if err := dec.Send(pkt.AU, int64(pkt.PTS)); err != nil {
			return st, fmt.Errorf("redact clip %s: decode: %w", in, err)
		}
		if err := write(); err != nil {
			return st, fmt.Errorf("redact clip %s: %w", in, err)
		}
	}
	if err := dec.Drain(); err != nil {
		return st, fmt.Errorf("redact clip %s: drain: %w", in, err)
	}
	if err := write(); err != nil {
		return st, fmt.Errorf("redact clip %s: %w", in, err)
	}
	if w == nil {
		return st, fmt.Errorf("redact clip %s: no frames", in)
	}
	if err := w.Close(); err != nil {
		w = nil
		return st, fmt.Errorf("redact clip %s: finish %s: %w", in, out, err)
	}
	w = nil
	return st, nil
}
