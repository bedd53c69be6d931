// Package infer runs the perception models on an inference engine: ONNX Runtime (the default, loaded from
// its shared library at run time) or OpenCV's dnn module (always there, the fallback). Both run the same
// verified model bytes on the same input tensor; the detectors in package detect prepare that tensor
// and decode the outputs themselves, so the two engines differ only in the forward pass.
package infer

import (
	"fmt"
	"log/slog"
	"strings"

	"snowlight/models"
)

// Engine names, as the --engine flag and the engine configuration field spell them.
const (
	ONNXRuntime = "onnxruntime"
	OpenCV      = "opencv"
	// Auto is ONNX Runtime when its library loads, else OpenCV.
	Auto = "auto"
)

// Engine loads models into sessions. An Engine is safe for concurrent use; its sessions are not.
type Engine interface {
	// Name is ONNXRuntime or OpenCV.
	Name() string
	// Load makes a session of the model from its verified bytes (models.Load).
	Load(m models.Model, data []byte) (Session, error)
}

// Session is one loaded model. Not safe for concurrent use: a detector owns its session and serialises
// its calls. Buffers are kept between runs, so a run at the same input shape allocates nothing.
type Session interface {
	// Input returns the n x c x h x w float input tensor to fill before Run. Tensors are kept for reuse
	// (the last shape on OpenCV, the last four on ONNX Runtime); a reused one holds what it held.
	Input(n, c, h, w int) ([]float32, error)
	// Run runs the model on the input tensor and returns its outputs in the order of the manifest's
	// Outputs, each flattened. They are valid until the next call of Input, Run or Close.
	Run() ([][]float32, error)
	// Close frees the session and its tensors.
	Close() error
}

// Options choose and tune the engine.
type Options struct {
	// Engine is ONNXRuntime, OpenCV or Auto (""); Auto falls back to OpenCV when ONNX Runtime's library
	// does not load, saying so once in the log.
	Engine string
	// Library is the path of libonnxruntime.so; empty: $SNOWLIGHT_ONNXRUNTIME, then where
	// scripts/setup.sh installs it (DefaultLibrary), then the system's library path.
	Library string
	// Threads is ONNX Runtime's intra-op thread count per session; 0 means 1: a camera's frames run one
	// at a time and the cameras themselves are the parallelism.
	Threads int
	Log     *slog.Logger
}

// Open returns the engine the options ask for. Explicitly asking for ONNX Runtime fails when its library
// does not load; Auto then runs on OpenCV, with one warning naming what failed.
func Open(o Options) (Engine, error) {
	switch strings.ToLower(o.Engine) {
	case OpenCV:
		return NewOpenCV(), nil
	case ONNXRuntime:
		e, err := OpenONNXRuntime(o.Library, o.Threads)
		if err == nil {
			logLoaded(o.Log, e)
		}
		return e, err
	case "", Auto:
		e, err := OpenONNXRuntime(o.Library, o.Threads)
		if err == nil {
			logLoaded(o.Log, e)
			return e, nil
		}
		if o.Log != nil {
			o.Log.Warn("ONNX Runtime unavailable, running the models on OpenCV dnn (about 3x the CPU); "+
				"run scripts/setup.sh or set "+LibraryEnv+" to the library", "err", err)
		}
		return NewOpenCV(), nil
	}
	return nil, fmt.Errorf("unknown inference engine %q: want %s, %s or %s", o.Engine, ONNXRuntime, OpenCV, Auto)
}

func logLoaded(log *slog.Logger, e Engine) {
	if log != nil {
		rt := e.(*onnxRuntime)
		log.Info("inference engine: ONNX Runtime", "version", rt.version, "library", rt.lib, "threads", rt.threads)
	}
}

// OrOpenCV is e, or the OpenCV engine when e is nil: configurations that name no engine keep working.
func OrOpenCV(e Engine) Engine {
	if e == nil {
		return NewOpenCV()
	}
	return e
}

// checkShape refuses shapes that are not a positive n x c x h x w or would not fit an int.
func checkShape(n, c, h, w int) error {
	if n <= 0 || c <= 0 || h <= 0 || w <= 0 || n*c > 1<<16 || h > 1<<14 || w > 1<<14 {
		return fmt.Errorf("input shape %dx%dx%dx%d out of range", n, c, h, w)
	}
	return nil
}
