package testvideos

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// The committed scenarios travel inside the binary, so `snowlight demo` and other packages' tests can use
// them without knowing where the repository is. Their paths are absolute or ${VAR}-based.
//
//go:embed scenarios/*.yaml
var builtinScenarios embed.FS

// BuiltinScenarios lists the committed scenarios by name.
func BuiltinScenarios() []string {
	entries, _ := fs.ReadDir(builtinScenarios, "scenarios")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// BuiltinScenario loads and validates a committed scenario, e.g. "perception", "city5" or "demo".
func BuiltinScenario(name string) (*Spec, error) {
	data, err := builtinScenarios.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("scenario %q: not one of %v", name, BuiltinScenarios())
	}
	s, err := ParseSpec(bytes.NewReader(data), "", nil)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	return s, nil
}
