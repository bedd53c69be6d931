package mot

import (
	"fmt"
	"math"

	"snowlight/tracks/assign"
)

// Metrics are the CLEAR-MOT, identity and HOTA scores of one sequence. The JSON keys are the ones
// `snowlight mot eval --json` prints.
type Metrics struct {
	MOTA      float64 `json:"mota"`
	MOTP      float64 `json:"motp"` // mean 1-IoU of matched pairs, as py-motmetrics reports it
	IDF1      float64 `json:"idf1"`
	IDP       float64 `json:"idp"`
	IDR       float64 `json:"idr"`
	Recall    float64 `json:"recall"`
	Precision float64 `json:"precision"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	IDSW      int     `json:"idsw"`
	Frag      int     `json:"frag"`
	MT        int     `json:"mt"`
	PT        int     `json:"pt"`
	ML        int     `json:"ml"`
	GT        int     `json:"gt"` // unique ground-truth objects

	Frames  int `json:"frames"`
	Objects int `json:"objects"` // ground-truth boxes
	Matches int `json:"matches"` // matched pairs that are not switches
	IDTP    int `json:"idtp"`
	IDFP    int `json:"idfp"`
	IDFN    int `json:"idfn"`
	HOTA
}

// Result computes the metrics of everything fed to Update so far.
func (a *Accumulator) Result() Metrics {
	m := Metrics{
		FP: a.falsePos, FN: a.misses, IDSW: a.switches, GT: len(a.objects),
		Frames: a.frames, Objects: a.numObjects, Matches: a.matches,
	}
	detections := a.matches + a.switches
	m.MOTA = 1 - float64(a.misses+a.switches+a.falsePos)/float64(a.numObjects)
	m.MOTP = a.distSum / float64(detections)
	m.Recall = float64(detections) / float64(a.numObjects)
	m.Precision = float64(detections) / float64(detections+a.falsePos)
	for _, id := range a.objOrder {
		st := a.objects[id]
		m.Frag += st.frag
		switch r := float64(st.tracked) / float64(st.present); {
		case r >= 0.8:
			m.MT++
		case r >= 0.2:
			m.PT++
		default:
			m.ML++
		}
	}
	m.IDTP = a.identityTruePositives()
	for _, n := range a.hypFrames {
		m.IDFP += n
	}
	for _, n := range a.objFrames {
		m.IDFN += n
	}
	m.IDFP -= m.IDTP
	m.IDFN -= m.IDTP
	m.IDP = float64(m.IDTP) / float64(m.IDTP+m.IDFP)
	m.IDR = float64(m.IDTP) / float64(m.IDTP+m.IDFN)
	m.IDF1 = 2 * float64(m.IDTP) / float64(2*m.IDTP+m.IDFP+m.IDFN)
	m.HOTA = a.hota.result()
	return m
}

// identityTruePositives finds the one-to-one mapping of ground-truth ids to hypothesis ids over the
// whole sequence that agrees on the most frames (Ristani et al.). Minimising IDFP+IDFN, which
// py-motmetrics does, is the same as maximising the frames in agreement.
func (a *Accumulator) identityTruePositives() int {
	oIndex, hIndex := map[int]int{}, map[int]int{}
	for p := range a.pairs {
		denseIndex(oIndex, p[0])
		denseIndex(hIndex, p[1])
	}
	if len(oIndex) == 0 {
		return 0
	}
	cost := make([][]float64, len(oIndex))
	for i := range cost {
		cost[i] = make([]float64, len(hIndex))
		for j := range cost[i] {
			cost[i][j] = math.NaN()
		}
	}
	for p, n := range a.pairs {
		cost[oIndex[p[0]]][hIndex[p[1]]] = -float64(n)
	}
	tp := 0.0
	for i, j := range assign.WithLimit(cost, 0) {
		if j != assign.Unassigned {
			tp -= cost[i][j]
		}
	}
	return int(tp)
}

// Options tune an evaluation.
type Options struct {
	// MinIoU admits a ground-truth/hypothesis pair; MOTChallenge and py-motmetrics use 0.5.
	MinIoU float64
}

// Evaluate scores tracker output res against ground truth gt over every frame either mentions.
// Ground-truth rows whose Conf (the "consider" flag) is below 1 are dropped, as py-motmetrics does
// when it loads MOTChallenge ground truth.
func Evaluate(gt, res []Row, opt Options) (Metrics, error) {
	if opt.MinIoU == 0 {
		opt.MinIoU = 0.5
	}
	if opt.MinIoU < 0 || opt.MinIoU > 1 {
		return Metrics{}, fmt.Errorf("minimum IoU %v outside [0,1]", opt.MinIoU)
	}
	var kept []Row
	for _, r := range gt {
		if r.Conf >= 1 {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return Metrics{}, fmt.Errorf("ground truth holds no box to score against")
	}
	if err := checkUnique(kept, "ground truth"); err != nil {
		return Metrics{}, err
	}
	if err := checkUnique(res, "results"); err != nil {
		return Metrics{}, err
	}
	acc := NewAccumulator(opt.MinIoU)
	gf, rf := ByFrame(kept), ByFrame(res)
	for i, j := 0, 0; i < len(gf) || j < len(rf); {
		switch {
		case j == len(rf) || i < len(gf) && gf[i].Number < rf[j].Number:
			acc.Update(gf[i].Rows, nil)
			i++
		case i == len(gf) || rf[j].Number < gf[i].Number:
			acc.Update(nil, rf[j].Rows)
			j++
		default:
			acc.Update(gf[i].Rows, rf[j].Rows)
			i++
			j++
		}
	}
	return acc.Result(), nil
}
