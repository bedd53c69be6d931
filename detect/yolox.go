package detect

import (
	"fmt"
	"image"
	"math"
	"sync"

	"gocv.io/x/gocv"

	"snowlight/detect/infer"
	"snowlight/models"
)

// YOLOXConfig tunes the YOLOX person detector.
type YOLOXConfig struct {
	ScoreThreshold float32 // obj*cls below this is dropped
	NMSThreshold   float32
	// Tiles > 1 also runs the network on a Tiles x Tiles grid of overlapping tiles when the image is larger
	// than TileAbove pixels on its long side. YOLOX sees 416 pixels: on a 1080p frame a distant pedestrian
	// shrinks to a few pixels, and tiles give them back their size at (Tiles^2 + 1) times the cost.
	Tiles     int
	TileAbove int
	// Size is the network's input side (a multiple of 32); 0 is the model's own, 416. The graph is fully
	// convolutional: a larger input keeps small people at more pixels, at about (Size/416)^2 the cost.
	Size int
	// LargeSize replaces Size for pictures more than LargeAbove pixels on their long side (0: never).
	// At 416 a 1080p frame shrinks 4.6 times and a distant pedestrian to a few pixels; at 640 the
	// MOT17-mini recall of half-visible people goes from 0.43 to 0.67 at the same precision, for 2.4 times
	// the detector's cost on those cameras only (docs/ACCURACY.md).
	LargeSize, LargeAbove int
}

// DefaultYOLOXConfig is the configuration the accuracy figures in docs/ACCURACY.md were measured with.
func DefaultYOLOXConfig() YOLOXConfig {
	return YOLOXConfig{ScoreThreshold: 0.3, NMSThreshold: 0.45, Tiles: 1, TileAbove: 1000, Size: 416,
		LargeSize: 640, LargeAbove: 1000}
}

// YOLOX is the YOLOX-nano 416 COCO detector keeping class 0 (person). Not safe for concurrent use; a mutex
// keeps calls single-flight.
type YOLOX struct {
	mu     sync.Mutex
	sess   infer.Session
	blob   *blobWriter
	cfg    YOLOXConfig
	inputs recent[letterboxShape, *letterbox]
}

// letterbox is the network input for pictures of one shape: the canvas a picture is pasted on (its long
// side the input size, its short side the picture's scaled to the next multiple of 32, as the network's
// strides need: a 4:3 frame at 416 runs at 416x320, without the quarter of grey a square canvas would
// cost), and for each output row its grid cell and stride.
type letterbox struct {
	r      float64 // the scale
	w, h   int     // the scaled picture
	canvas gocv.Mat
	grid   []gridRef
}

// letterboxShape keys a letterbox: the input size the picture is scaled to fit, and the canvas.
type letterboxShape struct{ size, w, h int }

// lettersKept is how many canvas shapes a detector keeps (a camera's full frame and its regions of
// interest come in a few).
const lettersKept = 4

type gridRef struct{ gx, gy, stride float32 }

const yoloxClasses = 80

// NewYOLOX loads and verifies the person detector from the models directory into the engine (nil:
// OpenCV's).
func NewYOLOX(e infer.Engine, dir string, cfg YOLOXConfig) (*YOLOX, error) {
	sess, m, err := loadSession(e, dir, models.PersonDetector)
	if err != nil {
		return nil, err
	}
	if cfg.Size == 0 {
		cfg.Size = m.Input.Width
	}
	for _, size := range []int{cfg.Size, cfg.LargeSize} {
		if size != 0 && (size < 32 || size%32 != 0 || size > 2048) {
			sess.Close()
			return nil, fmt.Errorf("yolox: input size %d is not a multiple of 32 between 32 and 2048", size)
		}
	}
	return &YOLOX{sess: sess, blob: newBlobWriter(m.Input), cfg: cfg,
		inputs: recent[letterboxShape, *letterbox]{keep: lettersKept, free: func(in *letterbox) { in.canvas.Close() }}}, nil
}

// input is the letterbox for a w x h picture.
func (y *YOLOX) input(w, h int) *letterbox {
	size := y.cfg.Size
	if y.cfg.LargeSize > 0 && max(w, h) > y.cfg.LargeAbove {
		size = y.cfg.LargeSize
	}
	r := min(float64(size)/float64(h), float64(size)/float64(w))
	sw, sh := max(1, int(float64(w)*r)), max(1, int(float64(h)*r))
	cw, ch := min(size, (sw+31)/32*32), min(size, (sh+31)/32*32)
	in := y.inputs.get(letterboxShape{size, cw, ch}, func() *letterbox {
		in := &letterbox{
			canvas: gocv.NewMatWithSizeFromScalar(gocv.NewScalar(114, 114, 114, 0), ch, cw, gocv.MatTypeCV8UC3)}
		for _, s := range []int{8, 16, 32} {
			for gy := 0; gy < ch/s; gy++ {
				for gx := 0; gx < cw/s; gx++ {
					in.grid = append(in.grid, gridRef{float32(gx), float32(gy), float32(s)})
				}
			}
		}
		return in
	})
	in.r, in.w, in.h = r, sw, sh
	return in
}

// Close frees the network and buffers.
func (y *YOLOX) Close() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.inputs.close()
	y.blob.Close()
	return y.sess.Close()
}

// Kind names the detector for logs and metrics.
func (y *YOLOX) Kind() string { return "yolox-nano" }

// DetectPersons finds people in a BGR image.
func (y *YOLOX) DetectPersons(img gocv.Mat) ([]Person, error) {
	if img.Empty() || img.Channels() != 3 {
		return nil, fmt.Errorf("yolox: need a non-empty 3-channel BGR image, got %dx%d with %d channels",
			img.Cols(), img.Rows(), img.Channels())
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	all, err := y.detect(img)
	if err != nil || y.cfg.Tiles <= 1 || max(img.Cols(), img.Rows()) <= y.cfg.TileAbove {
		return all, err
	}
	w, h, n := img.Cols(), img.Rows(), y.cfg.Tiles
	tw, th := w*6/(5*n), h*6/(5*n) // 20% overlap, so a person smaller than that is whole in some tile
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			x0, y0 := c*(w-tw)/(n-1), r*(h-th)/(n-1)
			tile := image.Rect(x0, y0, x0+tw, y0+th)
			roi := img.Region(tile)
			found, err := y.detect(roi)
			roi.Close()
			if err != nil {
				return nil, err
			}
			for _, p := range found {
				// A box cut by an inner tile edge is a fragment; the neighbouring tile or the full pass has
				// the whole person.
				b := p.Box
				if (b.X <= 1 && x0 > 0) || (b.Y <= 1 && y0 > 0) ||
					(b.X+b.W >= float32(tw-1) && x0+tw < w) || (b.Y+b.H >= float32(th-1) && y0+th < h) {
					continue
				}
				p.Box = b.Translate(float32(x0), float32(y0))
				all = append(all, p)
			}
		}
	}
	boxes := make([]Box, len(all))
	scores := make([]float32, len(all))
	for i, p := range all {
		boxes[i], scores[i] = p.Box, p.Score
	}
	keep := nms(boxes, scores, y.cfg.NMSThreshold)
	out := make([]Person, 0, len(keep))
	for _, i := range keep {
		out = append(out, all[i])
	}
	return out, nil
}

// detect runs the network once on img (letterboxed to the input size).
func (y *YOLOX) detect(img gocv.Mat) ([]Person, error) {

	// Letterbox: scale to fit, paste at the top-left of a grey canvas (as YOLOX was trained).
	lb := y.input(img.Cols(), img.Rows())
	lb.canvas.SetTo(gocv.NewScalar(114, 114, 114, 0))
	roi := lb.canvas.Region(image.Rect(0, 0, lb.w, lb.h))
	gocv.Resize(img, &roi, image.Pt(lb.w, lb.h), 0, 0, gocv.InterpolationLinear)
	roi.Close()

	in, err := y.sess.Input(1, 3, lb.canvas.Rows(), lb.canvas.Cols())
	if err != nil {
		return nil, fmt.Errorf("yolox: %w", err)
	}
	if err := y.blob.write(in, lb.canvas); err != nil {
		return nil, fmt.Errorf("yolox: %w", err)
	}
	outs, err := y.sess.Run()
	if err != nil {
		return nil, fmt.Errorf("yolox: %w", err)
	}
	return decodeYOLOX(outs[0], lb.grid, float32(lb.r), y.cfg, img.Cols(), img.Rows())
}

func decodeYOLOX(data []float32, grid []gridRef, r float32, cfg YOLOXConfig, w, h int) ([]Person, error) {
	const stride = 5 + yoloxClasses
	if len(data) != len(grid)*stride {
		return nil, fmt.Errorf("yolox: output has %d values, want %d rows of %d", len(data), len(grid), stride)
	}
	var boxes []Box
	var scores []float32
	for i, g := range grid {
		row := data[i*stride : (i+1)*stride]
		score := row[4] * row[5] // objectness x person class
		if score < cfg.ScoreThreshold {
			continue
		}
		cx := (row[0] + g.gx) * g.stride
		cy := (row[1] + g.gy) * g.stride
		bw := float32(math.Exp(float64(row[2]))) * g.stride
		bh := float32(math.Exp(float64(row[3]))) * g.stride
		b := Box{(cx - bw/2) / r, (cy - bh/2) / r, bw / r, bh / r}.Clip(w, h)
		if b.Area() == 0 {
			continue
		}
		boxes = append(boxes, b)
		scores = append(scores, score)
	}
	keep := nms(boxes, scores, cfg.NMSThreshold)
	out := make([]Person, 0, len(keep))
	for _, i := range keep {
		out = append(out, Person{Box: boxes[i], Score: scores[i]})
	}
	return out, nil
}
