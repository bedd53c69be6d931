package server_test

import (
	"bytes"
	"cmp"
	"context"
	"image/jpeg"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/geo"
	"snowlight/internal/shareddata"
	"snowlight/objstore"
	"snowlight/objstore/miniotest"
	"snowlight/testvideos"
	"snowlight/watchlist"
	"snowlight/web"
)

// TestEndToEnd follows one alert through the whole product on real parts: the rendered "alerts" scene
// played by camsim over RTSP, the server with its models and MinIO as the object store, an operator
// logged in through the API reading the live alert stream, and webhook receivers verifying signatures.
// An at-risk man is seen outside his safe zone; the alert reaches the stream; its clip (pre-roll +
// post-roll, remuxed, starting at a keyframe) and snapshot land in MinIO; the operator confirms it and
// his guardian is told once; the nearest unit by the scene's geometry is dispatched and, since nobody
// acknowledges, the next units and then the supervisors up the grid are asked in turn. The district
// supervisor's app fails twice before it answers: the notification is retried and acted on once.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: plays a rendered scene in real time through the whole product")
	}
	models := shareddata.Dir(t, "SNOWLIGHT_MODELS", "models")
	r := scene(t, "alerts")
	m := miniotest.Start(t)
	in := newInbox(t)
	f := startFeed(t, r, feedOptions{})
	const pre, post = 4 * time.Second, 6 * time.Second
	d := deployment{listen: "127.0.0.1:0", dataDir: t.TempDir(), models: models, feed: f, cameras: []string{"gate"}, fps: 2,
		minio: m, bucket: "evidence", inbox: in,
		behave: map[string]behaviour{"supervisor/district-1": {failFirst: 2}},
		// Each crossing opens its own alert (a crossing is shorter than the cooldown, the gap longer),
		// so the test can pick one whose pre-roll the ring holds.
		cooldown: 5 * time.Second, ack: 2 * time.Second, pre: pre, post: post}
	p := startProduct(t, d.config(t, r.Truth), r.Truth)
	op := login(t, p.base, p.users[auth.Operator])
	st := op.stream(t)

	// 1. The alert arrives on the stream. Only the at-risk man may ever be named.
	var chosen web.AlertView
	var detail web.AlertDetail
	for chosen.ID == "" {
		ev := st.next(t, "a new alert", 90*time.Second, func(ev streamEvent) bool { return ev.typ == "alert" })
		a := ev.alert
		require.Equal(t, "biden", a.PersonID, "unexpected alert: %+v", a)
		require.Equal(t, "safe_zone_exit", a.Rule, "unexpected alert: %+v", a)
		require.Equal(t, "gate", a.Camera, "unexpected alert: %+v", a)
		// An open biometric at-risk alert with its score over the threshold.
		assert.True(t, a.Biometric, "safe-zone exit alert: %+v", a)
		assert.Equal(t, "open", a.Status, "safe-zone exit alert: %+v", a)
		assert.Equal(t, watchlist.AtRisk, a.Category, "safe-zone exit alert: %+v", a)
		assert.GreaterOrEqual(t, a.Score, a.Threshold, "safe-zone exit alert: %+v", a)
		assert.NotZero(t, a.Score, "safe-zone exit alert: %+v", a)
		op.getJSON(t, "/api/v1/alerts/"+a.ID, &detail)
		require.NotEmpty(t, detail.Sightings, "alert %s carries no sighting", a.ID)
		enter := slices.MinFunc(detail.Sightings, func(x, y web.SightingView) int { return x.Enter.Compare(y.Enter) }).Enter
		ring := cameras(p.srv)[0].Ring
		// The clip starts at the keyframe at or before first-seen minus the pre-roll: the ring must
		// reach back that far, with a GOP (1 s) to spare.
		if enter.Sub(ring.Oldest) >= pre+time.Second {
			chosen = a
		} else {
			t.Logf("alert %s: its pre-roll predates the camera's connection (seen %v after the ring's oldest picture); waiting for the next",
				a.ID, enter.Sub(ring.Oldest))
		}
	}
	t.Logf("alert %s: %s", chosen.ID, chosen.Title)

	// 2. Snapshot and clip in MinIO, through the API's links.
	deadline := time.Now().Add(post + 45*time.Second)
	for {
		op.getJSON(t, "/api/v1/alerts/"+chosen.ID, &detail)
		if detail.Clip.State == web.ClipReady && detail.Snapshot.URL != "" {
			break
		}
		require.Equal(t, web.ClipPreparing, detail.Clip.State, "clip of alert %s (snapshot %q)", chosen.ID, detail.Snapshot.URL)
		require.False(t, time.Now().After(deadline), "clip of alert %s: state %q, snapshot %q (want ready within the post-roll and a few seconds)",
			chosen.ID, detail.Clip.State, detail.Snapshot.URL)
		time.Sleep(250 * time.Millisecond)
	}
	prefix := "http://" + m.Endpoint + "/evidence/"
	assert.True(t, strings.HasPrefix(detail.Clip.URL, prefix+"clip/"), "clip link %s should be a presigned MinIO URL under %s", detail.Clip.URL, prefix)
	assert.True(t, strings.HasPrefix(detail.Snapshot.URL, prefix+"snapshot/"), "snapshot link %s should be a presigned MinIO URL under %s", detail.Snapshot.URL, prefix)
	mp4 := download(t, detail.Clip.URL)
	pr := ffprobe(t, mp4)
	// The camera's own h264 at 960 px, pre-roll + post-roll long within 1 s, from a keyframe.
	assert.Equal(t, "h264", pr.codec, "clip codec")
	assert.Equal(t, 960, pr.width, "clip width")
	assert.InDelta(t, pre+post, pr.duration, float64(time.Second), "clip length (%v)", pr.duration)
	assert.True(t, pr.firstKey, "clip's first frame is a keyframe")
	assert.Equal(t, "I", pr.firstType, "clip's first frame's picture type")
	snap := download(t, detail.Snapshot.URL)
	if c, err := jpeg.DecodeConfig(bytes.NewReader(snap)); assert.NoError(t, err, "snapshot: want a 960x540 JPEG") {
		assert.Equal(t, 960, c.Width, "snapshot width")
		assert.Equal(t, 540, c.Height, "snapshot height")
	}
	t.Logf("clip %d bytes, %v, %d frames; snapshot %d bytes", len(mp4), pr.duration, pr.frameCount, len(snap))

	// The bucket itself: one clip and one snapshot object for the alert, linked by metadata.
	bucket, err := objstore.OpenMinIO(context.Background(), m.Config("evidence"))
	require.NoError(t, err)
	for _, kind := range []string{"clip/", "snapshot/"} {
		var mine []objstore.Info
		for info, err := range bucket.List(context.Background(), kind) {
			require.NoError(t, err)
			if info.Meta.AlertID == chosen.ID {
				mine = append(mine, info)
			}
		}
		if !assert.Len(t, mine, 1, "bucket objects %s* of alert %s", kind, chosen.ID) {
			continue
		}
		// Linked to camera gate with its times.
		assert.Equal(t, "gate", mine[0].Meta.Camera, "bucket object %s* of alert %s: %+v", kind, chosen.ID, mine[0])
		assert.False(t, mine[0].Meta.Start.IsZero(), "bucket object %s* of alert %s: %+v", kind, chosen.ID, mine[0])
		if kind == "clip/" {
			assert.Equal(t, int64(len(mp4)), mine[0].Size, "bytes of the clip in the bucket, against what the link served")
		}
	}

	// 3. Confirmation: the guardian hears of it, once.
	require.Equal(t, "confirmed", op.act(t, chosen.ID, "confirm", "").Status, "status after confirm")
	st.next(t, "the confirmation on the stream", 10*time.Second, func(ev streamEvent) bool {
		return ev.alert.ID == chosen.ID && ev.alert.Status == "confirmed"
	})
	in.waitFor(t, "the guardian's notice", 15*time.Second, func() bool { return len(in.keys("guardian/biden", "guardian.notice")) == 1 })
	g := in.deliveries("guardian/biden")[0]
	// The alert, the person, where and when.
	assert.Equal(t, chosen.ID, g.notice.AlertID, "guardian notice: %+v", g.notice)
	if assert.NotNil(t, g.notice.Person, "guardian notice: %+v", g.notice) {
		assert.Equal(t, "biden", g.notice.Person.ID, "guardian notice: %+v", g.notice)
	}
	assert.Equal(t, "gate", g.notice.Where.Camera, "guardian notice: %+v", g.notice)
	assert.False(t, g.notice.When.IsZero(), "guardian notice: %+v", g.notice)

	// 4. Dispatch: the nearest available unit by great-circle distance from the camera.
	cam := r.Truth.Camera("gate").Position
	units := slices.Clone(r.Truth.Patrols)
	dist := func(p testvideos.PatrolSpec) float64 {
		return geo.Distance(*cam, p.Position)
	}
	slices.SortFunc(units, func(a, b testvideos.PatrolSpec) int { return cmp.Compare(dist(a), dist(b)) })
	v := op.act(t, chosen.ID, "dispatch", "")
	require.Equal(t, "dispatched", v.Status, "status after dispatch")
	require.Equal(t, units[0].ID, v.Patrol, "dispatched unit: want the nearest, %s (%.0f m away; next %s at %.0f m)",
		units[0].ID, dist(units[0]), units[1].ID, dist(units[1]))

	// 5. Nobody acknowledges: each unit in order of distance is asked, then the supervisors from the
	// camera's district up to the city.
	var chain []string
	for _, u := range units {
		chain = append(chain, "patrol/"+u.ID)
	}
	chain = append(chain, "supervisor/district-1", "supervisor/city")
	in.waitFor(t, "the dispatch to go up the whole chain", 60*time.Second, func() bool {
		for _, rc := range chain {
			if len(in.keys(rc, "")) == 0 {
				return false
			}
		}
		return true
	})
	var prev time.Time
	for i, rc := range chain {
		ds := in.deliveries(rc)
		first := ds[0]
		topic := "dispatch.request"
		if strings.HasPrefix(rc, "supervisor/") {
			topic = "dispatch.escalation"
		}
		// The alert's dispatch step, with the target and its deadline.
		assert.Equal(t, topic, first.topic, "%s: first webhook %+v", rc, first.notice)
		assert.Equal(t, chosen.ID, first.notice.AlertID, "%s: first webhook %s %+v", rc, first.topic, first.notice)
		assert.NotNil(t, first.notice.Target, "%s: first webhook %s %+v", rc, first.topic, first.notice)
		assert.False(t, first.notice.AckDeadline.IsZero(), "%s: first webhook %s %+v", rc, first.topic, first.notice)
		if i > 0 {
			assert.True(t, first.at.After(prev), "%s was asked at %s, not after the previous target (%s)", rc, first.at.Format("15:04:05.000"), prev.Format("15:04:05.000"))
		}
		prev = first.at
	}
	// The district supervisor's app failed twice, then took the same notification.
	ds := in.deliveries("supervisor/district-1")
	// 503, 503, then 204 for one key over attempts 1-3.
	if sum := in.summary(); assert.GreaterOrEqual(t, len(ds), 3, "supervisor/district-1 deliveries:\n%s", sum) {
		assert.Equal(t, []int{503, 503, 204}, []int{ds[0].status, ds[1].status, ds[2].status}, "supervisor/district-1 answers:\n%s", sum)
		assert.Equal(t, ds[0].key, ds[2].key, "supervisor/district-1 keys of the first and the answered attempt:\n%s", sum)
		assert.Equal(t, "1", ds[0].attempt, "supervisor/district-1 first attempt:\n%s", sum)
		assert.Equal(t, "3", ds[2].attempt, "supervisor/district-1 answered attempt:\n%s", sum)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		op.getJSON(t, "/api/v1/alerts/"+chosen.ID, &detail)
		if slices.ContainsFunc(detail.History, func(h web.AlertHistory) bool { return h.Action == "escalation_exhausted" }) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	assert.Empty(t, detail.Patrol, "after escalating past every unit the alert shows a patrol unit; the supervisors are not units")
	var acts []string
	for _, h := range detail.History {
		acts = append(acts, h.Action)
	}
	want := []string{"raised", "confirmed", "dispatched", "escalated", "escalated", "escalated", "escalated", "escalation_exhausted"}
	got := slices.DeleteFunc(slices.Clone(acts), func(a string) bool { return a == "evidence" || a == "sighted" })
	assert.Equal(t, want, got, "alert history %v (plus evidence)", acts)

	// 6. Exactly once: one guardian notice in all (no other alert was confirmed), every key acted on
	// once, every signature valid; and nobody but the at-risk man was named.
	assert.Len(t, in.deliveries("guardian/biden"), 1, "guardian webhooks:\n%s", in.summary())
	in.check(t)
	var list struct{ Alerts []web.AlertView }
	op.getJSON(t, "/api/v1/alerts", &list)
	all := list.Alerts
	for _, a := range all {
		assert.Equal(t, "biden", a.PersonID, "alert about someone else: %+v", a)
	}
	t.Logf("%d alerts in all; webhooks:\n%s", len(all), in.summary())
}
