package detect

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Face detection on real labelled photos. Figures go to docs/ACCURACY.md; the asserted floors are the
// ones committed to there.

type dlibDataset struct {
	Images []struct {
		File  string `xml:"file,attr"`
		Boxes []struct {
			Top    int `xml:"top,attr"`
			Left   int `xml:"left,attr"`
			Width  int `xml:"width,attr"`
			Height int `xml:"height,attr"`
		} `xml:"box"`
	} `xml:"images>image"`
}

func readDlib(t *testing.T, path string) dlibDataset {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := xml.NewDecoder(bytes.NewReader(data))
	// The files declare ISO-8859-1 but are plain ASCII.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var ds dlibDataset
	require.NoError(t, dec.Decode(&ds), "parse %s", path)
	return ds
}

// TestFaceDetectionDlib scores the face detector on dlib's PASCAL VOC face sets at IoU >= 0.5. dlib's boxes
// are square (brows to chin); YuNet's are taller, which IoU 0.5 tolerates.
func TestFaceDetectionDlib(t *testing.T) {
	p := newPipeline(t, false)
	dir := filepath.Join(evalDir(t), "faces", "dlib", "examples", "faces")
	tests := []struct {
		file                  string
		minRecall, minPrecise float64
	}{
		{"testing.xml", 0.96, 0.96},
		{"training.xml", 0.94, 0.94},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			ds := readDlib(t, filepath.Join(dir, tc.file))
			var truth, found, tp int
			for _, im := range ds.Images {
				var gt []Box
				for _, b := range im.Boxes {
					gt = append(gt, Box{float32(b.Left), float32(b.Top), float32(b.Width), float32(b.Height)})
				}
				faces := photoFaces(t, p, filepath.Join(dir, im.File))
				var fb []Box
				for _, f := range faces {
					fb = append(fb, f.Box)
				}
				truth += len(gt)
				found += len(fb)
				tp += matchBoxes(gt, fb, 0.5)
			}
			recall, precision := float64(tp)/float64(truth), float64(tp)/float64(max(found, 1))
			t.Logf("dlib %s: %d faces, %d detections, %d true: recall %.3f precision %.3f",
				tc.file, truth, found, tp, recall, precision)
			assert.GreaterOrEqual(t, recall, tc.minRecall, "recall")
			assert.GreaterOrEqual(t, precision, tc.minPrecise, "precision")
		})
	}
}

func TestFaceDetectionPhotos(t *testing.T) {
	p := newPipeline(t, false)
	faces := filepath.Join(evalDir(t), "faces")
	tests := []struct {
		name  string
		path  string
		truth []Box // every face, each to be found at IoU >= 0.5; nil with count < 0 skips the check
		count int   // exact number of faces expected
	}{
		{"face-api faces.jpg: 6 faces at the listed boxes", "face-api/test/images/faces.jpg", []Box{
			{84, 14, 79, 132}, {234, 36, 84, 119}, {48, 253, 104, 129}, {260, 227, 76, 117},
			{466, 165, 88, 130}, {577, 65, 84, 105}}, 6},
		// (top,right,bottom,left) = (142,617,409,349) in the peer's notation.
		{"obama.jpg: exactly one", "face_recognition/tests/test_images/obama.jpg", []Box{{349, 142, 268, 267}}, 1},
		{"obama_partial_face.jpg: one face clipped at the left border",
			"face_recognition/tests/test_images/obama_partial_face.jpg", []Box{{0, 142, 191, 223}}, 1},
		{"dogs.jpg: no human face", "dlib/examples/faces/dogs.jpg", nil, 0},
		{"32bit.png: RGBA decodes, one face", "face_recognition/tests/test_images/32bit.png", nil, 1},
		{"Tom Cruise: one face", "dlib/examples/faces/Tom_Cruise_avp_2014_4.jpg", nil, 1},
		{"two_people.jpg: two faces", "face_recognition/examples/two_people.jpg", nil, 2},
		{"obama-240p: one face", "face_recognition/examples/obama-240p.jpg", nil, 1},
		{"obama-480p: one face", "face_recognition/examples/obama-480p.jpg", nil, 1},
		{"obama-720p: one face", "face_recognition/examples/obama-720p.jpg", nil, 1},
		{"obama-1080p: one face", "face_recognition/examples/obama-1080p.jpg", nil, 1},
		{"bbt1: four faces", "face-api/examples/images/bbt1.jpg", nil, 4},
		{"bbt5: five faces", "face-api/examples/images/bbt5.jpg", nil, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := photoFaces(t, p, filepath.Join(faces, tc.path))
			assert.Len(t, got, tc.count, "faces found: %+v", boxesOf(got))
			var fb []Box
			for _, f := range got {
				fb = append(fb, f.Box)
			}
			assert.Equal(t, len(tc.truth), matchBoxes(tc.truth, fb, 0.5), "listed faces found at IoU >= 0.5; found %+v", fb)
		})
	}
}

// TestRGBAPhotoIsThreeChannel checks the decoder side of 32bit.png.
func TestRGBAPhotoIsThreeChannel(t *testing.T) {
	m := readImage(t, filepath.Join(evalDir(t), "faces", "face_recognition", "tests", "test_images", "32bit.png"))
	defer m.Close()
	assert.Equal(t, 3, m.Channels(), "32bit.png's channels, want BGR")
	assert.Equal(t, 626, m.Cols(), "32bit.png's width")
	assert.Equal(t, 1200, m.Rows(), "32bit.png's height")
}

func boxesOf(faces []Face) []Box {
	var out []Box
	for _, f := range faces {
		out = append(out, f.Box)
	}
	return out
}
