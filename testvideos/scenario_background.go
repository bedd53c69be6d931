package testvideos

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
)

// background yields what a camera sees behind the people: a still plate, or a real video looped. A video
// is decoded ahead by a goroutine of its own, so decoding overlaps with drawing.
type background struct {
	plate []byte // a still background; nil for a video

	// a looped video
	frames chan decoded
	free   chan []byte
	cancel context.CancelFunc
	done   chan struct{}
}

type decoded struct {
	buf []byte
	err error
}

const prefetchDepth = 3

// The median plate is computed from 2*medianRadius+1 frames: enough that a passer-by covers a pixel in
// fewer than half of them.
const medianRadius = 15

// openBackground prepares camera c's background, scaled to cover its frame. src is the resolved path.
func openBackground(ctx context.Context, c *CameraSpec, src string) (*background, error) {
	b := &c.Background
	size := c.Width * c.Height * 3
	vf := backgroundFilter(b, c.Width, c.Height)
	what := fmt.Sprintf("camera %s background %s", c.ID, src)
	ff := strconv.FormatFloat
	switch {
	case b.Image != "":
		plate, err := readOneFrame(ctx, what, []string{"-i", src, "-vf", vf, "-frames:v", "1"}, size)
		return &background{plate: plate}, err
	case b.Mode == BackgroundStill:
		plate, err := readOneFrame(ctx, what, []string{"-ss", ff(b.From, 'f', -1, 64), "-i", src, "-vf", vf, "-frames:v", "1"}, size)
		return &background{plate: plate}, err
	case b.Mode == BackgroundMedian:
		// The per-pixel median of frames spread over the range is the scene as it looks when nobody
		// stands on that spot: passers-by vanish. ffmpeg's tmedian emits its first frame once it has
		// 2*radius+1 inputs; one spare frame covers rounding in the fps filter.
		span := b.To - b.From
		vf := fmt.Sprintf("fps=%s,tmedian=radius=%d,%s", ff((2*medianRadius+2)/span, 'f', 6, 64), medianRadius, vf)
		plate, err := readOneFrame(ctx, what, []string{"-ss", ff(b.From, 'f', -1, 64), "-t", ff(span, 'f', -1, 64), "-i", src, "-vf", vf, "-frames:v", "1"}, size)
		return &background{plate: plate}, err
	default:
		args := []string{"-ss", ff(b.From, 'f', -1, 64), "-t", ff(b.To-b.From, 'f', -1, 64), "-i", src,
			"-vf", vf + ",fps=" + strconv.Itoa(c.FPS)}
		return startLoop(ctx, what, rawOut(args), size), nil
	}
}

// backgroundFilter crops and mirrors the source as the spec says, then scales it to cover w x h and
// keeps the centre.
func backgroundFilter(b *BackgroundSpec, w, h int) string {
	vf := ""
	if len(b.Crop) == 4 {
		vf += fmt.Sprintf("crop=%d:%d:%d:%d,", b.Crop[2], b.Crop[3], b.Crop[0], b.Crop[1])
	}
	if b.Flip {
		vf += "hflip,"
	}
	return vf + fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=increase:flags=bicubic,crop=%d:%d,setsar=1", w, h, w, h)
}

func rawOut(args []string) []string {
	return append(args, "-an", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1")
}

func readOneFrame(ctx context.Context, what string, args []string, size int) ([]byte, error) {
	r, err := startFrameReader(ctx, what, rawOut(args))
	if err != nil {
		return nil, err
	}
	defer r.close()
	buf := make([]byte, size)
	if err := r.read(buf); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: no frame there", what)
		}
		return nil, err
	}
	return buf, nil
}

// startLoop decodes the video range again and again into buffers the renderer takes with next.
func startLoop(ctx context.Context, what string, args []string, size int) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{frames: make(chan decoded, prefetchDepth), free: make(chan []byte, prefetchDepth),
		cancel: cancel, done: make(chan struct{})}
	for range prefetchDepth {
		b.free <- make([]byte, size)
	}
	go func() {
		defer close(b.done)
		var r *frameReader
		defer func() {
			if r != nil {
				r.close()
			}
		}()
		fresh := false // r has produced no frame since it started
		for {
			var buf []byte
			select {
			case buf = <-b.free:
			case <-ctx.Done():
				return
			}
			err := func() error {
				for {
					if r == nil {
						var err error
						if r, err = startFrameReader(ctx, what, args); err != nil {
							return err
						}
						fresh = true
					}
					err := r.read(buf)
					if err == nil {
						fresh = false
						return nil
					}
					r.close()
					r = nil
					if !errors.Is(err, io.EOF) {
						return err
					}
					if fresh { // the range holds no frame at all: looping would spin forever
						return fmt.Errorf("read %s: no frames in the range", what)
					}
				}
			}()
			if ctx.Err() != nil {
				return
			}
			select {
			case b.frames <- decoded{buf, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return b
}

// next writes the next frame of a video background into dst.
func (b *background) next(ctx context.Context, dst []byte) error {
	select {
	case d := <-b.frames:
		if d.err != nil {
			return d.err
		}
		copy(dst, d.buf)
		b.free <- d.buf
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the decoder and waits for its goroutine.
func (b *background) close() {
	if b.cancel != nil {
		b.cancel()
		<-b.done
	}
}

// restore copies the still plate back over rectangles a figure drew on in the previous frame.
func (b *background) restore(dst []byte, w int, rects []image.Rectangle) {
	for _, r := range rects {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			i, j := (y*w+r.Min.X)*3, (y*w+r.Max.X)*3
			copy(dst[i:j], b.plate[i:j])
		}
	}
}
