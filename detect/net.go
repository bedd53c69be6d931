package detect

import (
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"snowlight/models"
)

// loadNet reads the model from dir, verifies it against the manifest and gives OpenCV the verified bytes
// (never the path), so what runs is what was checked.
func loadNet(dir string, name models.Name) (gocv.Net, models.Model, error) {
	data, m, err := models.Load(dir, name)
	if err != nil {
		return gocv.Net{}, m, err
	}
	net, err := gocv.ReadNetFromONNXBytes(data)
	if err != nil {
		return gocv.Net{}, m, fmt.Errorf("load model %s: OpenCV cannot read it: %w", name, err)
	}
	if net.Empty() {
		net.Close()
		return gocv.Net{}, m, fmt.Errorf("load model %s: OpenCV returned an empty network", name)
	}
	if err := net.SetPreferableBackend(gocv.NetBackendOpenCV); err != nil {
		net.Close()
		return gocv.Net{}, m, fmt.Errorf("load model %s: set backend: %w", name, err)
	}
	if err := net.SetPreferableTarget(gocv.NetTargetCPU); err != nil {
		net.Close()
		return gocv.Net{}, m, fmt.Errorf("load model %s: set target: %w", name, err)
	}
	return net, m, nil
}

// normalizedBlob turns a BGR image into the NCHW float blob the input spec asks for: resized to the spec's
// size, channels in the spec's order, (x*Scale - Mean)/Std per channel. Mean and Std are applied in Go on
// the blob because BlobFromImage only supports one scale for all channels.
func normalizedBlob(img gocv.Mat, in models.Input) (gocv.Mat, error) {
	size := image.Pt(in.Width, in.Height)
	if in.Width == 0 || in.Height == 0 {
		size = image.Pt(img.Cols(), img.Rows())
	}
	blob := gocv.BlobFromImage(img, in.Scale, size, gocv.NewScalar(0, 0, 0, 0), in.Channels == "RGB", false)
	if in.Std == [3]float64{} && in.Mean == [3]float64{} {
		return blob, nil
	}
	data, err := blob.DataPtrFloat32()
	if err != nil {
		blob.Close()
		return gocv.Mat{}, fmt.Errorf("blob data: %w", err)
	}
	plane := size.X * size.Y
	if len(data) != 3*plane {
		blob.Close()
		return gocv.Mat{}, fmt.Errorf("blob has %d values, want %d", len(data), 3*plane)
	}
	for c := 0; c < 3; c++ {
		mean, std := float32(in.Mean[c]), float32(in.Std[c])
		if std == 0 {
			std = 1
		}
		inv := 1 / std
		p := data[c*plane : (c+1)*plane]
		for i := range p {
			p[i] = (p[i] - mean) * inv
		}
	}
	return blob, nil
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
