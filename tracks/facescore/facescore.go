// Package facescore scores the names a video's faces were given against labelled face tracks: per
// person, the share of the frames in which one of their tracks is present and a face there carries
// their name, and every face named wrongly. The truth is pyannote-video's track format (one line per
// face per frame: time, track, box corners as fractions of the picture, kind) with a CSV naming each
// track; shared/eval's tbbt clip comes this way.
package facescore

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// TruthFace is one labelled face in one frame.
type TruthFace struct {
	Frame int // from 1
	Track int
	// X0, Y0, X1, Y1 are the box's corners as fractions of the picture's width and height.
	X0, Y0, X1, Y1 float64
}

// ReadTracks reads a pyannote-video track file; a line's time t in seconds is frame round(t*fps)+1.
func ReadTracks(r io.Reader, fps float64) ([]TruthFace, error) {
	if !(fps > 0) {
		return nil, fmt.Errorf("face tracks: frame rate %v must be positive", fps)
	}
	var out []TruthFace
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 7 {
			return nil, fmt.Errorf("face tracks line %d: %d fields, want 7 (time track x0 y0 x1 y1 kind)", n, len(f))
		}
		var v [6]float64
		for i := range v {
			x, err := strconv.ParseFloat(f[i], 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("face tracks line %d: field %d %q is not a number", n, i+1, f[i])
			}
			v[i] = x
		}
		if v[0] < 0 || v[1] < 0 || v[1] != math.Trunc(v[1]) || v[1] > math.MaxInt32 || v[0]*fps > math.MaxInt32 {
			return nil, fmt.Errorf("face tracks line %d: time %v or track %v out of range", n, v[0], v[1])
		}
		if !(v[2] < v[4] && v[3] < v[5]) {
			return nil, fmt.Errorf("face tracks line %d: empty box", n)
		}
		out = append(out, TruthFace{Frame: int(math.Round(v[0]*fps)) + 1, Track: int(v[1]), X0: v[2], Y0: v[3], X1: v[4], Y1: v[5]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("face tracks: %w", err)
	}
	return out, nil
}

// ReadIdentities reads the "track,identity" CSV (with that header) naming each track.
func ReadIdentities(r io.Reader) (map[int]string, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("track identities: %w", err)
	}
	if len(rows) == 0 || len(rows[0]) != 2 || rows[0][0] != "track" || rows[0][1] != "identity" {
		return nil, errors.New(`track identities: want the header "track,identity"`)
	}
	out := map[int]string{}
	for i, row := range rows[1:] {
		t, err := strconv.Atoi(row[0])
		if err != nil || row[1] == "" {
			return nil, fmt.Errorf("track identities line %d: %q", i+2, strings.Join(row, ","))
		}
		if _, dup := out[t]; dup {
			return nil, fmt.Errorf("track identities line %d: track %d named twice", i+2, t)
		}
		out[t] = row[1]
	}
	return out, nil
}

// Face is a face found in a frame, in pixels, and the name it was given ("" for none).
type Face struct {
	Frame      int
	X, Y, W, H float64
	Identity   string
}

// Truth is a labelled clip: its faces, each track's identity, and the picture size the fractions
// refer to.
type Truth struct {
	Faces         []TruthFace
	Identities    map[int]string
	Width, Height int
}

// Person is how often one person was named where they are.
type Person struct {
	Frames int // frames in which one of their tracks is present
	Named  int // of which a face there carries their name
}

// Share is Named / Frames (0 without frames).
func (p Person) Share() float64 {
	if p.Frames == 0 {
		return 0
	}
	return float64(p.Named) / float64(p.Frames)
}

// Track is the score of one labelled track.
type Track struct {
	Track      int
	Identity   string
	Frames     int            // frames in which it is present
	Found      int            // of which a face was found on it
	Named      int            // of which the face carries the track's identity
	WrongNames map[string]int // other names given to its faces, per name
}

// Score is the result of Evaluate.
type Score struct {
	People map[string]Person
	Tracks []Track // by track number
	// Wrong counts faces on a labelled track named as someone else (a track whose identity is not in
	// the gallery is never to be named); Unjudged counts named faces on no labelled track.
	Wrong, Unjudged int
}

// Evaluate matches each frame's faces with the labelled faces present (greedily by overlap, IoU at
// least minIoU, each at most once) and scores the names of the given people (the gallery).
func Evaluate(t Truth, faces []Face, people []string, minIoU float64) Score {
	byFrame := map[int][]int{}
	for i, f := range faces {
		byFrame[f.Frame] = append(byFrame[f.Frame], i)
	}
	truthByFrame := map[int][]TruthFace{}
	for _, tf := range t.Faces {
		truthByFrame[tf.Frame] = append(truthByFrame[tf.Frame], tf)
	}
	s := Score{People: map[string]Person{}}
	for _, p := range people {
		s.People[p] = Person{}
	}
	tracks := map[int]*Track{}
	for _, tf := range t.Faces {
		if tracks[tf.Track] == nil {
			tracks[tf.Track] = &Track{Track: tf.Track, Identity: t.Identities[tf.Track], WrongNames: map[string]int{}}
		}
	}
	frames := map[int]bool{}
	for _, f := range faces {
		frames[f.Frame] = true
	}
	for fr := range truthByFrame {
		frames[fr] = true
	}
	for _, fr := range slices.Sorted(maps.Keys(frames)) {
		truth := truthByFrame[fr]
		found := byFrame[fr]
		type pair struct {
			t, f int
			iou  float64
		}
		var pairs []pair
		for ti, tf := range truth {
			tb := [4]float64{tf.X0 * float64(t.Width), tf.Y0 * float64(t.Height), tf.X1 * float64(t.Width), tf.Y1 * float64(t.Height)}
			for fi, i := range found {
				if v := iou(tb, faces[i]); v >= minIoU {
					pairs = append(pairs, pair{ti, fi, v})
				}
			}
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(b.iou, a.iou) })
		faceOf := make([]int, len(truth))
		for i := range faceOf {
			faceOf[i] = -1
		}
		used := make([]bool, len(found))
		for _, p := range pairs {
			if faceOf[p.t] < 0 && !used[p.f] {
				faceOf[p.t], used[p.f] = p.f, true
			}
		}
		for ti, tf := range truth {
			tr := tracks[tf.Track]
			tr.Frames++
			name := ""
			if faceOf[ti] >= 0 {
				tr.Found++
				name = faces[found[faceOf[ti]]].Identity
			}
			switch {
			case name == "":
			case name == tr.Identity:
				tr.Named++
			default:
				tr.WrongNames[name]++
				s.Wrong++
			}
			if p, ok := s.People[tr.Identity]; ok {
				p.Frames++
				if name == tr.Identity {
					p.Named++
				}
				s.People[tr.Identity] = p
			}
		}
		for fi, i := range found {
			if !used[fi] && faces[i].Identity != "" {
				s.Unjudged++
			}
		}
	}
	for _, tr := range tracks {
		s.Tracks = append(s.Tracks, *tr)
	}
	slices.SortFunc(s.Tracks, func(a, b Track) int { return cmp.Compare(a.Track, b.Track) })
	return s
}

// iou of corner box b and face f.
func iou(b [4]float64, f Face) float64 {
	x0, y0 := math.Max(b[0], f.X), math.Max(b[1], f.Y)
	x1, y1 := math.Min(b[2], f.X+f.W), math.Min(b[3], f.Y+f.H)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	in := (x1 - x0) * (y1 - y0)
	return in / ((b[2]-b[0])*(b[3]-b[1]) + f.W*f.H - in)
}
