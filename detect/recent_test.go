package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRecent: a kept key is not built again, the least recently used is evicted and freed when a new
// key would exceed keep, and close frees what is left.
func TestRecent(t *testing.T) {
	var built, freed []int
	r := recent[int, int]{keep: 2, free: func(v int) { freed = append(freed, v) }}
	get := func(k int) int {
		return r.get(k, func() int { built = append(built, k); return 10 * k })
	}

	assert.Equal(t, 10, get(1))
	assert.Equal(t, 20, get(2))
	assert.Equal(t, 10, get(1), "kept")
	assert.Equal(t, []int{1, 2}, built, "1 was not built again")
	assert.Empty(t, freed)

	assert.Equal(t, 30, get(3), "2 is the least recent now")
	assert.Equal(t, []int{20}, freed)
	assert.Equal(t, 10, get(1))
	assert.Equal(t, []int{1, 2, 3}, built)

	r.close()
	assert.ElementsMatch(t, []int{20, 10, 30}, freed)
	assert.Equal(t, 20, get(2), "built again after close")
	assert.Equal(t, []int{1, 2, 3, 2}, built)
}
