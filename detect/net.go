package detect

import (
	"fmt"
	"math"

	"gocv.io/x/gocv"

	"snowlight/detect/infer"
	"snowlight/models"
)

// loadSession reads the model from dir, verifies it against the manifest and gives the engine the
// verified bytes (never the path), so what runs is what was checked. A nil engine is OpenCV's.
func loadSession(e infer.Engine, dir string, name models.Name) (infer.Session, models.Model, error) {
	data, m, err := models.Load(dir, name)
	if err != nil {
		return nil, m, err
	}
	s, err := infer.OrOpenCV(e).Load(m, data)
	return s, m, err
}

// blobWriter turns BGR images into the NCHW float tensor an input spec asks for: channels in the spec's
// order, (x*Scale - Mean)/Std per channel. It keeps a scratch Mat for images that are views into a larger
// one (a region of interest), whose rows are not contiguous.
type blobWriter struct {
	swap     bool       // RGB: the tensor's first plane is the image's third channel
	mul, add [3]float32 // per tensor plane: x*mul + add
	scratch  gocv.Mat
}

func newBlobWriter(in models.Input) *blobWriter {
	b := &blobWriter{swap: in.Channels == "RGB", scratch: gocv.NewMat()}
	for c := 0; c < 3; c++ {
		std := in.Std[c]
		if std == 0 {
			std = 1
		}
		b.mul[c], b.add[c] = float32(in.Scale/std), float32(-in.Mean[c]/std)
	}
	return b
}

func (b *blobWriter) Close() error { return b.scratch.Close() }

// write fills dst (3 x rows x cols floats) from img, an 8-bit 3-channel image.
func (b *blobWriter) write(dst []float32, img gocv.Mat) error {
	if img.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("blob: need an 8-bit 3-channel image, got type %v", img.Type())
	}
	if !img.IsContinuous() {
		img.CopyTo(&b.scratch)
		img = b.scratch
	}
	src, err := img.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	n := img.Rows() * img.Cols()
	if len(src) != 3*n || len(dst) != 3*n {
		return fmt.Errorf("blob: %d bytes of image and %d floats of tensor for %d pixels", len(src), len(dst), n)
	}
	c0, c2 := 0, 2
	if b.swap {
		c0, c2 = 2, 0
	}
	p0, p1, p2 := dst[:n], dst[n:2*n], dst[2*n:3*n]
	m0, m1, m2, a0, a1, a2 := b.mul[0], b.mul[1], b.mul[2], b.add[0], b.add[1], b.add[2]
	for i := range p0 {
		px := src[3*i : 3*i+3 : 3*i+3]
		p0[i] = float32(px[c0])*m0 + a0
		p1[i] = float32(px[1])*m1 + a1
		p2[i] = float32(px[c2])*m2 + a2
	}
	return nil
}

// l2normalize scales v to unit length in place and returns it; a zero vector stays zero.
func l2normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v
}
