package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/alerts/notify"
	"snowlight/auth"
	"snowlight/config"
	"snowlight/edge"
	"snowlight/geo"
	"snowlight/ingest"
	"snowlight/ingest/camsim"
	"snowlight/internal/shareddata"
	"snowlight/objstore/miniotest"
	"snowlight/server"
	"snowlight/testvideos"
	"snowlight/watchlist"
	"snowlight/web"
)

// The harness runs the real product against real parts: a rendered scenario played by camsim over
// RTSP, the whole server (or the snowlight binary) with its models, a real MinIO, webhook receivers that
// check signatures like the patrol and guardian apps do, and API clients that log in and read the live
// alert stream. Everything binds 127.0.0.1 and stops by t.Cleanup.

// scene renders a built-in scenario once (cached by spec hash, shared with other packages' tests).
func scene(t testing.TB, name string) *testvideos.Rendered {
	t.Helper()
	shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval") // the photos the scenario composites
	spec, err := testvideos.BuiltinScenario(name)
	require.NoError(t, err)
	r, err := testvideos.RenderCached(context.Background(), spec, "", testvideos.RenderOptions{})
	require.NoError(t, err)
	return r
}

// syncBuffer collects a server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// cameras reports the state of the product's cameras.
func cameras(srv *server.Server) []ingest.Status { return srv.Cameras().(*edge.Edge).Status() }

// tail is the end of a log, for failure messages.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// --- cameras ---

// feed is camsim playing a rendered scenario's cameras, with the time each picture left it.
type feed struct {
	sim   *camsim.Server
	truth *testvideos.Truth

	mu   sync.Mutex
	sent map[frameRef]time.Time
}

// frameRef is one picture of a camera's file in one play-through (frames numbered from 1 as in
// truth.json).
type frameRef struct {
	camera string
	loop   int
	frame  int
}

type feedOptions struct {
	user, pass string // required from RTSP clients when user is set
}

// startFeed serves the scenario's cameras (all when none named) on a free port.
func startFeed(t testing.TB, r *testvideos.Rendered, o feedOptions, cams ...string) *feed {
	t.Helper()
	if len(cams) == 0 {
		for _, c := range r.Truth.Cameras {
			cams = append(cams, c.ID)
		}
	}
	f := &feed{truth: r.Truth, sent: map[frameRef]time.Time{}}
	frames := map[string]int{}
	for _, c := range r.Truth.Cameras {
		frames[c.ID] = len(c.Frames)
	}
	f.sim = camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off", User: o.user, Pass: o.pass,
		Log: slog.New(slog.DiscardHandler),
		OnFrame: func(fs camsim.FrameSent) {
			n := frames[fs.Path]
			if n == 0 || fs.Index == 0 {
				return
			}
			at := time.Now()
			ref := frameRef{camera: fs.Path, loop: int(fs.Index-1) / n, frame: int(fs.Index-1)%n + 1}
			f.mu.Lock()
			f.sent[ref] = at
			f.mu.Unlock()
		}})
	for _, c := range cams {
		require.NoError(t, f.sim.AddFile(c, r.VideoPath(c)))
	}
	require.NoError(t, f.sim.Start(context.Background()))
	t.Cleanup(f.sim.Close)
	return f
}

// url is a camera's RTSP URL without credentials.
func (f *feed) url(camera string) string { return "rtsp://" + f.sim.Addr() + "/" + camera }

// sentAt is when a picture went out, if it did.
func (f *feed) sentAt(r frameRef) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.sent[r]
	return t, ok
}

// facePass is one walk of a person through a camera: the frame that first shows their whole face and
// the pass's frames.
type facePass struct {
	camera, person string
	walk           int
	first, last    int // the pass's first and last frame
	face           int // the first frame with the whole face in view
}

// facePasses lists every pass of an enrolled person in which their whole face is seen.
func facePasses(tr *testvideos.Truth) []facePass {
	var out []facePass
	for _, p := range tr.Passes {
		pt := tr.Person(p.Person)
		c := tr.Camera(p.Camera)
		if pt == nil || !pt.Enrolled || c == nil {
			continue
		}
		fp := facePass{camera: p.Camera, person: p.Person, walk: p.Walk, first: p.FirstFrame, last: p.LastFrame}
		for _, fr := range c.Frames {
			if fr.Frame < p.FirstFrame || fr.Frame > p.LastFrame || fp.face != 0 {
				continue
			}
			for _, o := range fr.Objects {
				// Whole face in view: the same definition as the pipeline's identity latency.
				if o.Walk == p.Walk && o.Face != nil && o.FaceVisible >= 0.95 {
					fp.face = fr.Frame
					break
				}
			}
		}
		if fp.face != 0 {
			out = append(out, fp)
		}
	}
	return out
}

// --- webhook receivers ---

// delivery is one webhook request a receiver got.
type delivery struct {
	receiver string // path, e.g. "patrol/p-near"
	key      string
	topic    string
	attempt  string
	at       time.Time
	status   int // what the receiver answered (0 while held)
	notice   alerts.Notice
}

// behaviour decides a receiver's answers.
type behaviour struct {
	failFirst int // answer 503 to the first failFirst requests
	holdFirst int // hold the first holdFirst requests until releaseAll (then answer 204)
}

// inbox stands in for the patrol, supervisor and guardian apps: it verifies every signature with
// notify.Verify and acts once per idempotency key, as the contract asks of receivers.
type inbox struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	secrets  map[string]string
	behave   map[string]behaviour
	arrived  map[string]int // requests per receiver so far
	got      []delivery
	acted    map[string]int // receiver + key -> times acted on (must stay 1)
	bad      []string       // refused requests: a test failure
	held     chan delivery
	release  chan struct{}
	released bool
	changed  chan struct{}
}

func newInbox(t testing.TB) *inbox {
	in := &inbox{t: t, secrets: map[string]string{}, behave: map[string]behaviour{}, acted: map[string]int{}, arrived: map[string]int{},
		held: make(chan delivery, 64), release: make(chan struct{}), changed: make(chan struct{}, 1)}
	in.srv = httptest.NewServer(in)
	t.Cleanup(func() {
		in.releaseAll()
		in.srv.Close()
	})
	return in
}

// receiver registers a receiver and returns its webhook URL and a fresh secret.
func (in *inbox) receiver(path string, b behaviour) (url, secret string) {
	buf := make([]byte, 24)
	rand.Read(buf)
	secret = hex.EncodeToString(buf)
	in.mu.Lock()
	in.secrets[path], in.behave[path] = secret, b
	in.mu.Unlock()
	return in.srv.URL + "/" + path, secret
}

func (in *inbox) releaseAll() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.released {
		in.released = true
		close(in.release)
	}
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	in.mu.Lock()
	secret, ok := in.secrets[path]
	b := in.behave[path]
	in.mu.Unlock()
	if !ok || err != nil {
		in.refuse(w, fmt.Sprintf("%s: unknown receiver or unreadable body (%v)", path, err))
		return
	}
	if err := notify.Verify([]byte(secret), body, r.Header.Get(notify.SignatureHeader), time.Now(), 5*time.Minute); err != nil {
		in.refuse(w, fmt.Sprintf("%s: bad signature: %v", path, err))
		return
	}
	d := delivery{receiver: path, key: r.Header.Get(notify.IdempotencyKeyHeader), topic: r.Header.Get(notify.TopicHeader),
		attempt: r.Header.Get("Snowlight-Attempt"), at: time.Now()}
	if err := json.Unmarshal(body, &d.notice); err != nil || d.key == "" {
		in.refuse(w, fmt.Sprintf("%s: no idempotency key or not a notice: %v", path, err))
		return
	}
	in.mu.Lock()
	n := in.arrived[path]
	in.arrived[path]++
	in.mu.Unlock()
	status := http.StatusNoContent
	if n < b.failFirst {
		status = http.StatusServiceUnavailable
	}
	if n < b.holdFirst {
		in.held <- d
		<-in.release // the sender may be dead by now: the answer goes nowhere
	}
	d.status = status
	in.mu.Lock()
	in.got = append(in.got, d)
	if status < 300 {
		// Act once per key: a repeat (a retry whose first answer was lost) is acknowledged again.
		if k := path + " " + d.key; in.acted[k] == 0 {
			in.acted[k] = 1
		}
	}
	in.mu.Unlock()
	select {
	case in.changed <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

func (in *inbox) refuse(w http.ResponseWriter, why string) {
	in.mu.Lock()
	in.bad = append(in.bad, why)
	in.mu.Unlock()
	http.Error(w, why, http.StatusUnauthorized)
}

// deliveries are the requests a receiver got (all receivers when empty), in order.
func (in *inbox) deliveries(receiver string) []delivery {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []delivery
	for _, d := range in.got {
		if receiver == "" || d.receiver == receiver {
			out = append(out, d)
		}
	}
	return out
}

// keys are the distinct idempotency keys a receiver answered 2xx to for a topic, in first-seen order.
func (in *inbox) keys(receiver, topic string) []string {
	var out []string
	for _, d := range in.deliveries(receiver) {
		if d.status < 300 && (topic == "" || d.topic == topic) && !slices.Contains(out, d.key) {
			out = append(out, d.key)
		}
	}
	return out
}

// waitFor waits until cond holds over the deliveries.
func (in *inbox) waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-in.changed:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			require.FailNow(t, "timed out waiting for "+what, "after %v; webhooks so far:\n%s", limit, in.summary())
		}
	}
}

func (in *inbox) summary() string {
	var b strings.Builder
	for _, d := range in.deliveries("") {
		fmt.Fprintf(&b, "  %s %s %s key=%s attempt=%s -> %d\n", d.at.Format("15:04:05.000"), d.receiver, d.topic, d.key, d.attempt, d.status)
	}
	in.mu.Lock()
	for _, s := range in.bad {
		fmt.Fprintf(&b, "  REFUSED: %s\n", s)
	}
	in.mu.Unlock()
	return b.String()
}

// check fails the test for refused requests and for keys acted on more than once.
func (in *inbox) check(t testing.TB) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	assert.Empty(t, in.bad, "webhooks refused")
	for k, n := range in.acted {
		assert.Equal(t, 1, n, "times webhook %s was acted on", k)
	}
}

// --- configuration ---

// deployment describes the configuration a test runs: the scenario's cameras, patrols and guardians,
// every notification going to the inbox.
type deployment struct {
	listen, dataDir, models string
	feed                    *feed
	cameras                 []string
	fps                     float64
	// camera credentials: user and password put into each camera's URL (the config moves them out)
	user, pass string
	// passFor overrides the password per camera
	passFor map[string]string
	minio   *miniotest.Server
	bucket  string
	inbox   *inbox
	// behaviours of receivers by path ("patrol/<id>", "supervisor/<area>", "guardian/<person>")
	behave map[string]behaviour
	// ids maps the scenario's person ids to watch-list ids when they differ (enrolled by the CLI)
	ids                               map[string]string
	cooldown, ack, pre, post, offline time.Duration
	extra                             string // appended YAML
}

// yaml renders the deployment as a configuration file.
func (d deployment) yaml(tr *testvideos.Truth) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %q\ndata_dir: %q\nmodels: %q\n", d.listen, d.dataDir, d.models)
	if d.minio != nil {
		fmt.Fprintf(&b, "storage:\n  kind: minio\n  minio: {endpoint: %q, bucket: %q, access_key: %q, secret_key: %q}\n",
			d.minio.Endpoint, d.bucket, d.minio.AccessKey, d.minio.SecretKey)
	}
	recv := func(path string) string {
		url, secret := d.inbox.receiver(path, d.behave[path])
		return fmt.Sprintf("webhook: %q, secret: %q", url, secret)
	}
	b.WriteString("areas:\n")
	fmt.Fprintf(&b, "  - {id: city, name: City command centre, level: city, supervisor: {name: duty officer, %s}}\n", recv("supervisor/city"))
	areas := []string{}
	for _, p := range tr.Patrols {
		if p.Area != "" && !slices.Contains(areas, p.Area) {
			areas = append(areas, p.Area)
		}
	}
	slices.Sort(areas)
	for _, a := range areas {
		fmt.Fprintf(&b, "  - {id: %q, level: district, parent: city, supervisor: {name: %q, %s}}\n", a, a+" supervisor", recv("supervisor/"+a))
	}
	b.WriteString("cameras:\n")
	for _, id := range d.cameras {
		c := tr.Camera(id)
		url := d.feed.url(id)
		if d.user != "" {
			pass := d.pass
			if p, ok := d.passFor[id]; ok {
				pass = p
			}
			url = strings.Replace(url, "rtsp://", "rtsp://"+d.user+":"+pass+"@", 1)
		}
		fmt.Fprintf(&b, "  - id: %q\n    name: %q\n    url: %q\n    detect_fps: %g\n    area: district-1\n", id, "Camera "+id, url, d.fps)
		if c != nil && c.Position != nil {
			fmt.Fprintf(&b, "    position: {lat: %.7f, lon: %.7f}\n", c.Position.Lat, c.Position.Lon)
		}
	}
	b.WriteString("patrols:\n")
	for _, p := range tr.Patrols {
		fmt.Fprintf(&b, "  - {id: %q, name: %q, area: %q, position: {lat: %.7f, lon: %.7f}, receiver: {%s}}\n",
			p.ID, "Unit "+p.ID, p.Area, p.Position.Lat, p.Position.Lon, recv("patrol/"+p.ID))
	}
	var guardians []string
	for _, p := range tr.Persons {
		if cat, err := watchlist.ParseCategory(p.Category); p.Enrolled && err == nil && cat == watchlist.AtRisk {
			id := p.ID
			if alt, ok := d.ids[p.ID]; ok {
				id = alt
			}
			guardians = append(guardians, fmt.Sprintf("  - {id: %q, name: %q, persons: [%q], receiver: {%s}}\n",
				"guardian-"+p.ID, "family of "+p.Name, id, recv("guardian/"+p.ID)))
		}
	}
	if len(guardians) > 0 {
		b.WriteString("guardians:\n" + strings.Join(guardians, ""))
	}
	fmt.Fprintf(&b, "alerts: {cooldown: %s, ack_timeout: %s, pre_roll: %s, post_roll: %s, offline_after: %s}\n",
		or(d.cooldown, 10*time.Minute), or(d.ack, time.Minute), or(d.pre, 5*time.Second), or(d.post, 10*time.Second),
		or(d.offline, 30*time.Second))
	b.WriteString(d.extra)
	return b.String()
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (d deployment) config(t testing.TB, tr *testvideos.Truth) *config.Config {
	t.Helper()
	text := d.yaml(tr)
	cfg, err := config.Parse(strings.NewReader(text), os.Getenv)
	require.NoError(t, err, "configuration:\n%s", text)
	return cfg
}

// --- the server in process ---

// product is a running server with its accounts.
type product struct {
	srv   *server.Server
	cfg   *config.Config
	base  string
	logs  *syncBuffer
	users map[auth.Role]account
}

type account struct{ name, password string }

// roleScope gives each role's test account what it needs to see the scenario's alerts.
func roleScope(r auth.Role, tr *testvideos.Truth) auth.Scope {
	switch r {
	case auth.Operator:
		return auth.Scope{Cameras: []string{auth.AllCameras}}
	case auth.Guardian:
		var ps []string
		for _, p := range tr.Persons {
			if p.Enrolled {
				ps = append(ps, p.ID)
			}
		}
		return auth.Scope{Persons: ps}
	}
	return auth.Scope{}
}

// startProduct builds the server from cfg, creates an account per role, enrols the scenario's
// enrolled persons when it has models (from their enrolment photos, never the rendered ones, with
// their safe zones) and runs it until the test ends.
func startProduct(t testing.TB, cfg *config.Config, tr *testvideos.Truth) *product {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Options{Config: cfg, Log: log, Cameras: edge.Local})
	if err != nil {
		cancel()
		require.NoError(t, err, "server:\n%s", tail(logs.String(), 4000))
	}
	p := &product{srv: srv, cfg: cfg, base: "http://" + srv.Addr(), logs: logs, users: map[auth.Role]account{}}
	for _, r := range auth.Roles() {
		pw, err := auth.RandomPassword()
		require.NoError(t, err)
		name := "e2e-" + string(r)
		_, err = srv.Auth().AddUser(ctx, auth.NewUser{Name: name, Role: r, Password: pw, Scope: roleScope(r, tr)})
		require.NoError(t, err)
		p.users[r] = account{name, pw}
	}
	if cfg.Models != "" {
		enrolScene(t, srv, tr)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "server run")
		case <-time.After(60 * time.Second):
			assert.Fail(t, "server did not stop within 60 s of its context ending")
		}
		srv.Close()
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tail(logs.String(), 8000))
		}
	})
	return p
}

// enrolScene puts the scenario's enrolled persons on the watch list under their scenario ids.
func enrolScene(t testing.TB, srv *server.Server, tr *testvideos.Truth) {
	t.Helper()
	zones := map[string][]geo.LatLon{}
	for _, z := range tr.Zones {
		for _, p := range z.Polygon {
			zones[z.ID] = append(zones[z.ID], geo.LatLon{Lat: p[0], Lon: p[1]})
		}
	}
	for _, p := range tr.Persons {
		if !p.Enrolled {
			continue
		}
		cat, err := watchlist.ParseCategory(p.Category)
		require.NoError(t, err)
		en := web.Enrolment{Name: p.Name, Category: cat, SafeZone: zones[p.SafeZone], Expires: time.Now().Add(7 * 24 * time.Hour),
			LegalBasis: "end-to-end test", ApprovedBy: "test lead", EnrolledBy: "e2e-admin"}
		for _, path := range p.Enrol {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			en.Photos = append(en.Photos, web.PhotoUpload{Name: filepath.Base(path), Data: data})
		}
		_, _, err = srv.Enrol(context.Background(), p.ID, en)
		require.NoError(t, err, "enrol %s", p.ID)
	}
}

// --- API clients ---

// client is an API caller logged in through POST /api/v1/login.
type client struct {
	base, token string
	http        *http.Client
}

func login(t testing.TB, base string, a account) *client {
	t.Helper()
	c := &client{base: base, http: &http.Client{Timeout: 30 * time.Second}}
	status, body := c.do(t, "POST", "/api/v1/login", fmt.Sprintf(`{"user":%q,"password":%q}`, a.name, a.password))
	require.Equal(t, http.StatusOK, status, "login %s: %s", a.name, body)
	var lr struct{ Token string }
	require.NoError(t, json.Unmarshal(body, &lr), "login %s: %s", a.name, body)
	require.NotEmpty(t, lr.Token, "login %s: no token in %s", a.name, body)
	c.token = lr.Token
	return c
}

func (c *client) do(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	status, b, err := c.try(method, path, body)
	require.NoError(t, err, "%s %s", method, path)
	return status, b
}

func (c *client) try(method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// getJSON fetches path and decodes it into v, failing the test on anything but 200.
func (c *client) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	status, body := c.do(t, "GET", path, "")
	require.Equal(t, http.StatusOK, status, "GET %s: %s", path, body)
	require.NoError(t, json.Unmarshal(body, v), "GET %s: %s", path, body)
}

// act takes an alert step through the API and returns the alert as it is after it.
func (c *client) act(t testing.TB, id, action, body string) web.AlertView {
	t.Helper()
	status, b := c.do(t, "POST", "/api/v1/alerts/"+id+"/"+action, body)
	require.Equal(t, http.StatusOK, status, "%s alert %s: %s", action, id, b)
	var v web.AlertView
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

// streamEvent is one Server-Sent Event as a console receives it.
type streamEvent struct {
	id, typ string
	at      time.Time // when the client read it
	alert   web.AlertView
}

// stream is a console's live alert stream (GET /api/v1/alerts/stream).
type stream struct {
	events chan streamEvent
	err    chan error
}

func (c *client) stream(t testing.TB) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/alerts/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		require.FailNow(t, "no alert stream", "%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &stream{events: make(chan streamEvent, 1024), err: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev streamEvent
		var data []byte
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != nil {
					ev.at = time.Now()
					if err := json.Unmarshal(data, &ev.alert); err != nil {
						s.err <- fmt.Errorf("alert stream event %s: %v", ev.id, err)
						return
					}
					s.events <- ev
				}
				ev, data = streamEvent{}, nil
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: ")...)
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			s.err <- fmt.Errorf("alert stream: %w", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// next returns the next event that satisfies match, failing the test after limit.
func (s *stream) next(t testing.TB, what string, limit time.Duration, match func(streamEvent) bool) streamEvent {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case ev := <-s.events:
			if match(ev) {
				return ev
			}
		case err := <-s.err:
			require.NoError(t, err)
		case <-deadline:
			require.FailNow(t, "no "+what+" on the alert stream", "within %v", limit)
		}
	}
}

// --- evidence ---

// download fetches a URL (a presigned MinIO link) without credentials.
func download(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "GET %s", url)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %.200s", url, b)
	return b
}

// probe is what ffprobe reads from an MP4.
type probe struct {
	duration   time.Duration
	codec      string
	width      int
	firstKey   bool   // the first frame is a keyframe
	firstType  string // its picture type
	frameCount int
}

func ffprobe(t testing.TB, mp4 []byte) probe {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("skipping: ffprobe not installed")
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, os.WriteFile(path, mp4, 0o644))
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "format=duration:stream=codec_name,width,nb_read_frames", "-of", "json", path).Output()
	require.NoError(t, err, "ffprobe cannot read the clip: %s", errOut(err))
	var f struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			Codec  string `json:"codec_name"`
			Width  int    `json:"width"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	require.NoError(t, json.Unmarshal(out, &f), "ffprobe: %s", out)
	require.Len(t, f.Streams, 1, "ffprobe: %s", out)
	var p probe
	var secs float64
	fmt.Sscan(f.Format.Duration, &secs)
	fmt.Sscan(f.Streams[0].Frames, &p.frameCount)
	p.duration = time.Duration(secs * float64(time.Second))
	p.codec, p.width = f.Streams[0].Codec, f.Streams[0].Width
	out, err = exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
		"-show_entries", "frame=key_frame,pict_type", "-of", "json", path).Output()
	require.NoError(t, err, "ffprobe cannot decode the clip's first frame: %s", errOut(err))
	var fr struct {
		Frames []struct {
			Key  int    `json:"key_frame"`
			Type string `json:"pict_type"`
		} `json:"frames"`
	}
	require.NoError(t, json.Unmarshal(out, &fr), "ffprobe frames: %s", out)
	require.NotEmpty(t, fr.Frames, "ffprobe frames: %s", out)
	p.firstKey, p.firstType = fr.Frames[0].Key == 1, fr.Frames[0].Type
	return p
}

func errOut(err error) string {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(ee.Stderr)
	}
	return ""
}

// freeAddr is a free 127.0.0.1 port, for processes that must be told their address in advance.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// long reports whether the long fault variants were asked for.
func long() bool { return os.Getenv("SNOWLIGHT_LONG") == "1" }
