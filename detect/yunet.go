package detect

import (
	"fmt"
	"image"
	"math"
	"path/filepath"
	"sync"

	"gocv.io/x/gocv"

	"snowlight/detect/infer"
	"snowlight/models"
)

// YuNetConfig tunes the YuNet face detector.
type YuNetConfig struct {
	// ScoreThreshold drops faces scoring below it; YuNet's useful range is 0.6 to 0.9.
	ScoreThreshold float32
	// NMSThreshold is the IoU above which the weaker of two faces is dropped.
	NMSThreshold float32
	// MaxSide downsizes larger images before detection: YuNet's cost grows with the pixel count, and faces
	// large enough to recognise survive a moderate downscale. 0 keeps the native size.
	MaxSide int
	// VerifyBelow: faces scoring below it must be confirmed by a second, independent detector (a Haar
	// cascade run on the aligned face). YuNet scores real faces near 1 but also gives dog faces 0.86-0.97
	// (dlib's dogs.jpg), so uncertain detections need a second opinion. 0 disables verification.
	VerifyBelow float32
	// VerifyCascade is the cascade file used for verification.
	VerifyCascade string
}

// DefaultYuNetConfig is the configuration the accuracy figures in docs/ACCURACY.md were measured with.
func DefaultYuNetConfig() YuNetConfig {
	return YuNetConfig{ScoreThreshold: 0.7, NMSThreshold: 0.3, MaxSide: 1280, VerifyBelow: 0.99,
		VerifyCascade: filepath.Join(CascadeDir, "haarcascades", "haarcascade_frontalface_default.xml")}
}

// YuNet is the YuNet 2022mar face detector, its raw outputs decoded here (as cv::FaceDetectorYN does,
// which gocv v0.31 lacks). Not safe for concurrent use (one session); a mutex keeps calls single-flight.
type YuNet struct {
	mu     sync.Mutex
	sess   infer.Session
	blob   *blobWriter
	cfg    YuNetConfig
	verify *Cascade // nil when verification is off
	// priors are the anchor priors of the last priorsKept input sizes: building them for a 640x384
	// region took 0.4 ms and 0.9 MB, and the face search's regions come in several sizes a frame.
	priors recent[image.Point, []prior]
}

type prior struct{ cx, cy, sx, sy float32 }

// NewYuNet loads and verifies the face detector from the models directory into the engine (nil:
// OpenCV's).
func NewYuNet(e infer.Engine, dir string, cfg YuNetConfig) (*YuNet, error) {
	sess, m, err := loadSession(e, dir, models.FaceDetector)
	if err != nil {
		return nil, err
	}
	y := &YuNet{sess: sess, blob: newBlobWriter(m.Input), cfg: cfg, priors: recent[image.Point, []prior]{keep: priorsKept}}
	if cfg.VerifyBelow > 0 {
		if y.verify, err = NewCascade(cfg.VerifyCascade); err != nil {
			y.blob.Close()
			sess.Close()
			return nil, fmt.Errorf("face verification: %w", err)
		}
		y.verify.MinNeighbors, y.verify.MinSize = 3, 60
	}
	return y, nil
}

// Close frees the network.
func (y *YuNet) Close() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.verify != nil {
		y.verify.Close()
	}
	y.blob.Close()
	return y.sess.Close()
}

// Kind names the detector for logs and metrics.
func (y *YuNet) Kind() string { return "yunet" }

// DetectFaces finds faces with boxes and five landmarks in a BGR image.
func (y *YuNet) DetectFaces(img gocv.Mat) ([]Face, error) {
	if img.Empty() || img.Channels() != 3 {
		return nil, fmt.Errorf("yunet: need a non-empty 3-channel BGR image, got %dx%d with %d channels",
			img.Cols(), img.Rows(), img.Channels())
	}
	return y.detectAt(img, y.cfg.MaxSide)
}

// detectAt detects with the image downscaled to at most maxSide on its long side.
func (y *YuNet) detectAt(img gocv.Mat, maxSide int) ([]Face, error) {
	y.mu.Lock()
	defer y.mu.Unlock()

	in, scale, closeIn := downscale(img, maxSide)
	defer closeIn()
	faces, err := y.detect(in)
	if err != nil {
		return nil, err
	}
	if y.verify != nil {
		kept := faces[:0]
		for _, f := range faces {
			ok := f.Score >= y.cfg.VerifyBelow
			if !ok {
				if ok, err = y.confirm(in, f); err != nil {
					return nil, err
				}
			}
			if ok {
				kept = append(kept, f)
			}
		}
		faces = kept
	}
	if scale != 1 {
		inv := 1 / scale
		for i := range faces {
			f := &faces[i]
			f.Box = Box{f.Box.X * inv, f.Box.Y * inv, f.Box.W * inv, f.Box.H * inv}
			for k := range f.Landmarks {
				f.Landmarks[k] = Point{f.Landmarks[k].X * inv, f.Landmarks[k].Y * inv}
			}
		}
	}
	return faces, nil
}

// DetectFacesPyramid is DetectFaces for photos, where a face may fill the picture. YuNet's largest
// anchors are 256 pixels; a bigger face is found in pieces at full size (forehead-to-nose and eyes-to-chin
// boxes that overlap too little for NMS to merge) and whole only at a coarser scale. It runs the detector at
// the usual size and at successive halvings while the image's long side stays at least minSide. Each
// coarser scale contributes only faces too big for the next finer one (over pyramidBand pixels there), so
// a scale never second-guesses a size the finer scale handles; and a finer-scale face is kept only when no
// coarser-scale face covers most of it (the pieces of a big face).
const pyramidBand = 224

func (y *YuNet) DetectFacesPyramid(img gocv.Mat, minSide int) ([]Face, error) {
	if img.Empty() || img.Channels() != 3 {
		return nil, fmt.Errorf("yunet: need a non-empty 3-channel BGR image, got %dx%d with %d channels",
			img.Cols(), img.Rows(), img.Channels())
	}
	long := max(img.Cols(), img.Rows())
	side := long
	if y.cfg.MaxSide > 0 {
		side = min(side, y.cfg.MaxSide)
	}
	var sides []int
	for ; side >= minSide || len(sides) == 0; side /= 2 {
		sides = append(sides, side)
	}
	var kept []Face
	for i := len(sides) - 1; i >= 0; i-- { // coarsest first
		faces, err := y.detectAt(img, sides[i])
		if err != nil {
			return nil, err
		}
		for _, f := range faces {
			if i > 0 && f.Box.H*float32(sides[i-1])/float32(long) < pyramidBand {
				continue // the finer scale sees this face at a size it handles
			}
			covered := false
			for _, k := range kept {
				if inter := f.Box.Intersect(k.Box).Area(); inter > 0.5*f.Box.Area() || f.Box.IoU(k.Box) > y.cfg.NMSThreshold {
					covered = true
					break
				}
			}
			if !covered {
				kept = append(kept, f)
			}
		}
	}
	return kept, nil
}

// yunetMinSide is the smallest side of a picture YuNet is given. Its pooling stages shrink a side under
// 63 pixels to nothing, and OpenCV 4.6 then aborts the whole process rather than return an error
// (measured: 62x200 aborts, 63x63 runs). A picture that small holds no face worth finding.
const yunetMinSide = 63

func (y *YuNet) detect(img gocv.Mat) ([]Face, error) {
	w, h := img.Cols(), img.Rows()
	if w < yunetMinSide || h < yunetMinSide {
		return nil, nil // too small to hold a face YuNet finds
	}
	in, err := y.sess.Input(1, 3, h, w)
	if err != nil {
		return nil, fmt.Errorf("yunet: %w", err)
	}
	if err := y.blob.write(in, img); err != nil {
		return nil, fmt.Errorf("yunet: %w", err)
	}
	outs, err := y.sess.Run()
	if err != nil {
		return nil, fmt.Errorf("yunet: %w", err)
	}
	loc, conf, iou := outs[0], outs[1], outs[2]
	priors := y.priors.get(image.Pt(w, h), func() []prior { return yunetPriors(w, h) })
	faces, err := decodeYuNet(priors, loc, conf, iou, w, h, y.cfg.ScoreThreshold)
	if err != nil {
		return nil, err
	}
	return nmsFaces(faces, y.cfg.NMSThreshold), nil
}

// priorsKept is how many input sizes' priors a YuNet keeps (at most 1.9 MB each, for a 1080p frame).
const priorsKept = 8

// yunetPriors lays out YuNet's anchor priors for a w x h input: feature maps at strides 8, 16, 32, 64, in
// row, column, min-size order, exactly as cv::FaceDetectorYN (OpenCV 4.6) generates them.
func yunetPriors(w, h int) []prior {
	fw, fh := (w+1)/2/2, (h+1)/2/2 // the second feature map; each next one halves it
	strides := []int{8, 16, 32, 64}
	minSizes := [][]float32{{10, 16, 24}, {32, 48}, {64, 96}, {128, 192, 256}}
	n := 0
	for i, cw, ch := 0, fw, fh; i < len(strides); i++ {
		cw, ch = cw/2, ch/2
		n += cw * ch * len(minSizes[i])
	}
	ps := make([]prior, 0, n)
	for i, stride := range strides {
		fw, fh = fw/2, fh/2
		for r := 0; r < fh; r++ {
			for c := 0; c < fw; c++ {
				for _, m := range minSizes[i] {
					ps = append(ps, prior{
						cx: (float32(c) + 0.5) * float32(stride) / float32(w),
						cy: (float32(r) + 0.5) * float32(stride) / float32(h),
						sx: m / float32(w),
						sy: m / float32(h),
					})
				}
			}
		}
	}
	return ps
}

// decodeYuNet turns the raw outputs into faces above threshold, in input pixels.
func decodeYuNet(ps []prior, loc, conf, iou []float32, w, h int, threshold float32) ([]Face, error) {
	n := len(ps)
	if len(loc) != n*14 || len(conf) != n*2 || len(iou) != n {
		return nil, fmt.Errorf("yunet: outputs (%d, %d, %d values) do not fit %d priors for a %dx%d input",
			len(loc), len(conf), len(iou), n, w, h)
	}
	fw, fh := float32(w), float32(h)
	var faces []Face
	for i, p := range ps {
		io := min(max(iou[i], 0), 1)
		score := float32(math.Sqrt(float64(conf[2*i+1] * io)))
		if score < threshold {
			continue
		}
		l := loc[14*i : 14*i+14]
		cx := (p.cx + l[0]*0.1*p.sx) * fw
		cy := (p.cy + l[1]*0.1*p.sy) * fh
		bw := p.sx * float32(math.Exp(float64(l[2]*0.1))) * fw
		bh := p.sy * float32(math.Exp(float64(l[3]*0.2))) * fh
		f := Face{Box: Box{cx - bw/2, cy - bh/2, bw, bh}, Score: score, HasLandmarks: true}
		for k := 0; k < 5; k++ {
			f.Landmarks[k] = Point{(p.cx + l[4+2*k]*0.1*p.sx) * fw, (p.cy + l[5+2*k]*0.1*p.sy) * fh}
		}
		faces = append(faces, f)
	}
	return faces, nil
}

func nmsFaces(faces []Face, iou float32) []Face {
	boxes := make([]Box, len(faces))
	scores := make([]float32, len(faces))
	for i, f := range faces {
		boxes[i], scores[i] = f.Box, f.Score
	}
	keep := nms(boxes, scores, iou)
	out := make([]Face, 0, len(keep))
	for _, i := range keep {
		out = append(out, faces[i])
	}
	return out
}

// verifySize is the side of the canvas a face is aligned into for verification: the 112x112 ArcFace
// template centred with a margin, so the cascade sees the whole face with some context.
const verifySize = 160

// confirm aligns f upright into a verifySize canvas and asks the cascade whether it sees a face there.
func (y *YuNet) confirm(img gocv.Mat, f Face) (bool, error) {
	var tpl [5]Point
	off := float32(verifySize-AlignedFaceSize) / 2
	for i, p := range arcfaceTemplate {
		tpl[i] = Point{p.X + off, p.Y + off}
	}
	aligned, err := warpSimilarity(img, f.Landmarks, tpl, verifySize)
	if err != nil {
		return false, err
	}
	defer aligned.Close()
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(aligned, &grey, gocv.ColorBGRToGray)
	dets, err := y.verify.detect(grey)
	if err != nil {
		return false, fmt.Errorf("face verification: %w", err)
	}
	return len(dets) > 0, nil
}
