package alerts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"snowlight/alerts"
	"snowlight/objstore"
	"snowlight/objstore/miniotest"
)

// TestEvidenceWhileMinIODown: with MinIO down the alert still gets its clip (held in the spool, no
// link yet); when MinIO returns the clip is uploaded once, with metadata naming the alert, and its
// presigned link plays it.
func TestEvidenceWhileMinIODown(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := t.Context()
	remote, err := objstore.OpenMinIO(ctx, srv.Config("evidence"))
	if err != nil {
		t.Fatal(err)
	}
	spool, err := objstore.NewSpool(remote, objstore.SpoolOptions{Dir: t.TempDir(), MaxBytes: 64 << 20,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AttemptTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go spool.Run(runCtx)

	f := newFixture(t, "", nil)
	a, _, err := f.eng.Raise(ctx, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	if err != nil {
		t.Fatal(err)
	}
	snap := []byte("\xff\xd8 jpeg with boxes \xff\xd9")
	if _, a, err = f.eng.StoreEvidence(ctx, spool, a.ID, alerts.SnapshotEvidence, snap, a.FirstSeen, a.FirstSeen); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	clip, err := os.ReadFile("/usr/share/doc/opencv-doc/examples/data/vtest.avi") // real video bytes stand in for the MP4
	if err != nil {
		clip = bytes.Repeat([]byte("mp4 box "), 1<<17)
	}
	clip = clip[:min(len(clip), 4<<20)]
	start := a.FirstSeen.Add(-5 * time.Second)
	info, a, err := f.eng.StoreEvidence(ctx, spool, a.ID, alerts.ClipEvidence, clip, start, start.Add(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Pending || a.Evidence.Clip != info.Key || a.Evidence.Snapshot == "" {
		t.Fatalf("clip while MinIO is down: %+v, alert evidence %+v", info, a.Evidence)
	}
	if !a.Evidence.ClipStart.Equal(start) || !a.Evidence.ClipEnd.Equal(start.Add(15*time.Second)) {
		t.Fatalf("clip covers %v..%v, want the times it was stored with", a.Evidence.ClipStart, a.Evidence.ClipEnd)
	}
	if _, err := spool.PresignGet(ctx, info.Key, time.Minute); !errors.Is(err, objstore.ErrPending) {
		t.Fatalf("link before upload: %v", err)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := spool.WaitEmpty(wctx); err != nil {
		t.Fatal(err)
	}
	st, err := remote.Stat(ctx, info.Key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Meta.AlertID != a.ID || st.Meta.Camera != "cam-elm" || !st.Meta.Start.Equal(start) || st.ContentType != "video/mp4" {
		t.Fatalf("clip metadata %+v", st)
	}
	link, err := spool.PresignGet(ctx, info.Key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, clip) {
		t.Fatalf("presigned clip: %d, %d bytes", resp.StatusCode, len(got))
	}
	n := 0
	for _, err := range remote.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("bucket holds %d objects, want 2 (snapshot and clip)", n)
	}
}

func TestCameraBackResolvesOffline(t *testing.T) {
	f := newFixture(t, "", nil)
	ctx := t.Context()
	a, _, _ := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camElm, Detail: "no frames for 30 s"})
	other, _, _ := f.eng.Raise(ctx, alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camOak})
	if n, err := f.eng.CameraBack(ctx, "cam-elm", f.clock.Now()); err != nil || n != 1 {
		t.Fatalf("camera back: %d %v", n, err)
	}
	if a, _ = f.eng.Alert(ctx, a.ID); a.Status != alerts.Resolved || a.Closed.By != alerts.System {
		t.Fatalf("offline alert after the camera came back: %s %+v", a.Status, a.Closed)
	}
	if other, _ = f.eng.Alert(ctx, other.ID); other.Status != alerts.Open {
		t.Fatal("another camera's alert was resolved")
	}
}
