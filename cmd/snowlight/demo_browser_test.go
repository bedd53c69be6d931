package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/edge"
	"snowlight/ingest/camsim"
	"snowlight/server"
	"snowlight/testvideos"
	"snowlight/web/browsertest"
)

// TestDemoConsole runs the browser suite (web/browsertest) against the real product: the demo's
// rendered scene played by camsim cameras, the whole pipeline with the real models, SQLite and local
// evidence storage, the demo's accounts and watch list, served as `snowlight demo` serves it. The
// cameras start playing only when the operator's alert wall is open, so the scene's alerts reach the
// wall live: the at-risk man leaving his safe zone (dispatched to the unit nearest the corner camera),
// the suspect crossing three cameras (followed in the investigation, hidden from the guardian).
// Screenshots go to out/screenshots/demo.
func TestDemoConsole(t *testing.T) {
	if browsertest.FindChromium() == "" {
		t.Skip("chromium not installed (apt-get install chromium, or set SNOWLIGHT_CHROMIUM)")
	}
	modelsDir, evalDir := perceptionData(t)
	d := startDemo(t, modelsDir)

	tg := browsertest.Target{
		BaseURL:      d.url,
		Operator:     d.accounts[auth.Operator],
		Investigator: d.accounts[auth.Investigator],
		Auditor:      d.accounts[auth.Auditor],
		Guardians: [2]browsertest.Guardian{
			{Account: d.accounts[auth.Guardian], Person: "biden"},
			{Person: "kit"}, // nobody guards the suspect; the guardian of biden must not see him
		},
		Camera:      "corner",
		Person:      "kit",
		NearestUnit: "p-corner",
		Patrol:      addPatrol(t, d, "p-corner"),
		RaiseAlert:  d.awaitAlert,
		Shots:       filepath.Join(browsertest.ScreenshotDir(), "demo"),
	}
	if p := filepath.Join(evalDir, "faces", "face_recognition", "examples", "obama.jpg"); fileExists(p) {
		tg.EnrolPhoto = p
	}
	res := browsertest.Run(t, tg)
	if res.Bundle != "" {
		checkDemoExport(t, d, modelsDir, res.Bundle)
	}
	// The holds the investigator placed and released in the console are in the audit log, with the
	// case and the reason (the hold service records them, not the console).
	for _, action := range []string{"case.hold", "case.release"} {
		if t.Failed() {
			break // the investigation may not have run
		}
		var page struct {
			Entries []struct{ Actor, Case, Reason string }
		}
		require.NoError(t, apiGet(t.Context(), d.url+"/api/v1/audit?case=BT-2025-001&action="+action, d.admin, &page))
		if assert.NotEmpty(t, page.Entries, "audit entries %s of case BT-2025-001", action) {
			assert.Equal(t, "investigator", page.Entries[0].Actor, "audit entry %s of case BT-2025-001: %+v", action, page.Entries[0])
			assert.NotEmpty(t, page.Entries[0].Reason, "audit entry %s of case BT-2025-001: %+v", action, page.Entries[0])
		}
	}
	fmt.Printf("browser test screenshots (real stack): %s\n", res.Shots)
	if res.FirstFrame > 0 {
		t.Logf("first decoded frame %v after the WHEP offer", res.FirstFrame)
	}
}

// demoRun is the demo started for a test.
type demoRun struct {
	t        testing.TB
	url      string
	srv      *server.Server
	truth    *testvideos.Truth
	cams     *camsim.Server
	ctx      context.Context
	accounts map[auth.Role]browsertest.Account
	admin    string // an API token of the admin account

	startOnce sync.Once
	startErr  error
}

// startDemo renders (or finds cached) the demo scene, builds the demo's configuration with the
// cameras on a camsim that is not playing yet, creates the accounts, enrols the scene's people and
// runs the server until the test ends. Its log is printed if the test fails.
func startDemo(t testing.TB, modelsDir string) *demoRun {
	return startDemoWith(t, modelsDir, demoSetup{cameras: edge.Local})
}

// demoSetup is how startDemoWith builds the product: one process (edge.Local), or a center whose
// cameras are on edges (server.NATS, with what the edges need).
type demoSetup struct {
	cameras func(server.Resources) (server.Cameras, error)
	// extra is YAML added to the center's configuration; edges are the cameras' allowed edges.
	extra string
	edges map[string][]string
	// started runs once the server runs, before the accounts log in and the people are enrolled
	// (which an edge's face models do in a distributed deployment): it starts the edges.
	started func(d *demoRun, settings demoSettings)
}

func startDemoWith(t testing.TB, modelsDir string, setup demoSetup) *demoRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	spec, err := testvideos.BuiltinScenario("demo")
	if err != nil {
		t.Skipf("demo scenario unavailable: %v", err)
	}
	rendered, err := testvideos.RenderCached(ctx, spec, testvideos.ScenarioCacheDir(), testvideos.RenderOptions{})
	require.NoError(t, err, "render the demo scene")
	truth, err := testvideos.ReadTruth(rendered.Dir)
	require.NoError(t, err)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (last lines):\n%s", logs.tail(80))
		}
	})

	// The simulator's address must be in the configuration before it plays; it starts later.
	rtsp := freeAddr(t)
	cams := camsim.New(camsim.Options{Addr: rtsp, Log: log})
	for _, c := range truth.Cameras {
		require.NoError(t, cams.AddFile(c.ID, rendered.VideoPath(c.ID)))
	}
	box, err := newInbox(log)
	require.NoError(t, err)
	go box.serve(ctx)
	settings := demoSettings{addr: "127.0.0.1:0", rtsp: rtsp, data: t.TempDir(), models: modelsDir, fps: 2, inbox: box,
		extra: setup.extra, edges: setup.edges}
	cfg, err := demoConfig(truth, settings)
	require.NoError(t, err)
	srv, err := server.New(ctx, server.Options{Config: cfg, Log: log, Cameras: setup.cameras})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close(); cams.Close() })

	d := &demoRun{t: t, url: "http://" + srv.Addr(), srv: srv, cams: cams, ctx: ctx, truth: truth, accounts: map[auth.Role]browsertest.Account{}}
	passwords := map[string]string{}
	for _, r := range auth.Roles() {
		pw, err := auth.RandomPassword()
		require.NoError(t, err)
		passwords[auth.PasswordEnv(r)] = pw
		d.accounts[r] = browsertest.Account{User: string(r), Password: pw}
	}
	_, err = srv.Auth().EnsureDemoAccounts(ctx, auth.DemoOptions{Getenv: func(k string) string { return passwords[k] },
		GuardianScope: auth.Scope{Persons: []string{"biden"}}}, io.Discard)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "server")
		case <-time.After(30 * time.Second):
			assert.Fail(t, "the server did not stop within 30 s of its context ending")
		}
	})
	d.admin, err = apiLogin(ctx, d.url, d.accounts[auth.Admin])
	require.NoError(t, err)
	if setup.started != nil {
		setup.started(d, settings)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard, log: log}
	require.NoError(t, enrolDemo(ctx, e, srv, truth))
	return d
}

// startCameras starts the simulated cameras once.
func (d *demoRun) startCameras() error {
	d.startOnce.Do(func() { d.startErr = d.cams.Start(d.ctx) })
	if d.startErr != nil {
		return fmt.Errorf("start the cameras: %w", d.startErr)
	}
	return nil
}

// awaitAlert starts the cameras on the first call, then waits until the scene raises an alert about
// person and returns its id: the suite calls it once the operator watches the wall.
func (d *demoRun) awaitAlert(ctx context.Context, person string) (string, error) {
	if err := d.startCameras(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	for {
		var list struct {
			Alerts []struct {
				ID, Rule string
				PersonID string `json:"person_id"`
			}
		}
		if err := apiGet(ctx, d.url+"/api/v1/alerts", d.admin, &list); err != nil {
			return "", err
		}
		for _, a := range list.Alerts {
			if a.PersonID == person {
				d.t.Logf("the scene raised %s alert %s about %s after %v", a.Rule, a.ID, person, time.Since(t0).Round(100*time.Millisecond))
				return a.ID, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no alert about %s within %v of the cameras starting", person, time.Since(t0).Round(time.Second))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// awaitLive starts the cameras and waits until camera can be watched and has sent a few seconds of
// video, so its ring holds a whole GOP.
func (d *demoRun) awaitLive(ctx context.Context, camera string) error {
	if err := d.startCameras(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var list struct {
			Cameras []struct {
				ID   string
				Live bool
			}
		}
		if err := apiGet(ctx, d.url+"/api/v1/cameras", d.admin, &list); err != nil {
			return err
		}
		for _, c := range list.Cameras {
			if c.ID == camera && c.Live {
				time.Sleep(3 * time.Second)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("camera %s not live within a minute", camera)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// benchDemo starts the demo for a benchmark, skipping without Chromium or models.
func benchDemo(b *testing.B) *demoRun {
	if browsertest.FindChromium() == "" {
		b.Skip("chromium not installed (apt-get install chromium, or set SNOWLIGHT_CHROMIUM)")
	}
	models := os.Getenv("SNOWLIGHT_MODELS")
	if models == "" {
		models, _ = filepath.Abs(filepath.Join("..", "..", "..", "shared", "models"))
	}
	if !fileExists(models) {
		b.Skipf("models not available (set SNOWLIGHT_MODELS or provide ../shared/models)")
	}
	return startDemo(b, models)
}

// BenchmarkDemoWHEPFirstFrame is BenchmarkWHEPFirstFrame (web/browsertest) on the real product: the
// demo's corner camera (960x540, 10 fps, 1 s GOP, played by camsim over RTSP into the ingest ring),
// watched in Chromium through the real server. Run with -benchtime 20x.
func BenchmarkDemoWHEPFirstFrame(b *testing.B) {
	d := benchDemo(b)
	require.NoError(b, d.awaitLive(b.Context(), "corner"))
	br := browsertest.StartBrowser(b, b.TempDir())
	tab := br.NewTab(b)
	require.NoError(b, tab.Login(d.url, d.accounts[auth.Operator]))
	var times []time.Duration
	b.ResetTimer()
	for range b.N {
		v, err := browsertest.FirstFrame(tab, "corner")
		require.NoError(b, err)
		times = append(times, v)
	}
	b.StopTimer()
	browsertest.ReportFirstFrames(b, times)
}

// BenchmarkDemoConsoleFirstLoad is BenchmarkConsoleFirstLoad (web/browsertest) on the real product,
// while its four cameras run through the whole pipeline. Run with -benchtime 20x.
func BenchmarkDemoConsoleFirstLoad(b *testing.B) {
	d := benchDemo(b)
	require.NoError(b, d.awaitLive(b.Context(), "corner"))
	br := browsertest.StartBrowser(b, b.TempDir())
	var loads []browsertest.Load
	b.ResetTimer()
	for range b.N {
		l, err := br.FirstLoad(b, d.url)
		require.NoError(b, err)
		loads = append(loads, l)
	}
	b.StopTimer()
	browsertest.ReportLoads(b, loads)
}

func apiLogin(ctx context.Context, base string, a browsertest.Account) (string, error) {
	body, _ := json.Marshal(map[string]string{"user": a.User, "password": a.Password})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Token == "" {
		return "", fmt.Errorf("log in as %s: %d %v", a.User, resp.StatusCode, err)
	}
	return r.Token, nil
}

func apiGet(ctx context.Context, url, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// syncBuffer collects the server's log from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// tail is the last n lines.
func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
