package mot

import (
	"math"
	"slices"

	"snowlight/tracks/assign"
)

// MOT16/17 ground-truth classes that matter to evaluation.
const (
	ClassPedestrian      = 1
	ClassPersonOnVehicle = 2
	ClassStaticPerson    = 7
	ClassDistractor      = 8
	ClassReflection      = 12
)

func distractor(class int) bool {
	switch class {
	case ClassPersonOnVehicle, ClassStaticPerson, ClassDistractor, ClassReflection:
		return true
	}
	return false
}

// PreprocessMOT17 applies the MOT16/17 evaluation rules (as TrackEval does) frame by frame: a result
// box matched (IoU >= 0.5, optimal assignment) to a distractor (person on vehicle, static person,
// distractor, reflection) is dropped, so trackers are neither rewarded nor punished for them; then
// only pedestrian ground truth with the consider flag set is kept. Ground truth without classes
// (MOT15) counts as pedestrians.
func PreprocessMOT17(gt, res []Row) (gtKept, resKept []Row) {
	rf := map[int][]Row{}
	for _, f := range ByFrame(res) {
		rf[f.Number] = f.Rows
	}
	seen := map[int]bool{}
	for _, f := range ByFrame(gt) {
		seen[f.Number] = true
		hyp := rf[f.Number]
		cost := make([][]float64, len(f.Rows))
		for i, g := range f.Rows {
			cost[i] = make([]float64, len(hyp))
			for j, h := range hyp {
				if iou := IoU(g, h); iou >= 0.5-1e-10 {
					cost[i][j] = -iou
				} else {
					cost[i][j] = math.NaN()
				}
			}
		}
		drop := make([]bool, len(hyp))
		for i, j := range assign.MaxCardinality(cost) {
			if j != assign.Unassigned && distractor(f.Rows[i].Class) {
				drop[j] = true
			}
		}
		for j, h := range hyp {
			if !drop[j] {
				resKept = append(resKept, h)
			}
		}
		for _, g := range f.Rows {
			if (g.Class == 0 || g.Class == ClassPedestrian) && g.Conf != 0 {
				gtKept = append(gtKept, g)
			}
		}
	}
	for _, h := range res {
		if !seen[h.Frame] {
			resKept = append(resKept, h)
		}
	}
	slices.SortStableFunc(resKept, func(a, b Row) int { return a.Frame - b.Frame })
	return gtKept, resKept
}
