package mot

import (
	"math"

	"snowlight/tracks/assign"
)

// numAlphas is how many localisation thresholds HOTA averages over: 0.05, 0.10, ..., 0.95.
const numAlphas = 19

func hotaAlphas() [numAlphas]float64 {
	var a [numAlphas]float64
	for i := range a {
		a[i] = 0.05 * float64(i+1)
	}
	return a
}

// hotaAccumulator keeps every frame's similarity matrix: HOTA matches frames with a score that depends
// on the whole sequence (the global alignment of each id pair), so it needs two passes.
type hotaAccumulator struct {
	gtIndex, hypIndex map[int]int
	frames            []hotaFrame
}

type hotaFrame struct {
	gt, hyp []int       // dense indexes of the frame's ids
	sim     [][]float64 // IoU, gt x hyp
}

func newHOTAAccumulator() *hotaAccumulator {
	return &hotaAccumulator{gtIndex: map[int]int{}, hypIndex: map[int]int{}}
}

func denseIndex(m map[int]int, id int) int {
	k, ok := m[id]
	if !ok {
		k = len(m)
		m[id] = k
	}
	return k
}

func (h *hotaAccumulator) update(gt, hyp []Row, sim [][]float64) {
	f := hotaFrame{gt: make([]int, len(gt)), hyp: make([]int, len(hyp)), sim: sim}
	for i, r := range gt {
		f.gt[i] = denseIndex(h.gtIndex, r.ID)
	}
	for j, r := range hyp {
		f.hyp[j] = denseIndex(h.hypIndex, r.ID)
	}
	h.frames = append(h.frames, f)
}

// HOTA holds the higher-order tracking accuracy and its parts, each averaged over the 19 localisation
// thresholds, as TrackEval reports them.
type HOTA struct {
	HOTA  float64 `json:"hota"`
	DetA  float64 `json:"deta"`
	AssA  float64 `json:"assa"`
	DetRe float64 `json:"detre"`
	DetPr float64 `json:"detpr"`
	AssRe float64 `json:"assre"`
	AssPr float64 `json:"asspr"`
	LocA  float64 `json:"loca"`
}

// result follows TrackEval's HOTA metric class step by step.
func (h *hotaAccumulator) result() HOTA {
	ng, nh := len(h.gtIndex), len(h.hypIndex)
	potential := make([][]float64, ng)
	for i := range potential {
		potential[i] = make([]float64, nh)
	}
	gtCount := make([]float64, ng)
	hypCount := make([]float64, nh)
	const eps = 2.220446049250313e-16
	for _, f := range h.frames {
		rowSum := make([]float64, len(f.gt))
		colSum := make([]float64, len(f.hyp))
		for i := range f.gt {
			for j := range f.hyp {
				rowSum[i] += f.sim[i][j]
				colSum[j] += f.sim[i][j]
			}
		}
		for i, gi := range f.gt {
			for j, hj := range f.hyp {
				s := f.sim[i][j]
				if denom := colSum[j] + rowSum[i] - s; denom > eps {
					potential[gi][hj] += s / denom
				}
			}
		}
		for _, gi := range f.gt {
			gtCount[gi]++
		}
		for _, hj := range f.hyp {
			hypCount[hj]++
		}
	}
	align := make([][]float64, ng)
	for i := range align {
		align[i] = make([]float64, nh)
		for j := range align[i] {
			align[i][j] = potential[i][j] / (gtCount[i] + hypCount[j] - potential[i][j])
		}
	}

	alphas := hotaAlphas()
	var tp, fn, fp, loc [numAlphas]float64
	matches := make([]map[[2]int]float64, numAlphas)
	for a := range matches {
		matches[a] = map[[2]int]float64{}
	}
	for _, f := range h.frames {
		if len(f.gt) == 0 || len(f.hyp) == 0 {
			for a := range alphas {
				fp[a] += float64(len(f.hyp))
				fn[a] += float64(len(f.gt))
			}
			continue
		}
		cost := make([][]float64, len(f.gt))
		for i, gi := range f.gt {
			cost[i] = make([]float64, len(f.hyp))
			for j, hj := range f.hyp {
				if score := align[gi][hj] * f.sim[i][j]; score > 0 {
					cost[i][j] = -score
				} else {
					cost[i][j] = math.NaN()
				}
			}
		}
		pairs := assign.WithLimit(cost, 0)
		for a, alpha := range alphas {
			n := 0
			for i, j := range pairs {
				if j == assign.Unassigned || f.sim[i][j] < alpha-eps {
					continue
				}
				n++
				loc[a] += f.sim[i][j]
				matches[a][[2]int{f.gt[i], f.hyp[j]}]++
			}
			tp[a] += float64(n)
			fn[a] += float64(len(f.gt) - n)
			fp[a] += float64(len(f.hyp) - n)
		}
	}

	var out HOTA
	k := float64(numAlphas)
	for a := range alphas {
		var assA, assRe, assPr float64
		for p, c := range matches[a] {
			g, t := gtCount[p[0]], hypCount[p[1]]
			assA += c * c / math.Max(1, g+t-c)
			assRe += c * c / math.Max(1, g)
			assPr += c * c / math.Max(1, t)
		}
		den := math.Max(1, tp[a])
		assA, assRe, assPr = assA/den, assRe/den, assPr/den
		detA := tp[a] / math.Max(1, tp[a]+fn[a]+fp[a])
		out.HOTA += math.Sqrt(detA*assA) / k
		out.DetA += detA / k
		out.AssA += assA / k
		out.AssRe += assRe / k
		out.AssPr += assPr / k
		out.DetRe += tp[a] / math.Max(1, tp[a]+fn[a]) / k
		out.DetPr += tp[a] / math.Max(1, tp[a]+fp[a]) / k
		out.LocA += math.Max(1e-10, loc[a]) / math.Max(1e-10, tp[a]) / k
	}
	return out
}
