package server_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"snowlight/auth"
	"snowlight/internal/shareddata"
	"snowlight/objstore"
	"snowlight/objstore/miniotest"
	"snowlight/web"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMinIOOutage takes MinIO away while alerts happen: the alerts still reach the console stream while
// it is down, their snapshots and clips wait in the local spool (the API says "pending"), and once MinIO
// is back every one of them is uploaded: one clip and one snapshot object per alert in the bucket, none
// lost, none twice, the spool empty. The outage lasts 15 s (60 s with SNOWLIGHT_LONG=1).
func TestMinIOOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: plays a rendered scene in real time through the whole product")
	}
	outage := 15 * time.Second
	if long() {
		outage = 60 * time.Second
	}
	models := shareddata.Dir(t, "SNOWLIGHT_MODELS", "models")
	r := scene(t, "alerts")
	m := miniotest.Start(t)
	in := newInbox(t)
	f := startFeed(t, r, feedOptions{})
	d := deployment{listen: "127.0.0.1:0", dataDir: t.TempDir(), models: models, feed: f, cameras: []string{"gate"}, fps: 2,
		minio: m, bucket: "evidence", inbox: in, cooldown: 5 * time.Second, pre: 3 * time.Second, post: 4 * time.Second,
		offline: 10 * time.Minute}
	p := startProduct(t, d.config(t, r.Truth), r.Truth)
	op := login(t, p.base, p.users[auth.Operator])
	admin := login(t, p.base, p.users[auth.Admin])
	st := op.stream(t)

	// MinIO goes away before the first alert.
	m.Stop()
	down := time.Now()
	var during []web.AlertView
	spooled := false
	for time.Since(down) < outage || !spooled {
		require.LessOrEqual(t, time.Since(down), outage+90*time.Second, "no alert with spooled evidence since MinIO went down (alerts: %d)", len(during))
		select {
		case ev := <-st.events:
			if ev.typ != "alert" {
				continue
			}
			require.Equal(t, "biden", ev.alert.PersonID, "unexpected alert: %+v", ev.alert)
			during = append(during, ev.alert)
			t.Logf("alert %s on the stream %v after MinIO went down", ev.alert.ID, ev.at.Sub(down).Round(time.Millisecond))
		case err := <-st.err:
			require.NoError(t, err)
		case <-time.After(500 * time.Millisecond):
		}
		for _, a := range during {
			var det web.AlertDetail
			op.getJSON(t, "/api/v1/alerts/"+a.ID, &det)
			if det.Clip.Pending && det.Clip.State == web.ClipPreparing && det.Snapshot.Pending && det.Snapshot.URL == "" {
				spooled = true
			}
		}
	}
	require.False(t, m.Running(), "MinIO came back by itself")
	assert.GreaterOrEqual(t, metric(t, admin, "snowlight_objstore_spool_objects"), 2.0, "objects in the spool while MinIO is down, want at least a clip and a snapshot")
	require.NoError(t, m.Start())
	t.Logf("MinIO back after %v; %d alerts meanwhile", time.Since(down).Round(time.Second), len(during))

	// Every alert raised during the outage gets its evidence once MinIO is back.
	for _, a := range during {
		waitEvidence(t, op, a.ID, 60*time.Second)
	}
	// Stop the cameras so the set of alerts is final, let evidence in flight land, then compare the
	// alerts with the bucket.
	f.sim.Close()
	time.Sleep(6 * time.Second)
	var list struct{ Alerts []web.AlertView }
	op.getJSON(t, "/api/v1/alerts", &list)
	for _, a := range list.Alerts {
		waitEvidence(t, op, a.ID, 60*time.Second)
	}
	deadline := time.Now().Add(60 * time.Second)
	for metric(t, admin, "snowlight_objstore_spool_objects") != 0 {
		require.False(t, time.Now().After(deadline), "spool still holds %v objects a minute after MinIO came back", metric(t, admin, "snowlight_objstore_spool_objects"))
		time.Sleep(500 * time.Millisecond)
	}
	ents, err := os.ReadDir(filepath.Join(d.dataDir, "spool"))
	assert.NoError(t, err, "the spool directory after the upload")
	assert.Zero(t, countFiles(t, filepath.Join(d.dataDir, "spool")), "files in the spool directory after the upload (%d entries)", len(ents))
	bucket, err := objstore.OpenMinIO(context.Background(), m.Config("evidence"))
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, a := range list.Alerts {
		ids[a.ID] = true
	}
	for _, kind := range []string{"clip/", "snapshot/"} {
		per := map[string]int{}
		for info, err := range bucket.List(context.Background(), kind) {
			require.NoError(t, err)
			assert.True(t, ids[info.Meta.AlertID], "bucket object %s belongs to no alert (%q)", info.Key, info.Meta.AlertID)
			per[info.Meta.AlertID]++
		}
		for id := range ids {
			assert.Equal(t, 1, per[id], "alert %s's %s objects in the bucket; its log:\n%s", id, kind, grepLines(p.logs.String(), id))
		}
	}
	// The clip of an alert raised while MinIO was down is a whole, playable MP4.
	var det web.AlertDetail
	op.getJSON(t, "/api/v1/alerts/"+during[0].ID, &det)
	pr := ffprobe(t, download(t, det.Clip.URL))
	assert.True(t, pr.firstKey, "the clip spooled during the outage starts with a key frame: %+v", pr)
	assert.GreaterOrEqual(t, pr.duration, 3*time.Second, "the clip spooled during the outage: %+v", pr)
	assert.GreaterOrEqual(t, metric(t, admin, `snowlight_objstore_uploads_total{result="ok"}`), 2.0, "uploads after the outage")
	t.Logf("%d alerts, each with one clip and one snapshot in the bucket", len(list.Alerts))
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// waitEvidence waits until an alert's clip and snapshot are readable from the object store.
func waitEvidence(t *testing.T, op *client, id string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var det web.AlertDetail
		op.getJSON(t, "/api/v1/alerts/"+id, &det)
		if det.Clip.State == web.ClipReady && det.Clip.URL != "" && det.Snapshot.URL != "" {
			return
		}
		require.False(t, time.Now().After(deadline), "alert %s: clip %+v snapshot %+v after %v", id, det.Clip, det.Snapshot, limit)
		time.Sleep(500 * time.Millisecond)
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// metric reads one sample of the server's /metrics (an admin's to read) by its name with labels,
// e.g. `snowlight_objstore_uploads_total{result="ok"}`; 0 when absent.
func metric(t testing.TB, admin *client, name string) float64 {
	t.Helper()
	status, body := admin.do(t, "GET", "/metrics", "")
	require.Equal(t, http.StatusOK, status, "GET /metrics: %s", body)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(t, err, "metric %s", name)
			return f
		}
	}
	return 0
}

// TestKilledBetweenAlertAndDelivery runs `snowlight serve` as a separate process, with its accounts
// and watch list made by `snowlight user add` and `snowlight enroll`. An alert is confirmed and
// dispatched; the guardian's and the patrol unit's apps hold the webhooks without answering, and the
// process is killed with SIGKILL. Restarted on the same data directory, it delivers both again with
// the same idempotency keys: each receiver acts on each notification exactly once, and the alert is
// there with its history.
func TestKilledBetweenAlertAndDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the snowlight binary on a rendered scene")
	}
	models := shareddata.Dir(t, "SNOWLIGHT_MODELS", "models")
	r := scene(t, "alerts")
	bin := buildSnowlight(t)
	in := newInbox(t)
	f := startFeed(t, r, feedOptions{})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o750))
	db := filepath.Join(data, "snowlight.db")
	pw, err := auth.RandomPassword()
	require.NoError(t, err)
	pwFile := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(pw+"\n"), 0o600))
	runCLI(t, bin, "user", "add", "--db", db, "--name", "duty-op", "--role", "operator", "--cameras", "*", "--password-file", pwFile)
	biden := r.Truth.Person("biden")
	out := runCLI(t, bin, append([]string{"enroll", "--db", db, "--name", biden.Name, "--category", "at_risk",
		"--legal-basis", "missing-person report 2024-117", "--approved-by", "duty judge", "--models", models}, biden.Enrol...)...)
	id, _, _ := strings.Cut(out, "\t")
	require.NotEmpty(t, id, "enroll printed no id: %q", out)

	d := deployment{listen: freeAddr(t), dataDir: data, models: models, feed: f, cameras: []string{"gate"}, fps: 2,
		inbox: in, ids: map[string]string{"biden": id}, ack: 10 * time.Minute, pre: 3 * time.Second, post: 4 * time.Second,
		behave: map[string]behaviour{"guardian/biden": {holdFirst: 1}, "patrol/p-near": {holdFirst: 1}}}
	cfgPath := filepath.Join(dir, "snowlight.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(d.yaml(r.Truth)), 0o600))
	base := "http://" + d.listen

	first := startServe(t, bin, cfgPath, base)
	op := login(t, base, account{"duty-op", pw})
	st := op.stream(t)
	ev := st.next(t, "an alert", 90*time.Second, func(ev streamEvent) bool { return ev.typ == "alert" })
	require.Equal(t, id, ev.alert.PersonID, "unexpected alert %+v", ev.alert)
	alertID := ev.alert.ID
	op.act(t, alertID, "confirm", "")
	require.Equal(t, "p-near", op.act(t, alertID, "dispatch", "").Patrol, "the unit dispatched")
	// Both apps have the request in hand and have not answered: now the process dies.
	held := map[string]delivery{}
	for len(held) < 2 {
		select {
		case dl := <-in.held:
			held[dl.receiver] = dl
		case <-time.After(30 * time.Second):
			require.Fail(t, "webhooks not held within 30 s", "held so far: %v; want the guardian's and p-near's", held)
		}
	}
	first.kill(t)
	in.releaseAll()
	t.Logf("killed the server holding %s (%s) and %s (%s)", held["guardian/biden"].key, held["guardian/biden"].topic,
		held["patrol/p-near"].key, held["patrol/p-near"].topic)

	startServe(t, bin, cfgPath, base)
	for rc, h := range held {
		in.waitFor(t, rc+" to be delivered again after the restart", 60*time.Second, func() bool {
			n := 0
			for _, dl := range in.deliveries(rc) {
				if dl.key == h.key && dl.status == http.StatusNoContent {
					n++
				}
			}
			return n >= 2
		})
	}
	time.Sleep(3 * time.Second) // room for a duplicate to show itself
	assert.Equal(t, []string{held["guardian/biden"].key}, in.keys("guardian/biden", "guardian.notice"), "guardian notices by key")
	assert.Equal(t, []string{held["patrol/p-near"].key}, in.keys("patrol/p-near", "dispatch.request"), "dispatch requests to p-near by key")
	in.check(t)
	op = login(t, base, account{"duty-op", pw})
	var det web.AlertDetail
	op.getJSON(t, "/api/v1/alerts/"+alertID, &det)
	// The evidence step lands whenever the clip is cut, before or after the confirmation: only the
	// lifecycle's own steps have an order to check.
	var acts []string
	for _, h := range det.History {
		if h.Action != "evidence" {
			acts = append(acts, h.Action)
		}
	}
	assert.Equal(t, "dispatched", det.Status, "after the restart: alert %s's status", alertID)
	assert.Equal(t, "p-near", det.Patrol, "after the restart: alert %s's patrol", alertID)
	assert.Contains(t, strings.Join(acts, " "), "raised confirmed dispatched", "after the restart: alert %s's history", alertID)
	var list struct{ Alerts []web.AlertView }
	op.getJSON(t, "/api/v1/alerts", &list)
	assert.Len(t, list.Alerts, 1, "alerts after the restart, want the one (later sightings fold into it)")
	t.Logf("webhooks:\n%s", in.summary())
}

// buildSnowlight builds the snowlight command into the test's temporary directory.
func buildSnowlight(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "snowlight")
	cmd := exec.Command("go", "build", "-o", bin, "snowlight/cmd/snowlight")
	cmd.Dir = shareddata.RepoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build\n%s", out)
	return bin
}

// runCLI runs a snowlight subcommand and returns its standard output.
func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "snowlight %s\n%s", args[0], stderr.String())
	return string(out)
}

// serveProcess is a running `snowlight serve`.
type serveProcess struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// startServe starts `snowlight serve --config cfg` and waits until base answers /healthz. The process
// is stopped (SIGTERM, then SIGKILL) when the test ends.
func startServe(t *testing.T, bin, cfg, base string) *serveProcess {
	t.Helper()
	p := &serveProcess{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.Env = append(os.Environ(), "SNOWLIGHT_LOG=debug")
	// Dies with the test binary if that is killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				assert.Fail(t, "snowlight serve did not stop within 30 s of SIGTERM")
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("snowlight serve (pid %d) log:\n%s", p.cmd.Process.Pid, tail(p.logs.String(), 6000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			require.FailNow(t, "snowlight serve exited", "%v\n%s", p.cmd.ProcessState, tail(p.logs.String(), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		require.False(t, time.Now().After(deadline), "snowlight serve not healthy within a minute:\n%s", tail(p.logs.String(), 4000))
	}
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would.
func (p *serveProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok, "snowlight serve ended with %v", p.cmd.ProcessState)
	require.Equal(t, syscall.SIGKILL, ws.Signal(), "snowlight serve ended with %v, not by SIGKILL", p.cmd.ProcessState)
}
