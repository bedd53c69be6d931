// Package machine describes the machine a benchmark runs on, for its report: the figures of a shared,
// noisy machine only mean something beside its load.
package machine

import (
	"os"
	"strings"
)

// LoadAverage is the 1, 5 and 15 minute load averages of /proc/loadavg ("?" where there is none).
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
