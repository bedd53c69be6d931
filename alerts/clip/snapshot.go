package clip

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"time"

	"gocv.io/x/gocv"

	"snowlight/ingest/av"
	"snowlight/media"
)

// Mark is a box to draw on a snapshot, with an optional label.
type Mark struct {
	Box   image.Rectangle
	Label string
}

// Snapshot decodes c from its keyframe up to the picture shown at or just before at, draws marks on it
// and returns it as a JPEG. The ring keeps only compressed video, so a snapshot costs one GOP's decode,
// paid only when an alert asks for it.
func Snapshot(c media.Clip, at time.Time, marks []Mark, quality int) ([]byte, time.Time, error) {
	if len(c.AUs) == 0 || !c.AUs[0].Keyframe {
		return nil, time.Time{}, errors.New("snapshot: no video starting at a keyframe")
	}
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: c.Codec})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("snapshot: %w", err)
	}
	defer dec.Close()

	// Decode pictures are identified by their index in c.AUs, passed as the PTS.
	best, bestTime := -1, time.Time{}
	var frame gocv.Mat
	defer func() { frame.Close() }()
	receive := func() error {
		for {
			pi, err := dec.Receive()
			if errors.Is(err, av.ErrNeedInput) || errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			t := c.AUs[pi.PTS].Time
			if t.After(at) || (best >= 0 && t.Before(bestTime)) {
				continue
			}
			m, err := dec.BGR()
			if err != nil {
				return err
			}
			frame.Close()
			frame, best, bestTime = m, int(pi.PTS), t
		}
	}
	for i, au := range c.AUs {
		if au.Time.After(at.Add(time.Second)) { // past any picture that reorders before at
			break
		}
		if err := dec.Send(au.NALUs, int64(i)); err != nil {
			return nil, time.Time{}, fmt.Errorf("snapshot: %w", err)
		}
		if err := receive(); err != nil {
			return nil, time.Time{}, fmt.Errorf("snapshot: %w", err)
		}
	}
	if err := dec.Drain(); err == nil {
		if err := receive(); err != nil {
			return nil, time.Time{}, fmt.Errorf("snapshot: %w", err)
		}
	}
	if best < 0 {
		return nil, time.Time{}, errors.New("snapshot: no picture decoded at or before the requested time")
	}
	draw(&frame, marks)
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, frame, []int{gocv.IMWriteJpegQuality, quality})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("snapshot: encode JPEG: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), bestTime, nil
}

var markColor = color.RGBA{R: 255, G: 64, B: 32, A: 255}

func draw(m *gocv.Mat, marks []Mark) {
	thick := max(2, m.Cols()/400)
	for _, mk := range marks {
		gocv.Rectangle(m, mk.Box, markColor, thick)
		if mk.Label != "" {
			org := image.Pt(mk.Box.Min.X, max(mk.Box.Min.Y-6, 14))
			gocv.PutText(m, mk.Label, org, gocv.FontHersheySimplex, 0.5*float64(thick), markColor, thick)
		}
	}
}
