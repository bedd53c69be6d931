package machine_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/internal/machine"
)

func TestLoadAverage(t *testing.T) {
	f := strings.Fields(machine.LoadAverage())
	require.Len(t, f, 3, "three averages")
	for _, v := range f {
		_, err := strconv.ParseFloat(v, 64)
		assert.NoError(t, err, "a number: %q", v)
	}
}
