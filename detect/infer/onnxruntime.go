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
	lib, version string
	threads      int
}

// OpenONNXRuntime loads ONNX Runtime's library (ResolveLibrary(lib)) and returns its engine; sessions get
// threads intra-op threads (0: 1).
func OpenONNXRuntime(lib string, threads int) (Engine, error) {
	lib = ResolveLibrary(lib)
	if err := loadORT(lib); err != nil {
		return nil, err
	}
	return &onnxRuntime{lib: lib, version: ort.GetVersion(), threads: max(threads, 1)}, nil
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
	return &ortSession{s: s, model: m}, nil
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

// shapesKept is how many input shapes a session keeps tensors for: a detector alternates between a few
// (YOLOX's two input sizes; YuNet's full frame and a region of interest).
const shapesKept = 4

type ortSession struct {
	s     *ort.DynamicAdvancedSession
	model models.Model
	bufs  []*ortTensors // most recently used first; bufs[0] is the current input
}

// ortTensors are a session's input and output tensors for one input shape. The outputs are allocated
// after the first run at the shape, once ONNX Runtime has said their shapes; values and data are the
// same tensors as the binding and the caller see them.
type ortTensors struct {
	in     *cTensor
	outs   []*cTensor
	values []ort.Value
	data   [][]float32
}

func (t *ortTensors) free() {
	t.freeOutputs()
	t.in.free()
}

func (t *ortTensors) freeOutputs() {
	for i := range t.outs {
		t.outs[i].free()
		t.outs[i], t.values[i], t.data[i] = nil, nil, nil
	}
}

func (s *ortSession) Input(n, c, h, w int) ([]float32, error) {
	if err := checkShape(n, c, h, w); err != nil {
		return nil, fmt.Errorf("%s: %w", s.model.Name, err)
	}
	shape := ort.NewShape(int64(n), int64(c), int64(h), int64(w))
	for i, b := range s.bufs {
		if b.in.t.GetShape().Equals(shape) {
			copy(s.bufs[1:i+1], s.bufs[:i])
			s.bufs[0] = b
			return b.in.t.GetData(), nil
		}
	}
	in, err := newCTensor(shape)
	if err != nil {
		return nil, fmt.Errorf("%s: input: %w", s.model.Name, err)
	}
	k := len(s.model.Outputs)
	b := &ortTensors{in: in, outs: make([]*cTensor, k), values: make([]ort.Value, k), data: make([][]float32, k)}
	if len(s.bufs) == shapesKept {
		s.bufs[shapesKept-1].free()
		s.bufs = s.bufs[:shapesKept-1]
	}
	s.bufs = append([]*ortTensors{b}, s.bufs...)
	return in.t.GetData(), nil
}

func (s *ortSession) Run() ([][]float32, error) {
	if len(s.bufs) == 0 {
		return nil, fmt.Errorf("%s: run before the input was set", s.model.Name)
	}
	b := s.bufs[0]
	if b.outs[0] != nil {
		if err := s.s.Run([]ort.Value{b.in.t}, b.values); err != nil {
			return nil, fmt.Errorf("%s: %w", s.model.Name, err)
		}
		return b.data, nil
	}
	// First run at this input shape: ONNX Runtime allocates the outputs, whose shapes then size ours.
	got := make([]ort.Value, len(b.values))
	if err := s.s.Run([]ort.Value{b.in.t}, got); err != nil {
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
			b.freeOutputs()
			return nil, fmt.Errorf("%s: output %s is not a float tensor", s.model.Name, s.model.Outputs[i])
		}
		out, err := newCTensor(src.GetShape())
		if err != nil {
			b.freeOutputs()
			return nil, fmt.Errorf("%s: output %s: %w", s.model.Name, s.model.Outputs[i], err)
		}
		copy(out.t.GetData(), src.GetData())
		b.outs[i], b.values[i], b.data[i] = out, out.t, out.t.GetData()
	}
	return b.data, nil
}

func (s *ortSession) Close() error {
	for _, b := range s.bufs {
		b.free()
	}
	s.bufs = nil
	if s.s == nil {
		return errors.New("session closed twice")
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
