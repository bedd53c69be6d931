package alerts_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	spool, err := objstore.NewSpool(remote, objstore.SpoolOptions{Dir: t.TempDir(), MaxBytes: 64 << 20,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AttemptTimeout: 5 * time.Second})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go spool.Run(runCtx)

	f := newFixture(t, "", nil)
	a := f.raise(t, f.hit(mia, camElm, f.clock.Now(), "s1", 0.7))
	snap := []byte("\xff\xd8 jpeg with boxes \xff\xd9")
	_, a, err = f.eng.StoreEvidence(ctx, spool, a.ID, alerts.SnapshotEvidence, snap, a.FirstSeen, a.FirstSeen)
	require.NoError(t, err)
	srv.Kill()
	clip, err := os.ReadFile("/usr/share/doc/opencv-doc/examples/data/vtest.avi") // real video bytes stand in for the MP4
	if err != nil {
		clip = bytes.Repeat([]byte("mp4 box "), 1<<17)
	}
	clip = clip[:min(len(clip), 4<<20)]
	start := a.FirstSeen.Add(-5 * time.Second)
	info, a, err := f.eng.StoreEvidence(ctx, spool, a.ID, alerts.ClipEvidence, clip, start, start.Add(15*time.Second))
	require.NoError(t, err)
	require.True(t, info.Pending, "clip while MinIO is down not held in the spool: %+v", info)
	assert.Equal(t, info.Key, a.Evidence.Clip, "alert evidence names the clip")
	assert.NotEmpty(t, a.Evidence.Snapshot, "alert evidence lost its snapshot")
	assert.WithinDuration(t, start, a.Evidence.ClipStart, 0, "clip start, want the time it was stored with")
	assert.WithinDuration(t, start.Add(15*time.Second), a.Evidence.ClipEnd, 0, "clip end, want the time it was stored with")
	_, err = spool.PresignGet(ctx, info.Key, time.Minute)
	assert.ErrorIs(t, err, objstore.ErrPending, "link before upload")

	require.NoError(t, srv.Start())
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, spool.WaitEmpty(wctx))
	st, err := remote.Stat(ctx, info.Key)
	require.NoError(t, err)
	assert.Equal(t, a.ID, st.Meta.AlertID, "clip metadata")
	assert.Equal(t, "cam-elm", st.Meta.Camera, "clip metadata")
	assert.WithinDuration(t, start, st.Meta.Start, 0, "clip metadata")
	assert.Equal(t, "video/mp4", st.ContentType, "clip metadata")
	link, err := spool.PresignGet(ctx, info.Key, time.Minute)
	require.NoError(t, err)
	resp, err := http.Get(link)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "presigned clip")
	assert.True(t, bytes.Equal(got, clip), "presigned clip: %d bytes, want the %d stored", len(got), len(clip))
	n := 0
	for _, err := range remote.List(ctx, "") {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 2, n, "objects in the bucket (snapshot and clip)")
}

func TestCameraBackResolvesOffline(t *testing.T) {
	f := newFixture(t, "", nil)
	ctx := t.Context()
	a := f.raise(t, alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camElm, Detail: "no frames for 30 s"})
	other := f.raise(t, alerts.Trigger{Kind: alerts.CameraOffline, At: f.clock.Now(), Place: camOak})
	n, err := f.eng.CameraBack(ctx, "cam-elm", f.clock.Now())
	require.NoError(t, err, "camera back")
	assert.Equal(t, 1, n, "alerts resolved by the camera coming back")
	a, err = f.eng.Alert(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, alerts.Resolved, a.Status, "offline alert after the camera came back")
	if assert.NotNil(t, a.Closed, "offline alert not closed") {
		assert.Equal(t, alerts.System, a.Closed.By, "offline alert closed by")
	}
	other, err = f.eng.Alert(ctx, other.ID)
	require.NoError(t, err)
	assert.Equal(t, alerts.Open, other.Status, "another camera's alert was resolved")
}
