package infer

/*
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"snowlight/models"
)

// LibraryEnv names the environment variable with the path of libonnxruntime.so.
const LibraryEnv = "SNOWLIGHT_ONNXRUNTIME"

// ORTVersion is the ONNX Runtime release scripts/setup.sh installs (the npm package onnxruntime-node,
// which ships the CPU library).
const ORTVersion = "1.31.1"

// DefaultLibrary is where scripts/setup.sh installs ONNX Runtime's library:
// $XDG_CACHE_HOME/snowlight (else ~/.cache/snowlight) /onnxruntime-<version>/node_modules/onnxruntime-node/
// bin/napi-v6/linux/<arch>/libonnxruntime.so.1. Empty when there is no cache directory.
func DefaultLibrary() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	return filepath.Join(cache, "snowlight", "onnxruntime-"+ORTVersion, "node_modules", "onnxruntime-node",
		"bin", "napi-v6", runtime.GOOS, arch, "libonnxruntime.so.1")
}

// ResolveLibrary picks the library path: the configured one, else $SNOWLIGHT_ONNXRUNTIME, else
// DefaultLibrary when that file exists, else the bare name for the system's library search path.
func ResolveLibrary(configured string) string {
	if configured != "" {
		return configured
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		return env
	}
	if d := DefaultLibrary(); d != "" {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return "libonnxruntime.so.1"
}

// The ONNX Runtime library and its OrtEnv are process-wide: the binding keeps them in package state, and
// a process loads the library once. This records which path was loaded, or why it failed, so that every
// engine opened afterwards shares them (or the same error) instead of loading twice.
var ortLoaded struct {
	sync.Mutex
	done bool
	lib  string
	err  error
}

func loadORT(lib string) error {
	ortLoaded.Lock()
	defer ortLoaded.Unlock()
	if ortLoaded.done {
		if ortLoaded.err == nil && lib != ortLoaded.lib {
			return fmt.Errorf("ONNX Runtime is already loaded from %s; one process loads one library (asked for %s)",
				ortLoaded.lib, lib)
		}
		return ortLoaded.err
	}
	ortLoaded.done, ortLoaded.lib = true, lib
	// dlopen at run time: a missing or wrong library is an error here, never a failed process start.
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		ortLoaded.err = fmt.Errorf("load ONNX Runtime from %s: %w", lib, err)
	}
	return ortLoaded.err
}

// onnxRuntime runs models with ONNX Runtime's CPU execution provider.
type onnxRuntime struct {
	lib     string
	threads int
}

// OpenONNXRuntime loads ONNX Runtime's library (ResolveLibrary(lib)) and returns its engine; sessions get
// threads intra-op threads (0: 1).
func OpenONNXRuntime(lib string, threads int) (Engine, error) {
	lib = ResolveLibrary(lib)
	if err := loadORT(lib); err != nil {
		return nil, err
	}
	return &onnxRuntime{lib: lib, threads: max(threads, 1)}, nil
}

func (*onnxRuntime) Name() string { return ONNXRuntime }

// Load makes a session that runs on the calling goroutine's thread only (intra- and inter-op threads 1
// unless configured, sequential execution, no spinning workers), from the model's bytes, with a
// Resizable model's input size freed first.
func (e *onnxRuntime) Load(m models.Model, data []byte) (Session, error) {
	if len(m.Outputs) == 0 {
		return nil, fmt.Errorf("load model %s: the manifest names no outputs", m.Name)
	}
	if m.Input.Resizable {
		var err error
		if data, err = models.FreeSize(data, m.Input.Name); err != nil {
			return nil, fmt.Errorf("load model %s: %w", m.Name, err)
		}
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("load model %s: session options: %w", m.Name, err)
	}
	defer opts.Destroy()
	for _, set := range []func() error{
		func() error { return opts.SetIntraOpNumThreads(e.threads) },
		func() error { return opts.SetInterOpNumThreads(1) },
		func() error { return opts.SetExecutionMode(ort.ExecutionModeSequential) },
		func() error { return opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0") },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("load model %s: session options: %w", m.Name, err)
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{m.Input.Name}, m.Outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: ONNX Runtime cannot load it: %w", m.Name, err)
	}
	return &ortSession{s: s, model: m, outs: make([]*cTensor, len(m.Outputs)),
		values: make([]ort.Value, len(m.Outputs)), data: make([][]float32, len(m.Outputs))}, nil
}

// cTensor is a float tensor whose data lives in C memory: ONNX Runtime keeps a pointer to a tensor's
// data between calls, which Go memory must not be lent for.
type cTensor struct {
	mem unsafe.Pointer
	t   *ort.Tensor[float32]
}

func newCTensor(shape ort.Shape) (*cTensor, error) {
	n := shape.FlattenedSize()
	if n <= 0 {
		return nil, fmt.Errorf("tensor shape %v holds nothing", shape)
	}
	mem := C.calloc(C.size_t(n), 4)
	if mem == nil {
		return nil, fmt.Errorf("allocate a %v tensor: out of memory", shape)
	}
	t, err := ort.NewTensor(shape, unsafe.Slice((*float32)(mem), n))
	if err != nil {
		C.free(mem)
		return nil, fmt.Errorf("tensor %v: %w", shape, err)
	}
	return &cTensor{mem: mem, t: t}, nil
}

func (t *cTensor) free() {
	if t == nil {
		return
	}
	t.t.Destroy()
	C.free(t.mem)
}

type ortSession struct {
	s     *ort.DynamicAdvancedSession
	model models.Model
	in    *cTensor
	// outs are allocated after the first run at an input shape, once ONNX Runtime has said the outputs'
	// shapes; values and data are the same tensors as the binding and the caller see them.
	outs   []*cTensor
	values []ort.Value
	data   [][]float32
}

func (s *ortSession) Input(n, c, h, w int) ([]float32, error) {
	if err := checkShape(n, c, h, w); err != nil {
		return nil, fmt.Errorf("%s: %w", s.model.Name, err)
	}
	shape := ort.NewShape(int64(n), int64(c), int64(h), int64(w))
	if s.in == nil || !s.in.t.GetShape().Equals(shape) {
		s.freeTensors()
		in, err := newCTensor(shape)
		if err != nil {
			return nil, fmt.Errorf("%s: input: %w", s.model.Name, err)
		}
		s.in = in
	}
	return s.in.t.GetData(), nil
}

func (s *ortSession) Run() ([][]float32, error) {
	if s.in == nil {
		return nil, fmt.Errorf("%s: run before the input was set", s.model.Name)
	}
	if s.outs[0] != nil {
		if err := s.s.Run([]ort.Value{s.in.t}, s.values); err != nil {
			return nil, fmt.Errorf("%s: %w", s.model.Name, err)
		}
		return s.data, nil
	}
	// First run at this input shape: ONNX Runtime allocates the outputs, whose shapes then size ours.
	got := make([]ort.Value, len(s.values))
	if err := s.s.Run([]ort.Value{s.in.t}, got); err != nil {
		return nil, fmt.Errorf("%s: %w", s.model.Name, err)
	}
	defer func() {
		for _, v := range got {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, v := range got {
		src, ok := v.(*ort.Tensor[float32])
		if !ok {
			s.freeOutputs()
			return nil, fmt.Errorf("%s: output %s is not a float tensor", s.model.Name, s.model.Outputs[i])
		}
		out, err := newCTensor(src.GetShape())
		if err != nil {
			s.freeOutputs()
			return nil, fmt.Errorf("%s: output %s: %w", s.model.Name, s.model.Outputs[i], err)
		}
		copy(out.t.GetData(), src.GetData())
		s.outs[i], s.values[i], s.data[i] = out, out.t, out.t.GetData()
	}
	return s.data, nil
}

func (s *ortSession) freeOutputs() {
	for i := range s.outs {
		s.outs[i].free()
		s.outs[i], s.values[i], s.data[i] = nil, nil, nil
	}
}

func (s *ortSession) freeTensors() {
	s.freeOutputs()
	s.in.free()
	s.in = nil
}

func (s *ortSession) Close() error {
	s.freeTensors()
	if s.s == nil {
		return errors.New("session closed twice")
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
