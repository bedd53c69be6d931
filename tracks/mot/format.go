// Package mot reads and writes MOTChallenge text files and scores tracker output against ground truth
// with the CLEAR-MOT, identity (IDF1) and HOTA metrics, reproducing py-motmetrics' and TrackEval's
// definitions.
package mot

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Row is one line of a MOTChallenge file: a box in one frame. Ground truth, detections and tracker
// output share the layout frame,id,x,y,w,h,conf,... and differ in the trailing columns.
type Row struct {
	Frame int
	ID    int // -1 in detection files
	X, Y  float64
	W, H  float64
	// Conf is the detection score in detection files and the "consider" flag (1 or 0) in ground truth.
	Conf float64
	// Class and Visibility come from MOT16/17 ground truth (nine columns); Class is 0 when the file
	// does not say, which evaluation treats as a pedestrian.
	Class      int
	Visibility float64
}

// maxLineLen bounds one line so that a corrupt file cannot make the reader buffer without end.
const maxLineLen = 64 << 10

// Read parses a MOTChallenge file. Fields are separated by commas and/or white space; blank lines are
// skipped. At least six fields (frame,id,x,y,w,h) are required; a missing confidence reads as 1.
// Errors name the line.
func Read(r io.Reader) ([]Row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLineLen)
	var rows []Row
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		row, err := parseRow(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return rows, nil
}

func parseRow(text string) (Row, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(fields) < 6 {
		return Row{}, fmt.Errorf("want at least 6 fields (frame,id,x,y,w,h), got %d", len(fields))
	}
	vals := make([]float64, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return Row{}, fmt.Errorf("field %d: %w", i+1, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Row{}, fmt.Errorf("field %d: %q is not a finite number", i+1, f)
		}
		vals[i] = v
	}
	frame, err := integral(vals[0], "frame")
	if err != nil {
		return Row{}, err
	}
	if frame < 0 {
		return Row{}, fmt.Errorf("frame %d is negative", frame)
	}
	id, err := integral(vals[1], "id")
	if err != nil {
		return Row{}, err
	}
	if vals[4] < 0 || vals[5] < 0 {
		return Row{}, fmt.Errorf("box size %gx%g is negative", vals[4], vals[5])
	}
	row := Row{Frame: frame, ID: id, X: vals[2], Y: vals[3], W: vals[4], H: vals[5], Conf: 1}
	if len(vals) > 6 {
		row.Conf = vals[6]
	}
	// Only the MOT16/17 ground-truth layout has exactly nine columns; MOT15's ten carry world
	// coordinates in the same places.
	if len(vals) == 9 {
		if row.Class, err = integral(vals[7], "class"); err != nil {
			return Row{}, err
		}
		row.Visibility = vals[8]
	}
	return row, nil
}

func integral(v float64, what string) (int, error) {
	if v != math.Trunc(v) || math.Abs(v) > 1<<31 {
		return 0, fmt.Errorf("%s %v is not an integer", what, v)
	}
	return int(v), nil
}

// Write prints rows in the MOTChallenge results layout frame,id,x,y,w,h,conf,-1,-1,-1.
func Write(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		if _, err := fmt.Fprintf(bw, "%d,%d,%.2f,%.2f,%.2f,%.2f,%.4g,-1,-1,-1\n", r.Frame, r.ID, r.X, r.Y, r.W, r.H, r.Conf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Frame is all the rows of one frame number.
type Frame struct {
	Number int
	Rows   []Row
}

// ByFrame groups rows by frame number in increasing order, keeping file order inside each frame.
func ByFrame(rows []Row) []Frame {
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b Row) int { return cmp.Compare(a.Frame, b.Frame) })
	var frames []Frame
	for _, r := range sorted {
		if n := len(frames); n == 0 || frames[n-1].Number != r.Frame {
			frames = append(frames, Frame{Number: r.Frame})
		}
		f := &frames[len(frames)-1]
		f.Rows = append(f.Rows, r)
	}
	return frames
}

// errDuplicate reports two boxes with one id in one frame, which no metric can score.
var errDuplicate = errors.New("duplicate id in frame")

func checkUnique(rows []Row, what string) error {
	type key struct{ frame, id int }
	seen := make(map[key]struct{}, len(rows))
	for _, r := range rows {
		k := key{r.Frame, r.ID}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%s: frame %d id %d: %w", what, r.Frame, r.ID, errDuplicate)
		}
		seen[k] = struct{}{}
	}
	return nil
}

// IoU is the intersection over union of two boxes given as x,y,w,h, without the +1 pixel convention,
// as py-motmetrics and TrackEval compute it.
func IoU(a, b Row) float64 {
	ix := math.Min(a.X+a.W, b.X+b.W) - math.Max(a.X, b.X)
	iy := math.Min(a.Y+a.H, b.Y+b.H) - math.Max(a.Y, b.Y)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := a.W*a.H + b.W*b.H - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
