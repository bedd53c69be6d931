package detect

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/tracks/facescore"
)

func TestFitRegion(t *testing.T) {
	frame := image.Rect(0, 0, 768, 576)
	for _, tc := range []struct {
		name      string
		r, bounds image.Rectangle
		want      image.Rectangle
	}{
		{"small grows to the minimum, then to the grid", image.Rect(100, 100, 120, 130), frame, image.Rect(0, 64, 192, 192)},
		{"large widens to the grid", image.Rect(10, 10, 110, 140), frame, image.Rect(0, 0, 128, 192)},
		{"at a corner shifts inside", image.Rect(760, 570, 768, 576), frame, image.Rect(640, 448, 768, 576)},
		{"bounds smaller than the minimum", image.Rect(5, 5, 10, 10), image.Rect(0, 0, 70, 80), image.Rect(0, 0, 70, 80)},
		{"within a region of interest", image.Rect(300, 300, 310, 310), image.Rect(250, 250, 666, 666), image.Rect(256, 256, 384, 384)},
		{"outside bounds", image.Rect(900, 900, 950, 950), frame, image.Rectangle{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fitRegion(tc.r, tc.bounds)
			assert.Equal(t, tc.want, got)
			if !got.Empty() {
				assert.True(t, got.In(tc.bounds), "%v within %v", got, tc.bounds)
			}
		})
	}
}

func TestMergeRegionsLeavesNoOverlap(t *testing.T) {
	frame := image.Rect(0, 0, 768, 576)
	boxes := []Box{{100, 100, 40, 40}, {130, 120, 40, 40}, {500, 300, 20, 20}, {600, 50, 30, 60}, {560, 60, 30, 30}}
	rs := mergeRegions(boxes, frame)
	require.Len(t, rs, 3, "%v", rs)
	for i, r := range rs {
		assert.True(t, r.In(frame))
		for _, o := range rs[i+1:] {
			assert.False(t, r.Overlaps(o), "%v and %v overlap", r, o)
		}
	}
	for _, b := range boxes {
		covered := false
		for _, r := range rs {
			covered = covered || b.Rect().In(r)
		}
		assert.True(t, covered, "box %v in no region of %v", b, rs)
	}
	assert.NotNil(t, mergeRegions(nil, frame), "no box: no region, which is not a whole-frame search")
}

func TestFaceMemoryPlan(t *testing.T) {
	frame := image.Rect(0, 0, 768, 576)
	t0 := time.Unix(100, 0)
	walker := []Person{{Box: Box{300, 200, 40, 100}}}
	m := newFaceMemory(DefaultFaceSearch())
	require.Nil(t, m.plan(t0, walker, frame), "the first frame is searched whole")
	m.searched(t0, frame, nil, []Face{{Box: Box{600, 400, 30, 30}}})

	rs := m.plan(t0.Add(200*time.Millisecond), walker, frame)
	require.Len(t, rs, 2, "the walker's upper body and the last frame's face")
	assert.True(t, upperBody(walker[0].Box).Rect().Intersect(frame).In(rs[0]), "%v", rs)
	assert.True(t, image.Rect(570, 370, 660, 460).In(rs[1]), "%v", rs)
	m.searched(t0.Add(200*time.Millisecond), frame, rs, nil)

	assert.Empty(t, m.plan(t0.Add(400*time.Millisecond), nil, frame), "nobody and no face: nothing to search")
	assert.NotNil(t, m.plan(t0.Add(400*time.Millisecond), nil, frame))
	assert.Nil(t, m.plan(t0.Add(time.Second), walker, frame), "a whole search every FullEvery")
	crowd := []Person{{Box: Box{0, 0, 380, 570}}, {Box: Box{390, 0, 370, 570}}}
	assert.Len(t, m.plan(t0.Add(400*time.Millisecond), crowd, frame), 1, "their upper bodies: half the frame")
	m.cfg.FullAbove = 0.4
	assert.Nil(t, m.plan(t0.Add(400*time.Millisecond), crowd, frame), "regions over FullAbove: whole")
	assert.Nil(t, newFaceMemory(FaceSearch{}).plan(t0, walker, frame), "the zero value always searches whole")
	var none *faceMemory
	assert.Nil(t, none.plan(t0, walker, frame))

	st := m.stats
	assert.Equal(t, FaceSearchStats{Whole: 1, Regions: 1, Possible: 2 * 768 * 576,
		Searched: 768*576 + int64(rs[0].Dx()*rs[0].Dy()+rs[1].Dx()*rs[1].Dy())}, st)
}

// TestFaceSearchKeepsFaces runs real footage through a gated camera with faces searched in the whole
// frame and where FaceSearch plans, at 5 detection fps: the labelled faces of tbbt (close-ups, wide
// shots, people seated and cut by the picture's edge) and the busy street's small faces must be found
// as often either way, and tbbt's faces found both ways must embed alike.
func TestFaceSearchKeepsFaces(t *testing.T) {
	tbbt := filepath.Join(evalDir(t), "faces", "tbbt")
	f, err := os.Open(filepath.Join(tbbt, "tbbt.mp4.track.txt"))
	require.NoError(t, err)
	truth, err := facescore.ReadTracks(f, 25)
	f.Close()
	require.NoError(t, err)
	ids, err := os.Open(filepath.Join(tbbt, "track_identities.csv"))
	require.NoError(t, err)
	named, err := facescore.ReadIdentities(ids)
	ids.Close()
	require.NoError(t, err)

	engine := openORT(t)
	var size image.Point
	run := func(path string, limit time.Duration, search FaceSearch) ([][]Face, FaceSearchStats) {
		cfg := DefaultConfig(modelsDir(t))
		cfg.Engine, cfg.FaceSearch, cfg.Appearance = engine, search, false
		p, err := NewPipeline(cfg)
		require.NoError(t, err)
		defer p.Close()
		gate := DefaultGateConfig()
		cam := p.NewCamera("c", &gate)
		defer cam.Close()
		var faces [][]Face
		sampledFrames(t, path, 5, limit, func(_ int, at time.Duration, img gocv.Mat) {
			res, err := cam.Process(context.Background(), img, time.Unix(0, 0).Add(at))
			require.NoError(t, err)
			faces = append(faces, res.Faces)
			size = image.Pt(img.Cols(), img.Rows())
		})
		return faces, cam.FaceSearchStats()
	}

	// tbbt: labelled faces (the lamp's "not a face" tracks left out) found at IoU >= 0.3.
	video := filepath.Join(tbbt, "tbbt.mp4")
	found := func(faces [][]Face) (hits, total int) {
		for i, fs := range faces {
			frame := i*5 + 1 // 25 fps sampled at 5
			for _, tf := range truth {
				if tf.Frame != frame || named[tf.Track] == "not_a_face" {
					continue
				}
				total++
				w, h := float64(size.X), float64(size.Y)
				b := Box{float32(tf.X0 * w), float32(tf.Y0 * h), float32((tf.X1 - tf.X0) * w), float32((tf.Y1 - tf.Y0) * h)}
				for _, f := range fs {
					if f.Box.IoU(b) >= 0.3 {
						hits++
						break
					}
				}
			}
		}
		return hits, total
	}
	wholeFaces, _ := run(video, time.Minute, FaceSearch{})
	searchFaces, st := run(video, time.Minute, DefaultFaceSearch())
	wh, total := found(wholeFaces)
	sh, _ := found(searchFaces)
	t.Logf("tbbt: labelled faces found %d of %d searching the whole frame, %d with face search "+
		"(%d frames whole, %d in regions, %.2f of the pixels)", wh, total, sh, st.Whole, st.Regions,
		float64(st.Searched)/float64(st.Possible))
	require.Positive(t, total)
	assert.GreaterOrEqual(t, sh, wh-total/100, "face search loses labelled faces")
	// A face found both ways must come out alike: its box and landmarks, and so its embedding and name.
	var pairs, alike int
	for i := range wholeFaces {
		for _, f := range wholeFaces[i] {
			for _, g := range searchFaces[i] {
				if f.Box.IoU(g.Box) >= 0.5 && len(f.Embedding) > 0 && len(g.Embedding) > 0 {
					pairs++
					if cosine(f.Embedding, g.Embedding) >= 0.95 {
						alike++
					}
				}
			}
		}
	}
	t.Logf("tbbt: %d of %d faces embedded both ways within cosine 0.95", alike, pairs)
	require.Positive(t, pairs)
	assert.GreaterOrEqual(t, float64(alike), 0.95*float64(pairs), "on a 32 px grid: 151 of 167")

	// The busy street: faces of 9-12 px, at the edge of what YuNet finds; every frame's faces compared.
	wholeFaces, _ = run(vtestPath(t), 20*time.Second, FaceSearch{})
	searchFaces, st = run(vtestPath(t), 20*time.Second, DefaultFaceSearch())
	var n, kept int
	for i := range wholeFaces {
		var boxes []Box
		for _, f := range searchFaces[i] {
			boxes = append(boxes, f.Box)
		}
		for _, f := range wholeFaces[i] {
			n++
			kept += matchBoxes([]Box{f.Box}, boxes, 0.3)
		}
	}
	t.Logf("vtest: %d of %d whole-frame faces found by face search (%d frames whole, %d in regions, %.2f of the pixels)",
		kept, n, st.Whole, st.Regions, float64(st.Searched)/float64(st.Possible))
	assert.GreaterOrEqual(t, float64(kept), 0.8*float64(n))
}
