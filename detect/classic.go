package detect

/*
#cgo pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "classic.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"gocv.io/x/gocv"
)

// The classical detectors need no download: their models ship with OpenCV (HOG's SVM is compiled in, the
// cascades come with Debian's opencv-data). They are the fallback when no models directory is configured.

// SetOpenCVThreads sets how many threads OpenCV uses inside one call (a DNN forward pass, a resize) and
// returns the previous setting; 1 (or 0) runs each call sequentially, a negative n restores OpenCV's
// default (all cores). With many cameras per machine, one thread per call and one pipeline per core uses
// the cores better than threads contending inside each call. The setting is process-wide.
func SetOpenCVThreads(n int) int { return int(C.sl_set_num_threads(C.int(n))) }

// CascadeDir is where Debian's opencv-data installs the Haar and LBP cascades.
const CascadeDir = "/usr/share/opencv4"

const maxClassicDetections = 512

// HOGConfig tunes the HOG people detector.
type HOGConfig struct {
	HitThreshold float64 // SVM margin a window must exceed
	WinStride    int
	Scale        float64 // pyramid step; 1.05 is thorough and slow, 1.2 about three times faster
	// WorkSide is the long side frames are resized to, up or down: the detector's window is 64x128, so
	// people under ~130 pixels tall are found only after upscaling, and a 1080p frame costs ~0.8 s.
	WorkSide int
	MinScore float32 // detections with a grouped SVM weight below this are dropped
}

// DefaultHOGConfig trades some recall for a cost a camera worker can afford.
func DefaultHOGConfig() HOGConfig {
	return HOGConfig{HitThreshold: 0, WinStride: 8, Scale: 1.1, WorkSide: 1152, MinScore: 0.3}
}

// HOG is OpenCV's HOG + linear SVM people detector (Dalal-Triggs). Safe for concurrent use only through
// its mutex, like the networks.
type HOG struct {
	mu  sync.Mutex
	p   unsafe.Pointer
	cfg HOGConfig
}

// NewHOG creates the people detector with OpenCV's built-in SVM.
func NewHOG(cfg HOGConfig) *HOG {
	return &HOG{p: C.sl_hog_new(), cfg: cfg}
}

// Close frees the detector.
func (h *HOG) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p != nil {
		C.sl_hog_free(h.p)
		h.p = nil
	}
	return nil
}

// Kind names the detector for logs and metrics.
func (h *HOG) Kind() string { return "hog" }

// DetectPersons finds upright people at least 64x128 pixels (after downscaling) in a BGR image. Score is
// the grouped SVM weight, not a probability.
func (h *HOG) DetectPersons(img gocv.Mat) ([]Person, error) {
	if img.Empty() {
		return nil, errors.New("hog: empty image")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	in, scale, closeIn := resizeLong(img, h.cfg.WorkSide)
	defer closeIn()
	dets, err := classicResults(func(out *C.sl_det, max C.int) C.int {
		return C.sl_hog_detect(h.p, unsafe.Pointer(in.Ptr()), C.double(h.cfg.HitThreshold),
			C.int(h.cfg.WinStride), C.double(h.cfg.Scale), out, max)
	})
	if err != nil {
		return nil, fmt.Errorf("hog: %w", err)
	}
	var boxes []Box
	var scores []float32
	for _, d := range dets {
		if d.score < h.cfg.MinScore {
			continue
		}
		// HOG windows carry a margin around the person (a 64x128 window for a ~40x100 body); shrink the box
		// to the body as OpenCV's peopledetect sample does, or IoU with tight ground truth stays low.
		b := d.box
		b = Box{b.X + 0.1*b.W, b.Y + 0.07*b.H, 0.8 * b.W, 0.8 * b.H}
		boxes = append(boxes, b.scale(1/scale).Clip(img.Cols(), img.Rows()))
		scores = append(scores, d.score)
	}
	keep := nms(boxes, scores, 0.45)
	out := make([]Person, 0, len(keep))
	for _, i := range keep {
		out = append(out, Person{Box: boxes[i], Score: scores[i]})
	}
	return out, nil
}

// Cascade is a Haar or LBP cascade classifier.
type Cascade struct {
	mu           sync.Mutex
	p            unsafe.Pointer
	path         string
	Scale        float64
	MinNeighbors int
	MinSize      int
	// MaxSide downscales larger images first (DetectFaces only): a cascade's cost grows with the pixel
	// count, and at 640 px a face of 24 px is still found.
	MaxSide int
}

// NewCascade loads a cascade XML file.
func NewCascade(path string) (*Cascade, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("load cascade: %w (Debian ships it in the opencv-data package)", err)
	}
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	p := C.sl_cascade_new(cs)
	if p == nil {
		return nil, fmt.Errorf("load cascade %s: OpenCV cannot read it", path)
	}
	return &Cascade{p: p, path: path, Scale: 1.1, MinNeighbors: 4, MinSize: 24, MaxSide: 640}, nil
}

// Close frees the cascade.
func (c *Cascade) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		C.sl_cascade_free(c.p)
		c.p = nil
	}
	return nil
}

// Kind names the detector for logs and metrics.
func (c *Cascade) Kind() string { return "cascade:" + filepath.Base(c.path) }

// detect runs the cascade on a grey image.
func (c *Cascade) detect(grey gocv.Mat) ([]classicDet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return classicResults(func(out *C.sl_det, max C.int) C.int {
		return C.sl_cascade_detect(c.p, unsafe.Pointer(grey.Ptr()), C.double(c.Scale), C.int(c.MinNeighbors),
			C.int(c.MinSize), out, max)
	})
}

// DetectFaces finds faces (boxes only, no landmarks) in a BGR image. Score is the number of merged raw
// detections, not a probability.
func (c *Cascade) DetectFaces(img gocv.Mat) ([]Face, error) {
	if img.Empty() {
		return nil, errors.New("cascade: empty image")
	}
	in, scale, closeIn := downscale(img, c.MaxSide)
	defer closeIn()
	grey := gocv.NewMat()
	defer grey.Close()
	if in.Channels() == 1 {
		in.CopyTo(&grey)
	} else {
		gocv.CvtColor(in, &grey, gocv.ColorBGRToGray)
	}
	gocv.EqualizeHist(grey, &grey)
	dets, err := c.detect(grey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Kind(), err)
	}
	out := make([]Face, 0, len(dets))
	for _, d := range dets {
		out = append(out, Face{Box: d.box.scale(1/scale).Clip(img.Cols(), img.Rows()), Score: d.score})
	}
	return out, nil
}

type classicDet struct {
	box   Box
	score float32
}

func (b Box) scale(s float32) Box { return Box{b.X * s, b.Y * s, b.W * s, b.H * s} }

func classicResults(run func(out *C.sl_det, max C.int) C.int) ([]classicDet, error) {
	buf := make([]C.sl_det, maxClassicDetections)
	n := int(run(&buf[0], C.int(len(buf))))
	if n < 0 {
		return nil, errors.New("OpenCV raised an exception")
	}
	n = min(n, len(buf))
	out := make([]classicDet, n)
	for i := 0; i < n; i++ {
		d := buf[i]
		out[i] = classicDet{Box{float32(d.x), float32(d.y), float32(d.w), float32(d.h)}, float32(d.score)}
	}
	return out, nil
}

// resizeLong returns img resized (up or down) so that its long side is side, the factor applied, and a
// function that frees the copy.
func resizeLong(img gocv.Mat, side int) (gocv.Mat, float32, func()) {
	long := max(img.Cols(), img.Rows())
	if side <= 0 || long == side {
		return img, 1, func() {}
	}
	s := float64(side) / float64(long)
	w := max(1, int(math.Round(float64(img.Cols())*s)))
	h := max(1, int(math.Round(float64(img.Rows())*s)))
	interp := gocv.InterpolationArea
	if s > 1 {
		interp = gocv.InterpolationLinear
	}
	out := gocv.NewMat()
	gocv.Resize(img, &out, image.Pt(w, h), 0, 0, interp)
	return out, float32(w) / float32(img.Cols()), func() { out.Close() }
}

// downscale returns img resized so that its longest side is at most maxSide, the factor applied, and a
// function that frees the copy (a no-op when img was returned as is).
func downscale(img gocv.Mat, maxSide int) (gocv.Mat, float32, func()) {
	long := max(img.Cols(), img.Rows())
	if maxSide <= 0 || long <= maxSide {
		return img, 1, func() {}
	}
	s := float64(maxSide) / float64(long)
	w := max(1, int(math.Round(float64(img.Cols())*s)))
	h := max(1, int(math.Round(float64(img.Rows())*s)))
	small := gocv.NewMat()
	gocv.Resize(img, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	return small, float32(w) / float32(img.Cols()), func() { small.Close() }
}
