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

	"snowlight/auth"
	"snowlight/geo"
	"snowlight/internal/shareddata"
	"snowlight/objstore"
	"snowlight/objstore/miniotest"
	"snowlight/testvideos"
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
		if a.PersonID != "biden" || a.Rule != "safe_zone_exit" || a.Camera != "gate" {
			t.Fatalf("unexpected alert: %+v", a)
		}
		if !a.Biometric || a.Status != "open" || a.Category != "at_risk" || a.Score < a.Threshold || a.Score == 0 {
			t.Errorf("safe-zone exit alert: want an open biometric at-risk alert with its score over the threshold, got %+v", a)
		}
		op.getJSON(t, "/api/v1/alerts/"+a.ID, &detail)
		if len(detail.Sightings) == 0 {
			t.Fatalf("alert %s carries no sighting", a.ID)
		}
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
		if detail.Clip.State != web.ClipPreparing || time.Now().After(deadline) {
			t.Fatalf("clip of alert %s: state %q, snapshot %q (want ready within the post-roll and a few seconds)", chosen.ID, detail.Clip.State, detail.Snapshot.URL)
		}
		time.Sleep(250 * time.Millisecond)
	}
	prefix := "http://" + m.Endpoint + "/evidence/"
	if !strings.HasPrefix(detail.Clip.URL, prefix+"clip/") || !strings.HasPrefix(detail.Snapshot.URL, prefix+"snapshot/") {
		t.Errorf("evidence links should be presigned MinIO URLs under %s: clip %s, snapshot %s", prefix, detail.Clip.URL, detail.Snapshot.URL)
	}
	mp4 := download(t, detail.Clip.URL)
	pr := ffprobe(t, mp4)
	if pr.codec != "h264" || pr.width != 960 {
		t.Errorf("clip: codec %s width %d, want the camera's own h264 at 960 px", pr.codec, pr.width)
	}
	if diff := pr.duration - (pre + post); diff < -time.Second || diff > time.Second {
		t.Errorf("clip lasts %v, want pre-roll + post-roll = %v within 1 s", pr.duration, pre+post)
	}
	if !pr.firstKey || pr.firstType != "I" {
		t.Errorf("clip's first frame: key_frame %v pict_type %s, want a keyframe", pr.firstKey, pr.firstType)
	}
	snap := download(t, detail.Snapshot.URL)
	if c, err := jpeg.DecodeConfig(bytes.NewReader(snap)); err != nil || c.Width != 960 || c.Height != 540 {
		t.Errorf("snapshot: %v, %dx%d; want a 960x540 JPEG", err, c.Width, c.Height)
	}
	t.Logf("clip %d bytes, %v, %d frames; snapshot %d bytes", len(mp4), pr.duration, pr.frameCount, len(snap))

	// The bucket itself: one clip and one snapshot object for the alert, linked by metadata.
	bucket, err := objstore.OpenMinIO(context.Background(), m.Config("evidence"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"clip/", "snapshot/"} {
		var mine []objstore.Info
		for info, err := range bucket.List(context.Background(), kind) {
			if err != nil {
				t.Fatal(err)
			}
			if info.Meta.AlertID == chosen.ID {
				mine = append(mine, info)
			}
		}
		if len(mine) != 1 || mine[0].Meta.Camera != "gate" || mine[0].Meta.Start.IsZero() {
			t.Errorf("bucket objects %s* of alert %s: %+v, want exactly one, linked to camera gate with its times", kind, chosen.ID, mine)
		}
		if kind == "clip/" && len(mine) == 1 && mine[0].Size != int64(len(mp4)) {
			t.Errorf("clip in the bucket is %d bytes, the link served %d", mine[0].Size, len(mp4))
		}
	}

	// 3. Confirmation: the guardian hears of it, once.
	if v := op.act(t, chosen.ID, "confirm", ""); v.Status != "confirmed" {
		t.Fatalf("after confirm: status %s", v.Status)
	}
	st.next(t, "the confirmation on the stream", 10*time.Second, func(ev streamEvent) bool {
		return ev.alert.ID == chosen.ID && ev.alert.Status == "confirmed"
	})
	in.waitFor(t, "the guardian's notice", 15*time.Second, func() bool { return len(in.keys("guardian/biden", "guardian.notice")) == 1 })
	g := in.deliveries("guardian/biden")[0]
	if g.notice.AlertID != chosen.ID || g.notice.Person == nil || g.notice.Person.ID != "biden" || g.notice.Where.Camera != "gate" || g.notice.When.IsZero() {
		t.Errorf("guardian notice: %+v, want the alert, the person, where and when", g.notice)
	}

	// 4. Dispatch: the nearest available unit by great-circle distance from the camera.
	cam := r.Truth.Camera("gate").Position
	units := slices.Clone(r.Truth.Patrols)
	dist := func(p testvideos.PatrolSpec) float64 {
		return geo.Distance(*cam, p.Position)
	}
	slices.SortFunc(units, func(a, b testvideos.PatrolSpec) int { return cmp.Compare(dist(a), dist(b)) })
	v := op.act(t, chosen.ID, "dispatch", "")
	if v.Status != "dispatched" || v.Patrol != units[0].ID {
		t.Fatalf("dispatch: status %s, unit %q; want dispatched to %s (%.0f m away; next %s at %.0f m)",
			v.Status, v.Patrol, units[0].ID, dist(units[0]), units[1].ID, dist(units[1]))
	}

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
		if first.topic != topic || first.notice.AlertID != chosen.ID || first.notice.Target == nil || first.notice.AckDeadline.IsZero() {
			t.Errorf("%s: first webhook %s %+v, want %s for alert %s with the target and its deadline", rc, first.topic, first.notice, topic, chosen.ID)
		}
		if i > 0 && !first.at.After(prev) {
			t.Errorf("%s was asked at %s, not after the previous target (%s)", rc, first.at.Format("15:04:05.000"), prev.Format("15:04:05.000"))
		}
		prev = first.at
	}
	// The district supervisor's app failed twice, then took the same notification.
	ds := in.deliveries("supervisor/district-1")
	if len(ds) < 3 || ds[0].status != 503 || ds[1].status != 503 || ds[2].status != 204 ||
		ds[0].key != ds[2].key || ds[0].attempt != "1" || ds[2].attempt != "3" {
		t.Errorf("supervisor/district-1 deliveries: want 503, 503, then 204 for one key over attempts 1-3; got\n%s", in.summary())
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		op.getJSON(t, "/api/v1/alerts/"+chosen.ID, &detail)
		if slices.ContainsFunc(detail.History, func(h web.AlertHistory) bool { return h.Action == "escalation_exhausted" }) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if detail.Patrol != "" {
		t.Errorf("after escalating past every unit the alert shows %q as its patrol unit; the supervisors are not units", detail.Patrol)
	}
	var acts []string
	for _, h := range detail.History {
		acts = append(acts, h.Action)
	}
	want := []string{"raised", "confirmed", "dispatched", "escalated", "escalated", "escalated", "escalated", "escalation_exhausted"}
	if got := slices.DeleteFunc(slices.Clone(acts), func(a string) bool { return a == "evidence" || a == "sighted" }); !slices.Equal(got, want) {
		t.Errorf("alert history %v, want %v (plus evidence)", acts, want)
	}

	// 6. Exactly once: one guardian notice in all (no other alert was confirmed), every key acted on
	// once, every signature valid; and nobody but the at-risk man was named.
	if gs := in.deliveries("guardian/biden"); len(gs) != 1 {
		t.Errorf("guardian received %d webhooks, want exactly 1:\n%s", len(gs), in.summary())
	}
	in.check(t)
	var list struct{ Alerts []web.AlertView }
	op.getJSON(t, "/api/v1/alerts", &list)
	all := list.Alerts
	for _, a := range all {
		if a.PersonID != "biden" {
			t.Errorf("alert about someone else: %+v", a)
		}
	}
	t.Logf("%d alerts in all; webhooks:\n%s", len(all), in.summary())
}
