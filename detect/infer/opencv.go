package infer

import (
	"fmt"

	"gocv.io/x/gocv"

	"snowlight/models"
)

// openCV runs models with OpenCV 4.6's dnn module on the CPU backend.
type openCV struct{}

// NewOpenCV returns the OpenCV dnn engine. It needs no library beyond OpenCV itself.
func NewOpenCV() Engine { return openCV{} }

func (openCV) Name() string { return OpenCV }

func (openCV) Load(m models.Model, data []byte) (Session, error) {
	net, err := gocv.ReadNetFromONNXBytes(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: OpenCV cannot read it: %w", m.Name, err)
	}
	if net.Empty() {
		net.Close()
		return nil, fmt.Errorf("load model %s: OpenCV returned an empty network", m.Name)
	}
	if err := net.SetPreferableBackend(gocv.NetBackendOpenCV); err != nil {
		net.Close()
		return nil, fmt.Errorf("load model %s: set backend: %w", m.Name, err)
	}
	if err := net.SetPreferableTarget(gocv.NetTargetCPU); err != nil {
		net.Close()
		return nil, fmt.Errorf("load model %s: set target: %w", m.Name, err)
	}
	return &cvSession{net: net, model: m, outs: make([][]float32, len(m.Outputs))}, nil
}

type cvSession struct {
	net   gocv.Net
	model models.Model
	blob  gocv.Mat // the input tensor, kept while its shape stays
	shape [4]int
	outs  [][]float32 // copies of the outputs, reused
}

func (s *cvSession) Input(n, c, h, w int) ([]float32, error) {
	if err := checkShape(n, c, h, w); err != nil {
		return nil, fmt.Errorf("%s: %w", s.model.Name, err)
	}
	if shape := [4]int{n, c, h, w}; shape != s.shape || s.blob.Ptr() == nil {
		s.closeBlob()
		s.blob = gocv.NewMatWithSizes(shape[:], gocv.MatTypeCV32F)
		s.shape = shape
	}
	data, err := s.blob.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("%s: input tensor: %w", s.model.Name, err)
	}
	return data, nil
}

func (s *cvSession) Run() ([][]float32, error) {
	if s.blob.Ptr() == nil {
		return nil, fmt.Errorf("%s: run before the input was set", s.model.Name)
	}
	s.net.SetInput(s.blob, s.model.Input.Name)
	outs := s.net.ForwardLayers(s.model.Outputs)
	defer func() {
		for _, o := range outs {
			o.Close()
		}
	}()
	if len(outs) != len(s.model.Outputs) {
		return nil, fmt.Errorf("%s: %d outputs, want %d", s.model.Name, len(outs), len(s.model.Outputs))
	}
	for i, o := range outs {
		data, err := o.DataPtrFloat32()
		if err != nil {
			return nil, fmt.Errorf("%s: output %s: %w", s.model.Name, s.model.Outputs[i], err)
		}
		s.outs[i] = append(s.outs[i][:0], data...)
	}
	return s.outs, nil
}

func (s *cvSession) Close() error {
	s.closeBlob()
	return s.net.Close()
}

func (s *cvSession) closeBlob() {
	if s.blob.Ptr() != nil {
		s.blob.Close()
		s.blob = gocv.Mat{}
	}
}
