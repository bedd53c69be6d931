package tracks

import (
	"math"
	"time"

	"snowlight/tracks/assign"
)

// SORTConfig holds SORT's three parameters.
type SORTConfig struct {
	MaxAge  int     // frames a track may go unmatched before it is deleted
	MinHits int     // consecutive matches before a track is reported
	IoU     float64 // least IoU of a match
}

// DefaultSORTConfig returns the settings of SORT's reference implementation.
func DefaultSORTConfig() SORTConfig { return SORTConfig{MaxAge: 1, MinHits: 3, IoU: 0.3} }

// SORT is a faithful port of Bewley et al.'s Simple Online and Realtime Tracker (abewley/sort): a
// Kalman filter over (centre, area, aspect) with per-frame steps, IoU association by the Hungarian
// method and no re-identification. It is the baseline the Tracker is measured against, and like
// the original it counts frames, not wall time: every Update is one frame.
type SORT struct {
	cfg    SORTConfig
	frames int
	nextID uint64
	tracks []*sortTrack
}

type sortTrack struct {
	id                               uint64
	x                                [7]float64
	p                                [7][7]float64
	timeSinceUpdate, hits, hitStreak int
	start, lastSeen                  time.Time
	score                            float64
	det                              int
}

// NewSORT returns a SORT tracker.
func NewSORT(cfg SORTConfig) *SORT { return &SORT{cfg: cfg} }

// Update runs one frame. It returns the tracks SORT reports for the frame: matched now, and either
// matched MinHits times in a row or within the first MinHits frames.
func (s *SORT) Update(now time.Time, dets []Detection) []Track {
	s.frames++
	var valid []int
	for i := range dets {
		if dets[i].Box.valid() {
			valid = append(valid, i)
		}
	}
	kept := s.tracks[:0]
	for _, t := range s.tracks {
		t.predict()
		t.det = -1
		if b := t.box(); !math.IsNaN(b.X + b.Y + b.W + b.H) {
			kept = append(kept, t)
		}
	}
	s.tracks = kept

	matchedDet := make([]bool, len(valid))
	if len(s.tracks) > 0 && len(valid) > 0 {
		iou := make([][]float64, len(valid))
		onlyOne := true
		rowHits := make([]int, len(valid))
		colHits := make([]int, len(s.tracks))
		for r, i := range valid {
			iou[r] = make([]float64, len(s.tracks))
			for c, t := range s.tracks {
				iou[r][c] = dets[i].Box.IoU(t.box())
				if iou[r][c] > s.cfg.IoU {
					rowHits[r]++
					colHits[c]++
				}
			}
		}
		for _, n := range rowHits {
			onlyOne = onlyOne && n <= 1
		}
		for _, n := range colHits {
			onlyOne = onlyOne && n <= 1
		}
		var pairs []int
		if onlyOne {
			pairs = make([]int, len(valid))
			for r := range valid {
				pairs[r] = assign.Unassigned
				for c := range s.tracks {
					if iou[r][c] > s.cfg.IoU {
						pairs[r] = c
					}
				}
			}
		} else {
			// The reference solves the full assignment on -IoU and filters by threshold afterwards.
			neg := make([][]float64, len(valid))
			for r := range neg {
				neg[r] = make([]float64, len(s.tracks))
				for c := range neg[r] {
					neg[r][c] = -iou[r][c]
				}
			}
			pairs = assign.MaxCardinality(neg)
		}
		for r, c := range pairs {
			if c == assign.Unassigned || iou[r][c] < s.cfg.IoU {
				continue
			}
			matchedDet[r] = true
			s.tracks[c].update(now, &dets[valid[r]], valid[r])
		}
	}
	for r, i := range valid {
		if matchedDet[r] {
			continue
		}
		s.nextID++
		t := newSORTTrack(s.nextID, dets[i].Box)
		t.start, t.lastSeen, t.score = now, now, dets[i].Score
		s.tracks = append(s.tracks, t)
	}

	var out []Track
	kept = s.tracks[:0]
	for _, t := range s.tracks {
		if t.timeSinceUpdate < 1 && (t.hitStreak >= s.cfg.MinHits || s.frames <= s.cfg.MinHits) {
			out = append(out, Track{
				ID: t.id, State: Confirmed, Box: t.box(), Score: t.score, Detection: t.det,
				Start: t.start, LastSeen: t.lastSeen, Hits: t.hits,
			})
		}
		if t.timeSinceUpdate <= s.cfg.MaxAge {
			kept = append(kept, t)
		}
	}
	clear(s.tracks[len(kept):])
	s.tracks = kept
	return out
}

func sortMeasurement(b Box) [4]float64 {
	cx, cy := b.Center()
	return [4]float64{cx, cy, b.W * b.H, b.W / b.H}
}

func newSORTTrack(id uint64, b Box) *sortTrack {
	t := &sortTrack{id: id, det: -1}
	z := sortMeasurement(b)
	copy(t.x[:4], z[:])
	// filterpy's defaults (identity) as the reference scales them: P[4:,4:] *= 1000, P *= 10.
	for i := range 7 {
		t.p[i][i] = 10
	}
	for i := 4; i < 7; i++ {
		t.p[i][i] = 10000
	}
	return t
}

func (t *sortTrack) box() Box {
	w := math.Sqrt(t.x[2] * t.x[3])
	h := t.x[2] / w
	return Box{X: t.x[0] - w/2, Y: t.x[1] - h/2, W: w, H: h}
}

// sortQ is the reference's process noise: identity with Q[4:,4:] *= 0.01 and Q[-1,-1] *= 0.01.
func sortQ() [7]float64 { return [7]float64{1, 1, 1, 1, 0.01, 0.01, 0.0001} }

// sortR is the reference's measurement noise: identity with R[2:,2:] *= 10.
func sortR() [4]float64 { return [4]float64{1, 1, 10, 10} }

func (t *sortTrack) predict() {
	if t.x[6]+t.x[2] <= 0 {
		t.x[6] = 0
	}
	// x = F x; F adds each velocity (u', v', s') to its position; aspect has none.
	for i := range 3 {
		t.x[i] += t.x[i+4]
	}
	var f [7][7]float64
	for i := range 7 {
		f[i][i] = 1
	}
	for i := range 3 {
		f[i][i+4] = 1
	}
	t.p = mul7(mul7(f, t.p), transpose7(f))
	q := sortQ()
	for i := range 7 {
		t.p[i][i] += q[i]
	}
	if t.timeSinceUpdate > 0 {
		t.hitStreak = 0
	}
	t.timeSinceUpdate++
}

// update is filterpy's KalmanFilter.update, Joseph form included.
func (t *sortTrack) update(now time.Time, d *Detection, i int) {
	t.timeSinceUpdate = 0
	t.hits++
	t.hitStreak++
	t.lastSeen, t.score, t.det = now, d.Score, i

	z := sortMeasurement(d.Box)
	rn := sortR()
	var s [4][4]float64
	for r := range 4 {
		for c := range 4 {
			s[r][c] = t.p[r][c]
		}
		s[r][r] += rn[r]
	}
	si, ok := invert4(s)
	if !ok {
		return
	}
	var k [7][4]float64 // P Hᵀ S⁻¹
	for r := range 7 {
		for c := range 4 {
			for l := range 4 {
				k[r][c] += t.p[r][l] * si[l][c]
			}
		}
	}
	var y [4]float64
	for c := range 4 {
		y[c] = z[c] - t.x[c]
	}
	for r := range 7 {
		for c := range 4 {
			t.x[r] += k[r][c] * y[c]
		}
	}
	// P = (I-KH) P (I-KH)ᵀ + K R Kᵀ
	var ikh [7][7]float64
	for r := range 7 {
		ikh[r][r] = 1
		for c := range 4 {
			ikh[r][c] -= k[r][c]
		}
	}
	p := mul7(mul7(ikh, t.p), transpose7(ikh))
	for r := range 7 {
		for c := range 7 {
			for l := range 4 {
				p[r][c] += k[r][l] * rn[l] * k[c][l]
			}
		}
	}
	t.p = p
}

func mul7(a, b [7][7]float64) [7][7]float64 {
	var out [7][7]float64
	for i := range 7 {
		for l := range 7 {
			if a[i][l] == 0 {
				continue
			}
			for j := range 7 {
				out[i][j] += a[i][l] * b[l][j]
			}
		}
	}
	return out
}

func transpose7(a [7][7]float64) [7][7]float64 {
	var out [7][7]float64
	for i := range 7 {
		for j := range 7 {
			out[j][i] = a[i][j]
		}
	}
	return out
}
