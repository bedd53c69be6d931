package detect

import (
	"image"
	"time"
)

// FaceSearch restricts a camera's face detection to where a face can be: the upper bodies of the
// persons the person detector found and the surroundings of the faces found on the camera's previous
// frame. YuNet's cost grows with the pixels it is shown, and on a street most of the picture holds no
// face. Faces of people the person detector misses (a head filling the picture, a face at a window) are
// found by a search of the whole frame at least every FullEvery, and followed between those searches
// through the previous faces' surroundings.
type FaceSearch struct {
	// FullEvery is the longest time between two searches of the whole frame; 0 searches the whole frame
	// on every frame.
	FullEvery time.Duration
	// FullAbove searches the whole frame when the regions cover more than this fraction of it: YuNet on
	// a few large crops costs about what it costs on the picture they cover.
	FullAbove float64
}

// DefaultFaceSearch is the configuration measured in docs/BENCHMARKS.md and docs/ACCURACY.md.
func DefaultFaceSearch() FaceSearch {
	return FaceSearch{FullEvery: time.Second, FullAbove: 0.6}
}

// faceRegionAlign is the grid regions are snapped to, in frame pixels: YuNet's coarsest feature map has
// stride 64 (the anchors of faces from 128 px), so a region starting on the grid is seen through the same
// cells and anchors as the whole frame, and a face is found alike in both. On a 32 px grid the close-ups
// of tbbt came out of a region with boxes up to 14 px off and embeddings 0.6-0.9 alike those of the
// whole frame's, and the edge named Leonard in 0.68 of his frames instead of 0.83.
const faceRegionAlign = 64

// faceRegionMin is a region's smallest side: the least YuNet runs on (yunetMinSide) with room for a face
// at the minimum recognition size and its surroundings.
const faceRegionMin = 96

// faceMemory is one camera's face search state. Not safe for concurrent use (one camera's frames come in
// order).
type faceMemory struct {
	cfg      FaceSearch
	lastFull time.Time
	faces    []Box // the faces of the last frame searched
	stats    FaceSearchStats
}

// FaceSearchStats counts a camera's face searches: frames searched whole and in regions, and the pixels
// YuNet was shown against those of the frames (or the motion gate's regions of interest) searched.
type FaceSearchStats struct {
	Whole, Regions     int
	Searched, Possible int64
}

func newFaceMemory(cfg FaceSearch) *faceMemory {
	return &faceMemory{cfg: cfg}
}

// plan returns the regions of bounds to search for faces on a frame taken at t, nil when the whole of
// bounds is to be searched (an empty, non-nil list when no face can be there). A nil memory always
// searches the whole.
func (m *faceMemory) plan(t time.Time, persons []Person, bounds image.Rectangle) []image.Rectangle {
	if m == nil || m.cfg.FullEvery <= 0 || m.lastFull.IsZero() || t.Sub(m.lastFull) >= m.cfg.FullEvery ||
		t.Before(m.lastFull) {
		return nil
	}
	boxes := make([]Box, 0, len(persons)+len(m.faces))
	for _, p := range persons {
		boxes = append(boxes, upperBody(p.Box))
	}
	for _, f := range m.faces {
		// A face moves at most about its own width between frames 0.2 s apart (a person walking across
		// the picture); the region is three faces wide and high.
		boxes = append(boxes, Box{f.X - f.W, f.Y - f.H, 3 * f.W, 3 * f.H})
	}
	regions := mergeRegions(boxes, bounds)
	var area int
	for _, r := range regions {
		area += r.Dx() * r.Dy()
	}
	if float64(area) > m.cfg.FullAbove*float64(bounds.Dx()*bounds.Dy()) {
		return nil
	}
	return regions
}

// searched records the faces found on a frame taken at t, in frame coordinates.
func (m *faceMemory) searched(t time.Time, bounds image.Rectangle, regions []image.Rectangle, faces []Face) {
	if m == nil {
		return
	}
	m.stats.Possible += int64(bounds.Dx() * bounds.Dy())
	if regions == nil {
		m.lastFull = t
		m.stats.Whole++
		m.stats.Searched += int64(bounds.Dx() * bounds.Dy())
	} else {
		m.stats.Regions++
		for _, r := range regions {
			m.stats.Searched += int64(r.Dx() * r.Dy())
		}
	}
	m.faces = m.faces[:0]
	for _, f := range faces {
		m.faces = append(m.faces, f.Box)
	}
}

// upperBody is where a person's face can be: the upper half of the box (a standing person's head is in
// its top fifth, a seated or half-visible one's lower), widened by a quarter of the width on each side
// and raised by a tenth of the height for heads the box cuts off.
func upperBody(b Box) Box {
	return Box{b.X - b.W/4, b.Y - b.H/10, 1.5 * b.W, 0.6 * b.H}
}

// mergeRegions turns boxes into pixel regions within bounds, each at least faceRegionMin and aligned
// to faceRegionAlign where bounds allow, and merges overlapping ones into their bounding rectangle until
// none overlap: a face is searched in one region only, and never cut by the edge of one region while
// lying whole in another.
func mergeRegions(boxes []Box, bounds image.Rectangle) []image.Rectangle {
	rs := []image.Rectangle{}
	for _, b := range boxes {
		if r := fitRegion(b.Rect(), bounds); !r.Empty() {
			rs = append(rs, r)
		}
	}
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(rs) && !merged; i++ {
			for j := i + 1; j < len(rs); j++ {
				if rs[i].Overlaps(rs[j]) {
					rs[i] = fitRegion(rs[i].Union(rs[j]), bounds)
					rs = append(rs[:j], rs[j+1:]...)
					merged = true
					break
				}
			}
		}
	}
	return rs
}

// fitRegion grows r about its centre to sides of at least faceRegionMin, shifted to lie within bounds,
// then widens it to faceRegionAlign's grid and clips it to bounds.
func fitRegion(r image.Rectangle, bounds image.Rectangle) image.Rectangle {
	r = r.Intersect(bounds)
	if r.Empty() {
		return r
	}
	fit := func(lo, hi, blo, bhi int) (int, int) {
		n := min(max(hi-lo, faceRegionMin), bhi-blo)
		lo -= (n - (hi - lo)) / 2
		lo = min(max(lo, blo), bhi-n)
		hi = lo + n
		return max(lo/faceRegionAlign*faceRegionAlign, blo), min((hi+faceRegionAlign-1)/faceRegionAlign*faceRegionAlign, bhi)
	}
	r.Min.X, r.Max.X = fit(r.Min.X, r.Max.X, bounds.Min.X, bounds.Max.X)
	r.Min.Y, r.Max.Y = fit(r.Min.Y, r.Max.Y, bounds.Min.Y, bounds.Max.Y)
	return r
}
