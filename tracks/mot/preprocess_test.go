package mot

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPreprocessMOT17(t *testing.T) {
	gt := []Row{
		{Frame: 1, ID: 1, X: 0, Y: 0, W: 10, H: 10, Conf: 1, Class: ClassPedestrian},
		{Frame: 1, ID: 2, X: 100, Y: 0, W: 10, H: 10, Conf: 1, Class: ClassStaticPerson},
		{Frame: 1, ID: 3, X: 200, Y: 0, W: 10, H: 10, Conf: 0, Class: ClassPedestrian},
		{Frame: 1, ID: 4, X: 300, Y: 0, W: 10, H: 10, Conf: 1, Class: 3}, // car: ignored, never matched away
	}
	res := []Row{
		{Frame: 1, ID: 7, X: 0, Y: 0, W: 10, H: 10},
		{Frame: 1, ID: 8, X: 101, Y: 0, W: 10, H: 10}, // on the static person: dropped
		{Frame: 1, ID: 9, X: 300, Y: 0, W: 10, H: 10}, // on the car: stays, a false positive
		{Frame: 2, ID: 7, X: 0, Y: 0, W: 10, H: 10},   // frame without ground truth: stays
	}
	g, r := PreprocessMOT17(gt, res)
	if assert.Len(t, g, 1, "ground truth kept") {
		assert.Equal(t, 1, g[0].ID, "ground truth kept")
	}
	ids := []int{}
	for _, x := range r {
		ids = append(ids, x.ID)
	}
	assert.Equal(t, []int{7, 9, 7}, ids, "result ids kept")
}
