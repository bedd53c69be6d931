package testvideos

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // photo headers
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"

	"gocv.io/x/gocv"
)

// A portrait is one photo of a person cut to head and shoulders, with the face located in it. It is
// decoded once per render and scaled to every face size a walk needs.
type portrait struct {
	path string
	img  gocv.Mat // BGR crop of the photo around the head and shoulders
	fg   gocv.Mat // the person, not the photo's background (0/255, img's size), when segmented
	cut  bool     // fg is set
	face rectF    // the face box in img's pixels
	skin [3]float64
	top  [3]float64 // colour of the clothes at the shoulders; ok false when the photo shows none
	ok   bool
}

// rectF is an axis-aligned box in float pixels.
type rectF struct{ X, Y, W, H float64 }

func (r rectF) scale(s float64) rectF { return rectF{r.X * s, r.Y * s, r.W * s, r.H * s} }

// Limits on what a photo may be, checked before decoding the pixels.
const (
	maxPhotoBytes  = 40 << 20
	maxPhotoPixels = 40_000_000
)

// The frontal face cascade from opencv-data locates the face when the spec does not give its box.
var cascadeDirs = []string{
	"/usr/share/opencv4/haarcascades",
	"/usr/local/share/opencv4/haarcascades",
	"/usr/share/opencv/haarcascades",
}

const (
	faceCascade = "haarcascade_frontalface_alt2.xml"
	eyeCascade  = "haarcascade_eye.xml"
)

func findCascade(name string) (string, error) {
	for _, d := range cascadeDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %v (install opencv-data, or give each photo's face box in the spec)", name, cascadeDirs)
}

// faceFinder locates the largest frontal face in a photo.
type faceFinder struct {
	cc, eye                  gocv.CascadeClassifier
	loaded, eyeLoaded, eyeOK bool
}

func (f *faceFinder) find(img gocv.Mat) (rectF, error) {
	if !f.loaded {
		p, err := findCascade(faceCascade)
		if err != nil {
			return rectF{}, err
		}
		f.cc = gocv.NewCascadeClassifier()
		if !f.cc.Load(p) {
			f.cc.Close()
			return rectF{}, fmt.Errorf("load face cascade %s", p)
		}
		f.loaded = true
	}
	// The cascade needs no more than ~800 px to find a portrait's face, and runs far faster there.
	s := math.Min(1, 800/float64(max(img.Cols(), img.Rows())))
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(img, &grey, gocv.ColorBGRToGray)
	if s < 1 {
		gocv.Resize(grey, &grey, image.Point{}, s, s, gocv.InterpolationArea)
	}
	gocv.EqualizeHist(grey, &grey)
	minSide := max(24, min(grey.Cols(), grey.Rows())/12)
	rects := f.cc.DetectMultiScaleWithParams(grey, 1.05, 4, 0, image.Pt(minSide, minSide), image.Point{})
	if len(rects) == 0 {
		return rectF{}, errors.New("no frontal face found (give the face box as {path: ..., face: [x, y, w, h]})")
	}
	// The cascade also fires on faces in posters and on patterned backgrounds: prefer a candidate in
	// which eyes are found, then the largest.
	best, bestEyes := rects[0], -1
	for _, r := range rects {
		eyes := f.eyes(grey, r)
		if eyes > bestEyes || eyes == bestEyes && r.Dx()*r.Dy() > best.Dx()*best.Dy() {
			best, bestEyes = r, eyes
		}
	}
	return rectF{float64(best.Min.X), float64(best.Min.Y), float64(best.Dx()), float64(best.Dy())}.scale(1 / s), nil
}

// eyes counts (up to 2) the eyes the eye cascade finds in the upper part of a face candidate.
func (f *faceFinder) eyes(grey gocv.Mat, face image.Rectangle) int {
	if !f.eyeLoaded {
		f.eyeLoaded = true
		f.eye = gocv.NewCascadeClassifier()
		if p, err := findCascade(eyeCascade); err != nil || !f.eye.Load(p) {
			return 0 // without the eye cascade every candidate ranks the same and size decides
		}
		f.eyeOK = true
	}
	if !f.eyeOK {
		return 0
	}
	upper := image.Rect(face.Min.X, face.Min.Y+face.Dy()/8, face.Max.X, face.Min.Y+face.Dy()*3/5).Intersect(image.Rect(0, 0, grey.Cols(), grey.Rows()))
	if upper.Dx() < 16 || upper.Dy() < 8 {
		return 0
	}
	roi := grey.Region(upper)
	defer roi.Close()
	side := max(6, face.Dx()/8)
	return min(2, len(f.eye.DetectMultiScaleWithParams(roi, 1.1, 3, 0, image.Pt(side, side), image.Pt(face.Dx()/2, face.Dx()/2))))
}

func (f *faceFinder) close() {
	if f.loaded {
		f.cc.Close()
	}
	if f.eyeLoaded {
		f.eye.Close()
	}
}

// Head-and-shoulders crop around the face, in face-box units (face box = [0,1] x [0,1]): enough room for
// hair above, the shoulders at both sides and the top of the chest below.
const (
	cropLeft   = -1.25
	cropRight  = 2.25
	cropTop    = -0.6
	cropBottom = 2.3
)

// loadPortrait decodes a photo (EXIF orientation applied), finds the face unless given, and keeps the
// head-and-shoulders part of it.
func loadPortrait(path string, face []int, ff *faceFinder) (*portrait, error) {
	data, err := readLimited(path, maxPhotoBytes)
	if err != nil {
		return nil, err
	}
	if err := checkImageHeader(data, maxPhotoPixels); err != nil {
		return nil, fmt.Errorf("photo %s: %w", path, err)
	}
	img, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil || img.Empty() {
		if err == nil {
			img.Close()
		}
		return nil, fmt.Errorf("decode photo %s: not an image OpenCV can read", path)
	}
	defer img.Close()
	var fr rectF
	if face != nil {
		fr = rectF{float64(face[0]), float64(face[1]), float64(face[2]), float64(face[3])}
		if fr.X+fr.W > float64(img.Cols()) || fr.Y+fr.H > float64(img.Rows()) {
			return nil, fmt.Errorf("photo %s: face box %v is outside the %dx%d image", path, face, img.Cols(), img.Rows())
		}
	} else if fr, err = ff.find(img); err != nil {
		return nil, fmt.Errorf("photo %s: %w", path, err)
	}
	crop := image.Rect(
		int(math.Floor(fr.X+cropLeft*fr.W)), int(math.Floor(fr.Y+cropTop*fr.H)),
		int(math.Ceil(fr.X+cropRight*fr.W)), int(math.Ceil(fr.Y+cropBottom*fr.H)),
	).Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	region := img.Region(crop)
	p := &portrait{path: path, img: region.Clone()}
	region.Close()
	p.face = rectF{fr.X - float64(crop.Min.X), fr.Y - float64(crop.Min.Y), fr.W, fr.H}
	f := p.face
	p.skin, _ = meanColour(p.img, rectF{f.X + 0.3*f.W, f.Y + 0.45*f.H, 0.4 * f.W, 0.25 * f.H})
	// The clothes colour is the commonest colour across the top of the chest: a jacket or shirt, rarely
	// the photo's background.
	if err := p.segment(); err != nil {
		p.close()
		return nil, err
	}
	var fg *gocv.Mat
	if p.cut {
		fg = &p.fg
	}
	p.top, p.ok = modeColour(p.img, fg, rectF{f.X - 0.8*f.W, f.Y + 1.6*f.H, 2.6 * f.W, 0.6 * f.H})
	return p, nil
}

func (p *portrait) close() {
	p.img.Close()
	if p.cut {
		p.fg.Close()
	}
}

// modeColour returns the mean of the commonest coarse colour in r (clipped to the image), counting only
// pixels fg marks as the person when fg is given; false when too little of r shows the person to say.
func modeColour(img gocv.Mat, fg *gocv.Mat, r rectF) ([3]float64, bool) {
	ir := image.Rect(int(r.X), int(r.Y), int(r.X+r.W), int(r.Y+r.H))
	in := ir.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if in.Dx()*in.Dy()*4 < ir.Dx()*ir.Dy() {
		return [3]float64{}, false
	}
	data, err := img.DataPtrUint8()
	if err != nil {
		return [3]float64{}, false
	}
	var mask []byte
	if fg != nil {
		if mask, err = fg.DataPtrUint8(); err != nil {
			return [3]float64{}, false
		}
	}
	total := 0
	var count [512]int
	var sum [512][3]float64
	w := img.Cols()
	for y := in.Min.Y; y < in.Max.Y; y++ {
		for x := in.Min.X; x < in.Max.X; x++ {
			if mask != nil && mask[y*w+x] < 128 {
				continue
			}
			total++
			i := (y*w + x) * 3
			b, g, rr := data[i], data[i+1], data[i+2]
			k := int(b>>5)<<6 | int(g>>5)<<3 | int(rr>>5)
			count[k]++
			sum[k][0] += float64(b)
			sum[k][1] += float64(g)
			sum[k][2] += float64(rr)
		}
	}
	if total*4 < ir.Dx()*ir.Dy() {
		return [3]float64{}, false
	}
	best := 0
	for k := range count {
		if count[k] > count[best] {
			best = k
		}
	}
	n := float64(count[best])
	return [3]float64{sum[best][0] / n, sum[best][1] / n, sum[best][2] / n}, true
}

// meanColour averages the BGR pixels of r, which must lie mostly inside the image.
func meanColour(img gocv.Mat, r rectF) ([3]float64, bool) {
	ir := image.Rect(int(r.X), int(r.Y), int(r.X+r.W), int(r.Y+r.H))
	in := ir.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if in.Empty() || in.Dx()*in.Dy()*2 < ir.Dx()*ir.Dy() {
		return [3]float64{}, false
	}
	reg := img.Region(in)
	defer reg.Close()
	m := reg.Mean()
	return [3]float64{m.Val1, m.Val2, m.Val3}, true
}

// scaledPortrait is a portrait resized so its face box is a given height, with an alpha mask shaped like a
// head and shoulders whose edges are feathered, so the photo's own background does not show as a box.
type scaledPortrait struct {
	faceH int
	w, h  int
	bgr   []byte // w*h*3
	alpha []byte // w*h
	face  rectF  // the face box in this image
}

// Portrait mask shape in face-box units (the face box is [0,1] x [0,1]); the shoulders reach out to the
// body's shoulder width and fade out at the top of the chest, where the drawn body takes over.
const (
	maskFadeTop    = 1.75
	maskFadeBottom = 2.2
)

func (p *portrait) scaled(faceH int, shoulderHalf float64) (*scaledPortrait, error) {
	s := float64(faceH) / p.face.H
	w := max(1, int(math.Round(float64(p.img.Cols())*s)))
	h := max(1, int(math.Round(float64(p.img.Rows())*s)))
	interp := gocv.InterpolationArea
	if s > 1 {
		interp = gocv.InterpolationCubic
	}
	img := gocv.NewMat()
	defer img.Close()
	gocv.Resize(p.img, &img, image.Pt(w, h), 0, 0, interp)
	face := p.face.scale(s)

	mask := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
	defer mask.Close()
	fh := face.H
	drawHeadAndShoulders(&mask, face, shoulderHalf/face.W, 1, 255, gocv.LineAA)
	if p.cut {
		// Where GrabCut found the photo's background inside the shape (a flag behind the head, a wall
		// beside the neck), cut it away too.
		fg := gocv.NewMat()
		defer fg.Close()
		gocv.Resize(p.fg, &fg, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
		gocv.BitwiseAnd(mask, fg, &mask)
	}
	sigma := math.Max(0.8, 0.05*fh)
	gocv.GaussianBlur(mask, &mask, image.Point{}, sigma, sigma, gocv.BorderConstant)

	sp := &scaledPortrait{faceH: faceH, w: w, h: h, face: face, bgr: make([]byte, w*h*3), alpha: make([]byte, w*h)}
	src, err := img.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("portrait %s: %w", p.path, err)
	}
	copy(sp.bgr, src)
	m, err := mask.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("portrait %s: %w", p.path, err)
	}
	// Fade towards the crop's border (the photo may end right at the face) and below the shoulders.
	ramp := math.Max(1, 0.08*fh)
	fadeTop, fadeBottom := face.Y+maskFadeTop*fh, face.Y+maskFadeBottom*fh
	for y := 0; y < h; y++ {
		fy := 1.0
		if yf := float64(y); yf > fadeTop {
			fy = math.Max(0, (fadeBottom-yf)/(fadeBottom-fadeTop))
		}
		fy = math.Min(fy, math.Min(float64(y)+0.5, float64(h-y)-0.5)/ramp)
		for x := 0; x < w; x++ {
			a := float64(m[y*w+x]) * math.Min(fy, math.Min(float64(x)+0.5, float64(w-x)-0.5)/ramp)
			sp.alpha[y*w+x] = uint8(math.Max(0, math.Min(255, math.Round(a))))
		}
	}
	return sp, nil
}

// drawHeadAndShoulders fills the shape of a head and shoulders around face into m with value v: an
// ellipse for the head, a neck, and shoulders reaching sh face widths either side of the face centre,
// down to below maskFadeBottom. grow scales the shape about the face centre.
func drawHeadAndShoulders(m *gocv.Mat, face rectF, sh, grow float64, v uint8, line gocv.LineType) {
	fw, fh := face.W*grow, face.H*grow
	cx, cy := face.X+face.W/2, face.Y+face.H/2
	pt := func(ux, uy float64) image.Point { // ux from the face centre, uy from the face top, in face units
		return image.Pt(int(math.Round(cx+ux*fw)), int(math.Round(cy+(uy-0.5)*fh)))
	}
	c := color.RGBA{B: v, G: v, R: v}
	gocv.EllipseWithParams(m, pt(0, 0.42), image.Pt(int(0.64*fw), int(0.8*fh)), 0, 0, 360, c, -1, line, 0)
	body := gocv.NewPointsVectorFromPoints([][]image.Point{{
		pt(-0.36, 0.85), pt(-0.42, 1.12), pt(-sh+0.35, 1.33), pt(-sh+0.05, 1.55), pt(-sh, 1.8), pt(-sh, maskFadeBottom+0.2),
		pt(sh, maskFadeBottom+0.2), pt(sh, 1.8), pt(sh-0.05, 1.55), pt(sh-0.35, 1.33), pt(0.42, 1.12), pt(0.36, 0.85),
	}})
	gocv.FillPolyWithParams(m, body, c, line, 0, image.Point{})
	body.Close()
}

// GrabCut labels.
const (
	gcBackground         = 0
	gcForeground         = 1
	gcProbableBackground = 2
	gcProbableForeground = 3
)

// segmentSide is the face height GrabCut works at: enough to follow hair and collars, and fast.
const segmentSide = 110

// segment separates the person from the photo's own background with GrabCut, seeded by the head-and-
// shoulders shape: outside a grown copy of it is background, inside it probably the person, the middle of
// the face and the neck surely so. The result (0 or 255 at the crop's resolution) is kept in p.fg; when
// GrabCut keeps implausibly little of the shape, p.cut stays false and the shape alone is used.
func (p *portrait) segment() error {
	s := math.Min(1, segmentSide/p.face.H)
	w, h := max(8, int(math.Round(float64(p.img.Cols())*s))), max(8, int(math.Round(float64(p.img.Rows())*s)))
	work := gocv.NewMat()
	defer work.Close()
	gocv.Resize(p.img, &work, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	face := p.face.scale(s)
	sh := shoulderHalfWidth * face.H / face.W

	labels := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
	defer labels.Close()
	drawHeadAndShoulders(&labels, face, sh, 1.25, gcProbableBackground, gocv.Line8)
	drawHeadAndShoulders(&labels, face, sh, 1, gcProbableForeground, gocv.Line8)
	fg := color.RGBA{B: gcForeground}
	gocv.EllipseWithParams(&labels, image.Pt(int(face.X+face.W/2), int(face.Y+0.5*face.H)),
		image.Pt(int(0.35*face.W), int(0.45*face.H)), 0, 0, 360, fg, -1, gocv.Line8, 0)
	gocv.Rectangle(&labels, image.Rect(int(face.X+0.38*face.W), int(face.Y+0.9*face.H), int(face.X+0.62*face.W), int(face.Y+1.3*face.H)), fg, -1)
	prior := countNonZero(labels)

	bgd, fgd := gocv.NewMat(), gocv.NewMat()
	defer bgd.Close()
	defer fgd.Close()
	// GrabCut seeds its colour models with k-means++ from OpenCV's per-thread generator: seed it on the
	// thread that runs GrabCut, or two renders of one spec could cut differently.
	runtime.LockOSThread()
	gocv.SetRNGSeed(0x5ce7a)
	gocv.GrabCut(work, &labels, image.Rectangle{}, &bgd, &fgd, 4, gocv.GCInitWithMask)
	runtime.UnlockOSThread()

	data, err := labels.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("segment portrait %s: %w", p.path, err)
	}
	kept := 0
	for i, v := range data {
		if v == gcForeground || v == gcProbableForeground {
			data[i] = 255
			kept++
		} else {
			data[i] = 0
		}
	}
	if prior == 0 || float64(kept) < 0.35*float64(prior) {
		return nil // a poor cut would eat the person: use the shape alone
	}
	p.fg, p.cut = gocv.NewMat(), true
	gocv.Resize(labels, &p.fg, image.Pt(p.img.Cols(), p.img.Rows()), 0, 0, gocv.InterpolationLinear)
	return nil
}

func countNonZero(m gocv.Mat) int {
	data, err := m.DataPtrUint8()
	if err != nil {
		return 0
	}
	n := 0
	for _, v := range data {
		if v != 0 {
			n++
		}
	}
	return n
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open photo: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat photo %s: %w", path, err)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("photo %s: %d bytes, more than the %d allowed", path, st.Size(), limit)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("read photo %s: %w", path, err)
	}
	return data, nil
}

// checkImageHeader reads only the image header and refuses a format we do not expect or a picture too
// large to decode safely (a decompression bomb is a few kilobytes that claim gigapixels).
func checkImageHeader(data []byte, maxPixels int) error {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("read image header (JPEG or PNG expected): %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return fmt.Errorf("%s of %dx%d pixels: more than the %d allowed", format, cfg.Width, cfg.Height, maxPixels)
	}
	return nil
}
