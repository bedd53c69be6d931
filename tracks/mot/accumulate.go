package mot

import (
	"math"

	"snowlight/tracks/assign"
)

// Accumulator matches hypotheses to ground-truth objects frame by frame the way py-motmetrics'
// MOTAccumulator does, and keeps what the metrics need. Feed frames in increasing order.
type Accumulator struct {
	maxDist float64 // 1 - minimum IoU

	last     map[int]int // object id -> hypothesis it was last matched to
	objects  map[int]*objectStats
	objOrder []int

	frames               int
	matches, switches    int
	falsePos, misses     int
	distSum              float64
	numObjects           int
	objFrames, hypFrames map[int]int
	pairs                map[[2]int]int // (object, hypothesis) -> frames with IoU >= threshold

	hota *hotaAccumulator
}

type objectStats struct {
	present, tracked int
	// frag counts tracked -> untracked transitions; pendingMiss is a miss after the first tracked
	// frame that becomes a fragmentation once the object is tracked again.
	frag        int
	everTracked bool
	pendingMiss bool
}

// NewAccumulator returns an accumulator that admits a pair when its IoU is at least minIoU.
func NewAccumulator(minIoU float64) *Accumulator {
	return &Accumulator{
		maxDist:   1 - minIoU,
		last:      map[int]int{},
		objects:   map[int]*objectStats{},
		objFrames: map[int]int{},
		hypFrames: map[int]int{},
		pairs:     map[[2]int]int{},
		hota:      newHOTAAccumulator(),
	}
}

// Update scores one frame: gt and hyp are the frame's ground-truth and hypothesis boxes, ids unique
// within each.
func (a *Accumulator) Update(gt, hyp []Row) {
	a.frames++
	no, nh := len(gt), len(hyp)
	sim := make([][]float64, no)
	dist := make([][]float64, no)
	for i := range gt {
		sim[i] = make([]float64, nh)
		dist[i] = make([]float64, nh)
		for j := range hyp {
			s := IoU(gt[i], hyp[j])
			sim[i][j] = s
			if d := 1 - s; d <= a.maxDist {
				dist[i][j] = d
			} else {
				dist[i][j] = math.NaN()
			}
		}
	}
	a.hota.update(gt, hyp, sim)
	oids := make([]int, no)
	for i := range gt {
		oids[i] = gt[i].ID
	}
	hids := make([]int, nh)
	for j := range hyp {
		hids[j] = hyp[j].ID
	}
	a.events(oids, hids, dist)
}

// events does the CLEAR-MOT bookkeeping of one frame given the distance of every object/hypothesis
// pair, NaN where the pair is not admissible.
func (a *Accumulator) events(oids, hids []int, dist [][]float64) {
	no, nh := len(oids), len(hids)
	for i, o := range oids {
		a.objFrames[o]++
		for j, h := range hids {
			if !math.IsNaN(dist[i][j]) {
				a.pairs[[2]int{o, h}]++
			}
		}
	}
	for _, h := range hids {
		a.hypFrames[h]++
	}

	oMatched := make([]bool, no)
	hMatched := make([]bool, nh)
	match := func(i, j int, keep bool) {
		oMatched[i], hMatched[j] = true, true
		o, h := oids[i], hids[j]
		if prev, ok := a.last[o]; ok && prev != h && !keep {
			a.switches++
		} else {
			a.matches++
		}
		a.distSum += dist[i][j]
		a.last[o] = h
	}

	// 1. Keep last frame's correspondences that are still admissible, objects in file order, each
	// hypothesis claimed at most once.
	for i, o := range oids {
		h, ok := a.last[o]
		if !ok {
			continue
		}
		for j := range hids {
			if !hMatched[j] && hids[j] == h {
				if !math.IsNaN(dist[i][j]) {
					match(i, j, true)
				}
				break
			}
		}
	}

	// 2. Optimal assignment of the rest.
	rest := make([][]float64, no)
	for i := range oids {
		rest[i] = make([]float64, nh)
		for j := range hids {
			if oMatched[i] || hMatched[j] {
				rest[i][j] = math.NaN()
			} else {
				rest[i][j] = dist[i][j]
			}
		}
	}
	for i, j := range assign.MaxCardinality(rest) {
		if j != assign.Unassigned {
			match(i, j, false)
		}
	}

	for i, o := range oids {
		st := a.object(o)
		st.present++
		a.numObjects++
		if oMatched[i] {
			st.tracked++
			if st.pendingMiss {
				st.frag++
				st.pendingMiss = false
			}
			st.everTracked = true
		} else {
			a.misses++
			if st.everTracked {
				st.pendingMiss = true
			}
		}
	}
	for j := range hids {
		if !hMatched[j] {
			a.falsePos++
		}
	}
}

func (a *Accumulator) object(id int) *objectStats {
	st, ok := a.objects[id]
	if !ok {
		st = &objectStats{}
		a.objects[id] = st
		a.objOrder = append(a.objOrder, id)
	}
	return st
}
