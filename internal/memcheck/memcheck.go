// Package memcheck measures, for tests of code that allocates outside Go (cgo libraries), the process's
// resident memory with the allocators' free memory given back first, so that a leak shows as growth and
// fragmentation mostly does not.
package memcheck

/*
#include <malloc.h>
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
)

// Resident returns the process's resident memory in bytes after Go's garbage is collected and returned
// to the system and glibc's malloc has trimmed its free memory.
func Resident() (int64, error) {
	debug.FreeOSMemory()
	C.malloc_trim(0)
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("resident memory: %w", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("resident memory: %q: %w", l, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("resident memory: no VmRSS in /proc/self/status")
}
