package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"image"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/alerts"
	"snowlight/audit"
	"snowlight/casebundle"
	"snowlight/detect"
	"snowlight/export"
	"snowlight/internal/shareddata"
	"snowlight/objstore"
	"snowlight/store"
	"snowlight/tracks"
)

var t0 = time.Date(2025, 3, 1, 14, 20, 0, 0, time.UTC)

// eager is the detector an export runs and its tests check with: YuNet at score 0.5, no second opinion.
func eager(t *testing.T) *detect.YuNet {
	cfg := detect.DefaultYuNetConfig()
	cfg.ScoreThreshold, cfg.VerifyBelow = 0.5, 0
	y, err := detect.NewYuNet(nil, shareddata.Dir(t, "SNOWLIGHT_MODELS", "models"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { y.Close() })
	return y
}

func finder(y *detect.YuNet) export.FaceFinder {
	return func(img gocv.Mat) ([]image.Rectangle, error) {
		fs, err := y.DetectFaces(img)
		out := make([]image.Rectangle, len(fs))
		for i, f := range fs {
			out[i] = f.Box.Rect()
		}
		return out, err
	}
}

// world is an export's world: a group photo stands for an alert's scene (its snapshot, and a clip of
// it), with the subject tracked around one face; the store, the objects and the request.
type world struct {
	opts  export.Options
	req   export.Request
	faces []image.Rectangle // in the photo
	body  image.Rectangle   // the subject's tracked box
	crop  image.Rectangle   // where the body view was cut
	dir   string
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	y := eager(t)
	photo := filepath.Join(shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval"), "faces", "face-api", "examples", "images", "bbt2.jpg")
	img := gocv.IMRead(photo, gocv.IMReadColor)
	require.False(t, img.Empty())
	defer img.Close()
	scene := gocv.NewMat()
	defer scene.Close()
	gocv.Resize(img, &scene, image.Pt(img.Cols()/2*2, img.Rows()/2*2), 0, 0, gocv.InterpolationArea)
	faces, err := finder(y)(scene)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(faces), 3, "a group photo")
	f := faces[0]
	body := image.Rect(f.Min.X-f.Dx()/10, f.Min.Y-f.Dy()/5, f.Max.X+f.Dx()/10, f.Max.Y+3*f.Dy()).Intersect(image.Rect(0, 0, scene.Cols(), scene.Rows()))
	for _, o := range faces[1:] {
		require.False(t, image.Pt((o.Min.X+o.Max.X)/2, (o.Min.Y+o.Max.Y)/2).In(body), "another face inside the subject's box")
	}

	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	objs, err := objstore.OpenDir(filepath.Join(dir, "objects"), objstore.DirOptions{})
	require.NoError(t, err)
	put := func(kind, ext, ct string, data []byte) string {
		info, err := objstore.PutContent(ctx, objs, kind, ext, data, ct, objstore.Meta{})
		require.NoError(t, err)
		return info.Key
	}
	encode := func(m gocv.Mat) []byte {
		b, err := gocv.IMEncode(gocv.JPEGFileExt, m)
		require.NoError(t, err)
		defer b.Close()
		return bytes.Clone(b.GetBytes())
	}
	snap := put("snapshot", "jpg", "image/jpeg", encode(scene))
	clipFile := filepath.Join(dir, "clip.mp4")
	w, err := gocv.VideoWriterFile(clipFile, "avc1", 10, scene.Cols(), scene.Rows(), true)
	require.NoError(t, err)
	for range 10 {
		require.NoError(t, w.Write(scene))
	}
	require.NoError(t, w.Close())
	clipBytes, err := os.ReadFile(clipFile)
	require.NoError(t, err)
	clip := put("clip", "mp4", "video/mp4", clipBytes)
	// The body view is cut around the box with a twentieth's margin, as the edge cuts it.
	mx, my := body.Dx()/20, body.Dy()/20
	cropRect := image.Rect(body.Min.X-mx, body.Min.Y-my, body.Max.X+mx, body.Max.Y+my).Intersect(image.Rect(0, 0, scene.Cols(), scene.Rows()))
	region := scene.Region(cropRect)
	crop := put("body", "jpg", "image/jpeg", encode(region))
	region.Close()

	b := tracks.Box{X: float64(body.Min.X), Y: float64(body.Min.Y), W: float64(body.Dx()), H: float64(body.Dy())}
	s := tracks.Sighting{ID: "cam1-1-1", Camera: "cam1", TrackID: 1, Enter: t0, Exit: t0.Add(3 * time.Second), Final: true,
		Boxes: []tracks.TimedBox{{Time: t0, Box: b}, {Time: t0.Add(3 * time.Second), Box: b}},
		Body:  &tracks.Snapshot{Time: t0.Add(time.Second), Box: b, Ref: crop}}
	require.NoError(t, db.SaveSighting(ctx, s))
	a := alerts.Alert{ID: "al-1", Kind: alerts.WatchlistHit, Subject: "p", Status: alerts.Resolved, Place: alerts.Place{Camera: "cam1"},
		FirstPlace: alerts.Place{Camera: "cam1"}, FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(2 * time.Second), Created: t0, Updated: t0,
		Evidence: alerts.Evidence{Sightings: []string{s.ID}, Snapshot: snap, Clip: clip, ClipStart: t0, ClipEnd: t0.Add(time.Second),
			// The camera moved to another edge within the window (distributed mode): a second clip, and a gap.
			ClipParts: []alerts.ClipPart{{Key: clip, Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second)}},
			ClipLost:  []alerts.Gap{{From: t0.Add(time.Second), To: t0.Add(2 * time.Second), Reason: "no edge held the camera"}}}}
	_, err = db.ApplyAlertChange(ctx, alerts.Change{Alert: a, New: true})
	require.NoError(t, err)
	log := audit.New(db, func() time.Time { return t0 })
	_, err = log.Append(ctx, audit.Record{Actor: "ivy", Role: "investigator", Action: "case.export", Case: "C-7", Reason: "court order 12/2025"})
	require.NoError(t, err)

	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	traj, err := db.Follow(ctx, s.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	return &world{
		opts: export.Options{Store: db, Objects: objs, Faces: finder(y), Key: key, TempDir: dir,
			Cameras: []export.Camera{{ID: "cam1", Name: "Market", Lat: 50.879, Lon: 4.7, HasPos: true}}},
		req: export.Request{Case: "C-7", Reason: "court order 12/2025", CreatedBy: "ivy", Subject: "sighting/" + s.ID, Created: t0,
			Trajectories: []tracks.Trajectory{traj}},
		faces: faces, body: body, crop: cropRect, dir: dir}
}

// TestExport: the bundle verifies; in its snapshot, body view and clip the detector finds the
// subject's face and no other; the trajectory, the audit entries of the case and what redaction did are
// in it. (That a changed byte fails verification is casebundle's test, and the browser suite's on a
// bundle exported through the product.)
func TestExport(t *testing.T) {
	ctx := context.Background()
	sc := newWorld(t)
	faces, body, cropRect, dir, key := sc.faces, sc.body, sc.crop, sc.dir, sc.opts.Key
	var out bytes.Buffer
	res, err := export.Write(ctx, sc.opts, sc.req, &out)
	require.NoError(t, err)
	s := sc.req.Trajectories[0].Steps[0]
	path := filepath.Join(dir, "bundle.zip")
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o600))
	m, err := casebundle.VerifyFile(path, casebundle.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	require.NoError(t, err)
	assert.Equal(t, res.Manifest.Files, m.Files)
	assert.Equal(t, "sighting/"+s.Sighting, m.Subject)

	files := map[string][]byte{}
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	require.NoError(t, err)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(t, err)
		files[zf.Name], err = io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
	}
	for _, name := range []string{"trajectory.json", "map.png", "audit.json", "redaction.json", "sightings/001-cam1-1-1-body.jpg",
		"alerts/al-1-snapshot.jpg", "alerts/al-1-clip.mp4", "alerts/al-1-clip-2.mp4"} {
		assert.Contains(t, files, name)
	}
	var tf struct {
		Alerts []struct {
			ClipParts []struct{ File string } `json:"clip_parts"`
			ClipLost  []alerts.Gap            `json:"clip_lost"`
		}
	}
	require.NoError(t, json.Unmarshal(files["trajectory.json"], &tf))
	require.Len(t, tf.Alerts, 1)
	if assert.Len(t, tf.Alerts[0].ClipParts, 1) {
		assert.Equal(t, "alerts/al-1-clip-2.mp4", tf.Alerts[0].ClipParts[0].File)
	}
	if assert.Len(t, tf.Alerts[0].ClipLost, 1, "the bundle says where its clips are incomplete") {
		assert.Equal(t, "no edge held the camera", tf.Alerts[0].ClipLost[0].Reason)
	}
	var entries []audit.Entry
	require.NoError(t, json.Unmarshal(files["audit.json"], &entries))
	require.Len(t, entries, 1)
	assert.Equal(t, "case.export", entries[0].Action)

	// Only the subject's face is left in the pictures.
	onlySubject := func(name string, img gocv.Mat, body image.Rectangle) {
		found, err := sc.opts.Faces(img)
		require.NoError(t, err)
		kept := false
		for _, g := range found {
			c := image.Pt((g.Min.X+g.Max.X)/2, (g.Min.Y+g.Max.Y)/2)
			assert.True(t, c.In(body), "%s: a bystander's face is found at %v", name, g)
			kept = kept || c.In(body)
		}
		assert.True(t, kept, "%s: the subject's face is still there", name)
	}
	for name, box := range map[string]image.Rectangle{"alerts/al-1-snapshot.jpg": body,
		"sightings/001-cam1-1-1-body.jpg": body.Sub(cropRect.Min)} {
		img, err := gocv.IMDecode(files[name], gocv.IMReadColor)
		require.NoError(t, err)
		onlySubject(name, img, box)
		img.Close()
	}
	for _, name := range []string{"alerts/al-1-clip.mp4", "alerts/al-1-clip-2.mp4"} {
		clipOut := filepath.Join(dir, "exported.mp4")
		require.NoError(t, os.WriteFile(clipOut, files[name], 0o600))
		vc, err := gocv.VideoCaptureFile(clipOut)
		require.NoError(t, err)
		frame := gocv.NewMat()
		require.True(t, vc.Read(&frame), name)
		onlySubject(name, frame, body)
		frame.Close()
		vc.Close()
	}
	var red []export.Redaction
	require.NoError(t, json.Unmarshal(files["redaction.json"], &red))
	for _, r := range red {
		assert.LessOrEqual(t, r.Hidden, r.Faces, r.File)
		if r.File == "alerts/al-1-snapshot.jpg" {
			assert.Equal(t, len(faces)-1, r.Hidden, "every face but the subject's hidden")
		}
	}
}
