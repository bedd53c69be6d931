package main

import (
	"flag"
	"log/slog"

	"snowlight/detect"
	"snowlight/detect/infer"
)

// engineFlags choose the inference engine on every command that runs perception.
type engineFlags struct{ engine, library *string }

func addEngineFlags(fs *flag.FlagSet) engineFlags {
	return engineFlags{
		engine: fs.String("engine", "", "inference engine: onnxruntime, opencv or auto (ONNX Runtime when its "+
			"library loads, else OpenCV dnn; the default, or the configuration's engine)"),
		library: fs.String("onnxruntime", "", "path of libonnxruntime.so.1 (default $"+infer.LibraryEnv+
			", then where scripts/setup.sh installs it)"),
	}
}

// open opens the engine the flags name.
func (f engineFlags) open(log *slog.Logger) (infer.Engine, error) {
	return infer.Open(infer.Options{Engine: *f.engine, Library: *f.library, Log: log})
}

// compared is the engine the flags name, then the other one when it loads: what a benchmark compares.
func (f engineFlags) compared(log *slog.Logger) ([]infer.Engine, error) {
	first, err := f.open(log)
	if err != nil {
		return nil, err
	}
	if first.Name() == infer.ONNXRuntime {
		return []infer.Engine{first, infer.NewOpenCV()}, nil
	}
	if rt, err := infer.OpenONNXRuntime(*f.library, 1); err == nil {
		return []infer.Engine{first, rt}, nil
	}
	return []infer.Engine{first}, nil
}

// configure sets the detection configuration's engine; without models there is nothing to run on one.
func (f engineFlags) configure(cfg *detect.Config, log *slog.Logger) error {
	if cfg.ModelsDir == "" {
		return nil
	}
	e, err := f.open(log)
	cfg.Engine = e
	return err
}

// override puts the flags that were given over a configuration's engine and library.
func (f engineFlags) override(engine, library *string) {
	if *f.engine != "" {
		*engine = *f.engine
	}
	if *f.library != "" {
		*library = *f.library
	}
}
