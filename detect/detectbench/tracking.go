package detectbench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"snowlight/detect"
	"snowlight/pipeline"
	"snowlight/tracks"
	"snowlight/tracks/mot"
)

// TrackAgreement compares the tracks the edge's tracker (pipeline.TrackerConfig, appearance cost on)
// makes of the same detections carrying different appearance embeddings. The reference is every person
// embedded on every frame; the tracks of the other run are scored against the reference's as if those
// were ground truth, so IDF1 1 and no switches mean the same identities on every detection.
type TrackAgreement struct {
	Scene      string  `json:"scene"`
	Gated      bool    `json:"gated"`
	Appearance string  `json:"appearance"` // of the compared run
	Detections int     `json:"detections"` // tracked detections in the reference; 0: nothing compared
	IDF1       float64 `json:"idf1"`
	IDSW       int     `json:"idsw"`
	MOTA       float64 `json:"mota"`
	Sightings  int     `json:"sightings"` // of the compared run with an appearance embedding
	// SightingCosine is the median and smallest cosine between a sighting's appearance embedding and
	// the average of every-frame embeddings of the same detections: what the sampling changes in what
	// the stitcher sees (1 for the reference itself).
	SightingCosineMedian float64 `json:"sighting_cosine_median,omitempty"`
	SightingCosineMin    float64 `json:"sighting_cosine_min,omitempty"`
}

// frameTimes are the wall times of the frames a scene ran on.
func frameTimes(frames []frame) []time.Time {
	start := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	ts := make([]time.Time, len(frames))
	for i, f := range frames {
		ts[i] = start.Add(f.at)
	}
	return ts
}

// runTracker tracks the persons of each frame and returns the tracked detections as MOTChallenge rows,
// the final sightings, and for each track the detections it took (frame, index).
func runTracker(times []time.Time, persons [][]detect.Person) ([]mot.Row, []tracks.Sighting, map[uint64][][2]int, error) {
	tr, err := tracks.NewTracker(pipeline.TrackerConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	var rows []mot.Row
	took := map[uint64][][2]int{}
	for i, ps := range persons {
		dets := make([]tracks.Detection, len(ps))
		for k, p := range ps {
			dets[k] = tracks.Detection{Box: tracks.Box{X: float64(p.Box.X), Y: float64(p.Box.Y), W: float64(p.Box.W),
				H: float64(p.Box.H)}, Score: float64(p.Score), Appearance: p.Appearance}
		}
		for _, t := range tr.Update(times[i], dets) {
			if t.Detection < 0 {
				continue
			}
			d := dets[t.Detection].Box
			rows = append(rows, mot.Row{Frame: i + 1, ID: int(t.ID), X: d.X, Y: d.Y, W: d.W, H: d.H, Conf: 1})
			took[t.ID] = append(took[t.ID], [2]int{i, t.Detection})
		}
	}
	return rows, tr.Finish(), took, nil
}

// compareTracks scores the tracks of other against those of ref, which must hold the same detections
// (the appearance embeddings aside).
func compareTracks(times []time.Time, ref, other [][]detect.Person) (TrackAgreement, error) {
	var a TrackAgreement
	if len(ref) != len(other) {
		return a, fmt.Errorf("compare tracks: %d frames against %d", len(other), len(ref))
	}
	for i := range ref {
		if len(ref[i]) != len(other[i]) {
			return a, fmt.Errorf("compare tracks: frame %d has %d persons against %d: not the same detections",
				i+1, len(other[i]), len(ref[i]))
		}
	}
	refRows, _, _, err := runTracker(times, ref)
	if err != nil {
		return a, err
	}
	rows, sightings, took, err := runTracker(times, other)
	if err != nil {
		return a, err
	}
	if len(refRows) == 0 {
		if len(rows) > 0 {
			return a, fmt.Errorf("compare tracks: %d tracked detections where the reference tracked none", len(rows))
		}
		return a, nil // nobody tracked either way (a quiet scene): nothing to compare
	}
	m, err := mot.Evaluate(refRows, rows, mot.Options{MinIoU: 0.5})
	if err != nil {
		return a, fmt.Errorf("compare tracks: %w", err)
	}
	a.Detections, a.IDF1, a.IDSW, a.MOTA = len(refRows), m.IDF1, m.IDSW, m.MOTA

	var cos []float64
	for _, s := range sightings {
		if len(s.AppearanceEmbedding) == 0 {
			continue
		}
		var sum []float64
		for _, fd := range took[s.TrackID] {
			v := ref[fd[0]][fd[1]].Appearance
			if sum == nil {
				sum = make([]float64, len(v))
			}
			for j := range v {
				sum[j] += float64(v[j])
			}
		}
		if sum == nil {
			continue
		}
		cos = append(cos, cosine(s.AppearanceEmbedding, sum))
	}
	a.Sightings = len(cos)
	if len(cos) > 0 {
		slices.Sort(cos)
		a.SightingCosineMedian, a.SightingCosineMin = cos[len(cos)/2], cos[0]
	}
	return a, nil
}

func cosine(a []float32, b []float64) float64 {
	var dot, na, nb float64
	for i := range min(len(a), len(b)) {
		dot += float64(a[i]) * b[i]
		na += float64(a[i]) * float64(a[i])
		nb += b[i] * b[i]
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// withoutAppearance is persons with every appearance embedding removed: the tracker on IoU alone.
func withoutAppearance(persons [][]detect.Person) [][]detect.Person {
	out := make([][]detect.Person, len(persons))
	for i, ps := range persons {
		out[i] = slices.Clone(ps)
		for k := range out[i] {
			out[i][k].Appearance = nil
		}
	}
	return out
}
