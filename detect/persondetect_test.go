package detect

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// motTruth is one MOT17 sequence's ground truth for the frames present: pedestrians to find, and boxes
// (distractor classes, persons marked not to consider) whose detections count neither way.
type motTruth struct {
	find, ignore map[int][]Box
}

// MOT17 classes that are ignored in evaluation rather than counted as false positives: person on vehicle,
// static person, distractor, reflection.
var motDistractor = map[int]bool{2: true, 7: true, 8: true, 12: true}

func readMOTTruth(t *testing.T, path string, minVisibility float64) motTruth {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gt := motTruth{find: map[int][]Box{}, ignore: map[int][]Box{}}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ",")
		require.GreaterOrEqual(t, len(fields), 9, "%s:%d: fields", path, line)
		v := make([]float64, 9)
		for i := range v {
			v[i], err = strconv.ParseFloat(fields[i], 64)
			require.NoError(t, err, "%s:%d", path, line)
		}
		frame, class := int(v[0]), int(v[7])
		// MOT boxes are 1-based.
		b := Box{float32(v[2] - 1), float32(v[3] - 1), float32(v[4]), float32(v[5])}
		switch {
		case class == 1 && v[6] == 1 && v[8] >= minVisibility:
			gt.find[frame] = append(gt.find[frame], b)
		case class == 1 || motDistractor[class]:
			gt.ignore[frame] = append(gt.ignore[frame], b)
		}
	}
	return gt
}

// scorePersons counts true positives and false positives of one frame; unmatched detections that overlap
// an ignored box are not false positives.
func scorePersons(truth, ignore, found []Box) (tp, fp int) {
	tp = matchBoxes(truth, found, 0.5)
	unmatched := 0
	for _, b := range found {
		var best float32
		for _, g := range truth {
			best = max(best, g.IoU(b))
		}
		if best >= 0.5 {
			continue
		}
		for _, g := range ignore {
			if g.IoU(b) >= 0.5 {
				best = 1
				break
			}
		}
		if best < 0.5 {
			unmatched++
		}
	}
	return tp, unmatched
}

type detectorScore struct{ truth, found, tp, fp int }

func (s detectorScore) recall() float64    { return float64(s.tp) / float64(max(s.truth, 1)) }
func (s detectorScore) precision() float64 { return float64(s.tp) / float64(max(s.tp+s.fp, 1)) }

// runMOT17 runs a person detector over every frame of the MOT17-mini sequences and scores it against the
// ground truth at each of the minimum visibilities.
func runMOT17(t *testing.T, det PersonDetector, minVisibility ...float64) []detectorScore {
	t.Helper()
	seqs, err := filepath.Glob(filepath.Join(evalDir(t), "mot", "boxmot_MOT17-mini", "train", "MOT17-*"))
	require.NoError(t, err)
	require.NotEmpty(t, seqs, "no MOT17-mini sequences")
	scores := make([]detectorScore, len(minVisibility))
	for _, seq := range seqs {
		var gts []motTruth
		for _, v := range minVisibility {
			gts = append(gts, readMOTTruth(t, filepath.Join(seq, "gt", "gt.txt"), v))
		}
		frames, _ := filepath.Glob(filepath.Join(seq, "img1", "*.jpg"))
		for _, fp := range frames {
			n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(fp), ".jpg"))
			require.NoError(t, err)
			img := readImage(t, fp)
			persons, err := det.DetectPersons(img)
			img.Close()
			require.NoError(t, err)
			var boxes []Box
			for _, p := range persons {
				boxes = append(boxes, p.Box)
			}
			for i, gt := range gts {
				tp, fpos := scorePersons(gt.find[n], gt.ignore[n], boxes)
				s := &scores[i]
				s.truth += len(gt.find[n])
				s.found += len(boxes)
				s.tp += tp
				s.fp += fpos
			}
		}
	}
	return scores
}

// TestPersonDetectionMOT17 scores YOLOX-nano (on ONNX Runtime) on the MOT17-mini frames (mostly
// 1920x1080) at IoU 0.5. At a 416-pixel input distant pedestrians shrink to a few pixels; a 640 input on
// large pictures (the default) or tiles recover many of them. MOT17 counts heavily occluded people too,
// so recall is also given for people at least half visible.
func TestPersonDetectionMOT17(t *testing.T) {
	dir, engine := modelsDir(t), openORT(t)
	tests := []struct {
		name string
		cfg  func(*YOLOXConfig)
		// floors for all pedestrians, then for those at least half visible
		minRecall, minPrecision       float64
		minRecallVis, minPrecisionVis float64
	}{
		{"416 only", func(c *YOLOXConfig) { c.LargeSize = 0 }, 0.29, 0.80, 0.41, 0.80},
		{"default: 640 above 1000 px", func(*YOLOXConfig) {}, 0.44, 0.80, 0.64, 0.80},
		{"416, 2x2 tiles + full frame", func(c *YOLOXConfig) { c.LargeSize, c.Tiles = 0, 2 }, 0.48, 0.70, 0.66, 0.68},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultYOLOXConfig()
			tc.cfg(&cfg)
			y, err := NewYOLOX(engine, dir, cfg)
			require.NoError(t, err)
			defer y.Close()
			s := runMOT17(t, y, 0, 0.5)
			for i, label := range []string{"all pedestrians", "visibility >= 0.5"} {
				t.Logf("MOT17-mini %s, %s: %d pedestrians, %d detections, %d true, %d false: recall %.3f precision %.3f",
					tc.name, label, s[i].truth, s[i].found, s[i].tp, s[i].fp, s[i].recall(), s[i].precision())
			}
			assert.GreaterOrEqual(t, s[0].recall(), tc.minRecall, "recall, all")
			assert.GreaterOrEqual(t, s[0].precision(), tc.minPrecision, "precision, all")
			assert.GreaterOrEqual(t, s[1].recall(), tc.minRecallVis, "recall, visibility >= 0.5")
			assert.GreaterOrEqual(t, s[1].precision(), tc.minPrecisionVis, "precision, visibility >= 0.5")
		})
	}
}

// TestPersonDetectionFallbackMOT17 scores the HOG fallback the same way, so the cost of running without
// models is known.
func TestPersonDetectionFallbackMOT17(t *testing.T) {
	h := NewHOG(DefaultHOGConfig())
	defer h.Close()
	s := runMOT17(t, h, 0.5)[0]
	t.Logf("MOT17-mini HOG fallback, visibility >= 0.5: %d pedestrians, %d detections, %d true, %d false: "+
		"recall %.3f precision %.3f", s.truth, s.found, s.tp, s.fp, s.recall(), s.precision())
	assert.GreaterOrEqual(t, s.recall(), 0.25, "HOG recall")
	assert.GreaterOrEqual(t, s.precision(), 0.75, "HOG precision")
}

// readVideoFramesB returns one vtest frame for a benchmark.
func readVideoFramesB(b *testing.B, n int) gocv.Mat {
	return readVideoFrames(b, vtestPath(b), n)[n]
}

// readVideoFrames decodes the listed 0-based frame indices of a video.
func readVideoFrames(t testing.TB, path string, want ...int) map[int]gocv.Mat {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(path)
	require.NoError(t, err)
	defer vc.Close()
	last := 0
	for _, w := range want {
		last = max(last, w)
	}
	out := map[int]gocv.Mat{}
	m := gocv.NewMat()
	defer m.Close()
	for i := 0; i <= last; i++ {
		require.True(t, vc.Read(&m), "%s ended at frame %d", path, i)
		for _, w := range want {
			if w == i {
				out[i] = m.Clone()
			}
		}
	}
	t.Cleanup(func() {
		for _, f := range out {
			f.Close()
		}
	})
	return out
}

// TestPersonDetectionVtest checks the counts on vtest.avi the models README reports for YOLOX-nano at
// threshold 0.3 (4, 7 and 9 people in frames 0, 100 and 199).
func TestPersonDetectionVtest(t *testing.T) {
	y, err := NewYOLOX(nil, modelsDir(t), DefaultYOLOXConfig())
	require.NoError(t, err)
	defer y.Close()
	frames := readVideoFrames(t, vtestPath(t), 0, 100, 199)
	for _, tc := range []struct{ frame, want int }{{0, 4}, {100, 7}, {199, 9}} {
		t.Run(fmt.Sprint("frame ", tc.frame), func(t *testing.T) {
			persons, err := y.DetectPersons(frames[tc.frame])
			require.NoError(t, err)
			assert.Len(t, persons, tc.want)
		})
	}
}
