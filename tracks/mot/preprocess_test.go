package mot

import "testing"

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
	if len(g) != 1 || g[0].ID != 1 {
		t.Errorf("ground truth kept %+v, want only id 1", g)
	}
	ids := []int{}
	for _, x := range r {
		ids = append(ids, x.ID)
	}
	if len(ids) != 3 || ids[0] != 7 || ids[1] != 9 || ids[2] != 7 {
		t.Errorf("results kept ids %v, want [7 9 7]", ids)
	}
}
