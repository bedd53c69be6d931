package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Account is a user to log in as.
type Account struct {
	User, Password string
}

// Guardian is a guardian account and the watch-list person it guards.
type Guardian struct {
	Account
	Person string
}

// Target is a running server to test the console against.
type Target struct {
	BaseURL      string  // e.g. http://127.0.0.1:8080
	Operator     Account // works alerts and watches cameras
	Investigator Account // runs trajectory queries
	// Auditor, when set, reads the audit log, which must hold the investigation's case, and verifies
	// its chain.
	Auditor Account
	// Guardians[0] is a guardian account and the person it guards; Guardians[1].Person is another
	// person with an alert, which the first guardian must not see (its account is not used).
	Guardians [2]Guardian
	// Camera is a camera that is online with H.264 video.
	Camera string
	// Person is a watch-list person with a trajectory in the last 24 hours.
	Person string
	// RaiseAlert makes the server raise an alert for person (an at-risk or watch-list match whose clip
	// is ready or being prepared) and returns its id; with a real scene it may wait for the scene to.
	RaiseAlert func(ctx context.Context, person string) (string, error)
	// NearestUnit, when set, is the patrol unit that dispatching the alert of Guardians[0].Person to
	// "the nearest available unit" must choose.
	NearestUnit string
	// Patrol, when set, is the account of the unit the first alert's dispatch goes to: its phone page
	// (390x844) is followed from waiting, through the dispatch, to the alert's resolution.
	Patrol Account
	// EnrolPhoto is a photo file with one clear face; the watch-list enrolment step is skipped when
	// empty. The step enrols a test person (removed again at the end) from it and from a photo too small
	// to hold a usable face, and checks that the console says which photo was not used.
	EnrolPhoto string
	// Shots is where the screenshots go; ScreenshotDir() when empty.
	Shots string
}

// Result holds what the suite measured.
type Result struct {
	// FirstFrame is the time from the WHEP offer to the first decoded frame in Chromium.
	FirstFrame time.Duration
	Shots      string
	// Bundle is the case evidence bundle the investigator exported and downloaded in the browser ("" if
	// the investigation did not get that far): for the caller to verify as a recipient would.
	Bundle string
}

// Run drives the console through the path a new user takes: log in, see an alert arrive live, check
// its evidence and clip, confirm and dispatch it, watch a camera live, follow a trajectory (and, from
// the alert, the person's path, asked with a case), look at the watch list and the patrols, and, as a
// guardian, see only their own person.
func Run(t *testing.T, tg Target) Result {
	t.Helper()
	res := Result{Shots: tg.Shots}
	if res.Shots == "" {
		res.Shots = ScreenshotDir()
	}
	b := StartBrowser(t, res.Shots)
	bundleDir := t.TempDir() // outlives the subtests, for the caller
	t.Logf("screenshots: %s", res.Shots)
	base := strings.TrimRight(tg.BaseURL, "/")
	ctx := context.Background()
	shot := func(t *testing.T, tab *Tab, name string) {
		t.Helper()
		if p, err := tab.Screenshot(name); assert.NoError(t, err) {
			t.Logf("screenshot %s", p)
		}
	}
	noProblems := func(t *testing.T, tab *Tab) {
		t.Helper()
		assert.Empty(t, tab.Problems(), "the page reported problems")
	}
	op := b.NewTab(t)
	var alertID string
	t.Run("console loads and operator logs in", func(t *testing.T) {
		require.NoError(t, op.Do(30*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form"))))
		shot(t, op, "01-login")
		require.NoError(t, op.Login(base, tg.Operator))
		require.NoError(t, op.Go("#/wall", "wall"))
		_, err := WaitJS[bool](op, 10*time.Second, `!!document.querySelector('#wall') && window.snowlight.stream.state === 'live'`)
		require.NoError(t, err)
		// A marker that a reload would wipe out.
		_, err = Eval[int](op, 5*time.Second, `window.__sameDocument = 1`)
		require.NoError(t, err)
		noProblems(t, op)
	})
	if t.Failed() {
		return res
	}
	var phone *PatrolPhone
	if tg.Patrol.User != "" {
		tab := b.NewTab(t) // the phone outlives this step
		t.Run("the patrol's phone waits for an assignment", func(t *testing.T) {
			phone = openPatrolPhone(t, tab, base, tg.Patrol, shot)
		})
	}

	t.Run("a new alert appears on the wall without reload", func(t *testing.T) {
		var err error
		alertID, err = tg.RaiseAlert(ctx, tg.Guardians[0].Person)
		require.NoError(t, err)
		sel := fmt.Sprintf(`#wall [data-id=%s]`, jsString(alertID))
		_, err = WaitJS[bool](op, 20*time.Second, fmt.Sprintf(`!!document.querySelector(%s)`, jsString(sel)))
		require.NoError(t, err)
		same, err := Eval[int](op, 5*time.Second, `window.__sameDocument || 0`)
		require.NoError(t, err)
		require.Equal(t, 1, same, "the page reloaded")
		text, err := Eval[string](op, 5*time.Second, fmt.Sprintf(`document.querySelector(%s).textContent`, jsString(sel)))
		require.NoError(t, err)
		assert.Contains(t, text, "Evidence and details", "the alert's card")
		shot(t, op, "02-alert-wall")
		noProblems(t, op)
	})
	if t.Failed() {
		return res
	}

	t.Run("alert detail plays its clip; confirm and dispatch change its status", func(t *testing.T) {
		require.NoError(t, op.Go("#/alert/"+alertID, "alert"))
		// A real alert's clip is cut once its post-roll is recorded: until then the page says it is
		// being prepared, and the clip replaces that by itself.
		state, err := WaitJS[string](op, 10*time.Second, `document.querySelector('#clip') ? 'ready' : document.querySelector('#clip-preparing') ? 'preparing' : ''`)
		require.NoError(t, err)
		if state == "preparing" {
			shot(t, op, "03a-alert-clip-preparing")
		}
		_, err = WaitJS[bool](op, 45*time.Second, `!!document.querySelector('#clip')`)
		require.NoError(t, err)
		// The clip plays: its time advances.
		_, err = Eval[chromedp.Void](op, 10*time.Second, `document.querySelector('#clip').play().then(() => undefined)`)
		if err != nil && !strings.Contains(err.Error(), "undefined") {
			require.NoError(t, err)
		}
		t1, err := WaitJS[float64](op, 15*time.Second, `(() => { const v = document.querySelector('#clip'); return v.readyState >= 2 && v.currentTime > 0.3 ? v.currentTime : 0; })()`)
		require.NoError(t, err)
		t2, err := WaitJS[float64](op, 15*time.Second, fmt.Sprintf(`(() => { const v = document.querySelector('#clip'); return v.currentTime > %f ? v.currentTime : 0; })()`, t1+0.5))
		require.NoError(t, err)
		t.Logf("clip time advanced from %.2f s to %.2f s", t1, t2)
		evid, err := Eval[int](op, 5*time.Second, `document.querySelectorAll('#alert-evidence img').length`)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, evid, 2, "pictures of evidence: want the enrolment photo and captured faces")
		// Where else the person went is not the operator's to ask.
		offered, err := Eval[bool](op, 5*time.Second, `!document.querySelector('#alert-path').hidden`)
		assert.NoError(t, err)
		assert.False(t, offered, "the operator is offered the person's path")
		shot(t, op, "03-alert-detail")
		for _, step := range []struct{ action, status string }{{"confirm", "confirmed"}, {"dispatch", "dispatched"}} {
			// Clicked through the page's script: the page redraws its buttons as the alert's evidence
			// arrives, and a button found a moment before may be gone at the click.
			require.NoError(t, clickJS(op, 5*time.Second, fmt.Sprintf(`#alert-actions button[data-action=%q]`, step.action)))
			_, err := WaitJS[bool](op, 10*time.Second, fmt.Sprintf(`(document.querySelector('#alert-status')||{}).dataset?.status === %q`, step.status))
			require.NoError(t, err)
		}
		// The server agrees.
		st, err := Eval[string](op, 10*time.Second, fmt.Sprintf(`fetch('/api/v1/alerts/' + encodeURIComponent(%s)).then(r => r.json()).then(a => a.status + ' ' + (a.patrol || ''))`, jsString(alertID)))
		require.NoError(t, err)
		require.Regexp(t, `^dispatched \S`, st, "the server's status of the alert, want dispatched to a unit")
		if tg.NearestUnit != "" {
			assert.Equal(t, "dispatched "+tg.NearestUnit, st, "the server's status of the alert, want dispatched to the nearest unit")
		}
		_, err = WaitJS[bool](op, 10*time.Second, `document.querySelectorAll('#history-table tr').length >= 4`)
		require.NoError(t, err)
		shot(t, op, "04-alert-dispatched")
		noProblems(t, op)
		if phone != nil {
			phone.sent(t, alertID)
		}
	})

	t.Run("live view shows moving video", func(t *testing.T) {
		require.NoError(t, op.Go("#/live", "live"))
		cam := jsString(tg.Camera)
		_, err := WaitJS[bool](op, 15*time.Second, fmt.Sprintf(`!!window.snowlight.players[%s]`, cam))
		require.NoError(t, err)
		ms, err := WaitJS[float64](op, 20*time.Second, fmt.Sprintf(`window.snowlight.players[%s].firstFrameMs`, cam))
		require.NoError(t, err)
		res.FirstFrame = time.Duration(ms * float64(time.Millisecond))
		t.Logf("WHEP offer to first decoded frame: %v", res.FirstFrame.Round(time.Millisecond))
		n1, err := Eval[int](op, 5*time.Second, fmt.Sprintf(`window.snowlight.players[%s].framesDecoded()`, cam))
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		n2, err := Eval[int](op, 5*time.Second, fmt.Sprintf(`window.snowlight.players[%s].framesDecoded()`, cam))
		require.NoError(t, err)
		// Cameras run at 10 fps and more: at least 5 new pictures a second is moving video.
		assert.GreaterOrEqual(t, n2-n1, 10, "frames decoded in two seconds (from %d to %d), want moving video", n1, n2)
		t.Logf("decoded %d frames in two seconds", n2-n1)
		w, err := Eval[int](op, 5*time.Second, fmt.Sprintf(`document.querySelector('[data-camera=%s] video').videoWidth`, jsString(tg.Camera)))
		require.NoError(t, err)
		assert.NotZero(t, w, "the video element shows no picture")
		shot(t, op, "05-live-view")
		require.NoError(t, op.Go("#/patrols", "patrols"))
		_, err = WaitJS[bool](op, 10*time.Second, `document.querySelectorAll('#patrols tr[data-unit]').length > 0 && !!document.querySelector('svg.map .unit')`)
		require.NoError(t, err)
		shot(t, op, "06-patrols")
		noProblems(t, op)
	})

	t.Run("investigation shows a trajectory", func(t *testing.T) {
		inv := b.NewTab(t)
		require.NoError(t, inv.Login(base, tg.Investigator))
		require.NoError(t, inv.Go("#/investigate?person="+tg.Person, "investigate"))
		_, err := WaitJS[bool](inv, 10*time.Second, fmt.Sprintf(`document.querySelector('#inv-person').value === %s`, jsString(tg.Person)))
		require.NoError(t, err)
		require.NoError(t, inv.Do(10*time.Second,
			chromedp.SendKeys(chromedp.CSS("#inv-case"), "BT-2025-001"),
			chromedp.SendKeys(chromedp.CSS("#inv-reason"), "browser test: follow the at-risk person"),
			chromedp.Click(chromedp.CSS("#inv-go"))))
		n, err := WaitJS[int](inv, 15*time.Second, `document.querySelectorAll('#inv-list-result .sighting').length`)
		require.NoError(t, err)
		pts, err := Eval[int](inv, 5*time.Second, `document.querySelectorAll('#inv-result svg.map .path-point').length`)
		require.NoError(t, err)
		segs, err := Eval[int](inv, 5*time.Second, `document.querySelectorAll('#inv-timeline .seg').length`)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, n, 2, "sightings listed")
		assert.Equal(t, n, pts, "sightings on the map, and listed")
		assert.Equal(t, n, segs, "sightings on the timeline, and listed")
		shot(t, inv, "07-investigation")

		// Hold one sighting for the case, then the whole trajectory (which lists each of its sightings),
		// see them on the case's list, and release everything.
		active := `document.querySelectorAll('#case-holds tr[data-hold]:not(.released)').length`
		require.NoError(t, inv.Do(10*time.Second, chromedp.Click(chromedp.CSS("#inv-list-result .hold-sighting"))))
		_, err = WaitJS[bool](inv, 15*time.Second, active+` === 1`)
		require.NoError(t, err)
		require.NoError(t, inv.Do(10*time.Second, chromedp.Click(chromedp.CSS("#inv-hold-trajectory"))))
		held, err := WaitJS[int](inv, 15*time.Second, fmt.Sprintf(`(() => { const n = %s; return n > %d ? n : 0; })()`, active, n))
		require.NoError(t, err)
		shot(t, inv, "07b-case-holds")
		require.NoError(t, inv.Do(10*time.Second,
			chromedp.SendKeys(chromedp.CSS("#hold-release-reason"), "browser test: the case no longer needs it"),
			chromedp.Click(chromedp.CSS("#hold-release-all"))))
		_, err = WaitJS[bool](inv, 15*time.Second, fmt.Sprintf(`%s === 0 && document.querySelectorAll('#case-holds tr.released').length === %d`, active, held))
		require.NoError(t, err)
		left, err := Eval[int](inv, 10*time.Second, `fetch('/api/v1/cases/BT-2025-001/holds').then(r => r.json()).then(d => d.holds.length)`)
		require.NoError(t, err)
		assert.Zero(t, left, "items the server says case BT-2025-001 still holds after the release")
		t.Logf("held %d items for the case (a sighting, then its trajectory with the others) and released them", held)
		res.Bundle = exportCase(t, inv, bundleDir, shot)
		findPeople(t, inv, tg.EnrolPhoto, shot)
		noProblems(t, inv)

		// From the alert, the person's path is asked for like any trajectory: with a case and a reason.
		require.NoError(t, inv.Go("#/alert/"+alertID, "alert"))
		_, err = WaitJS[bool](inv, 10*time.Second, `!!document.querySelector('#alert-path') && !document.querySelector('#alert-path').hidden`)
		require.NoError(t, err)
		pts, err = Eval[int](inv, 5*time.Second, `document.querySelectorAll('#main svg.map .path-point').length`)
		assert.NoError(t, err)
		assert.Zero(t, pts, "path points on the alert's map before a case was given")
		require.NoError(t, inv.Do(10*time.Second, chromedp.Click(chromedp.CSS("#path-show"))))
		refusal, err := WaitJS[string](inv, 10*time.Second, `(document.querySelector('#path-result.error-text')||{}).textContent || ''`)
		require.NoError(t, err)
		t.Logf("without a case the path is refused: %s", refusal)
		inv.Problems() // the browser logs the refused request; it is the point, not a problem of the page
		require.NoError(t, inv.Do(10*time.Second,
			chromedp.SendKeys(chromedp.CSS("#path-case"), "BT-2025-002"),
			chromedp.SendKeys(chromedp.CSS("#path-reason"), "browser test: where the person came from"),
			chromedp.Click(chromedp.CSS("#path-show"))))
		pathPts, err := WaitJS[int](inv, 15*time.Second, `document.querySelectorAll('#main svg.map .path-point').length`)
		require.NoError(t, err)
		t.Logf("the alert's path: %d sightings on the map", pathPts)
		shot(t, inv, "07c-alert-path")
		require.NoError(t, inv.Go("#/watchlist", "watchlist"))
		_, err = WaitJS[bool](inv, 10*time.Second, `document.querySelectorAll('#persons tr[data-person]').length > 0`)
		require.NoError(t, err)
		shot(t, inv, "08-watchlist")
		noProblems(t, inv)
		if tg.EnrolPhoto != "" {
			enrol(t, inv, tg.EnrolPhoto)
			shot(t, inv, "08b-watchlist-enrolled")
			// The refused photo's 422 or the removal are not problems of the page.
			inv.Problems()
		}
	})

	t.Run("a guardian sees only their own person", func(t *testing.T) {
		other, err := tg.RaiseAlert(ctx, tg.Guardians[1].Person)
		require.NoError(t, err)
		g := b.NewTab(t)
		require.NoError(t, g.Login(base, tg.Guardians[0].Account))
		require.NoError(t, g.Go("#/guardian", "guardian"))
		mine := fmt.Sprintf(`#guarded [data-person=%s] tr[data-id=%s]`, jsString(tg.Guardians[0].Person), jsString(alertID))
		_, err = WaitJS[bool](g, 15*time.Second, fmt.Sprintf(`!!document.querySelector(%s)`, jsString(mine)))
		require.NoError(t, err)
		html, err := Eval[string](g, 5*time.Second, `document.querySelector('#main').innerHTML`)
		require.NoError(t, err)
		assert.NotContains(t, html, other, "the guardian page shows the other person's alert")
		assert.NotContains(t, html, tg.Guardians[1].Person, "the guardian page shows the other person")
		persons, err := Eval[int](g, 5*time.Second, `document.querySelectorAll('#guarded [data-person]').length`)
		require.NoError(t, err)
		assert.Equal(t, 1, persons, "persons on the guardian page")
		// The person's latest known location: where, when, and the mark on the map.
		seen, err := WaitJS[string](g, 10*time.Second, fmt.Sprintf(`(() => { const s = document.querySelector(%s);
			return s && s.querySelector('.latest') && s.querySelector('svg.map .mark') ? s.querySelector('.latest').textContent : ''; })()`,
			jsString(fmt.Sprintf(`#guarded [data-person=%s]`, jsString(tg.Guardians[0].Person)))))
		if assert.NoError(t, err, "the guardian page shows no latest location") {
			t.Logf("guardian sees: %s", seen)
		}
		// Their person's face, never the full frame or the clip, in which others are.
		srcs, err := Eval[[]string](g, 5*time.Second, `[...document.querySelectorAll('#guarded img, #guarded video')].map((e) => e.src)`)
		require.NoError(t, err)
		for _, src := range srcs {
			assert.Regexp(t, `/face/|/photos/`, src, "the guardian page shows a picture that is not a face")
		}
		t.Logf("guardian page shows %d faces", len(srcs))
		// The API refuses the other alert too, through the guardian's own session.
		resp, err := Eval[string](g, 10*time.Second, fmt.Sprintf(`Promise.all([
			fetch('/api/v1/alerts/' + encodeURIComponent(%[1]s)).then(r => r.status),
			fetch('/api/v1/alerts').then(r => r.json()).then(d => d.alerts.map(a => a.id)),
			fetch('/api/v1/persons/' + encodeURIComponent(%[2]s) + '/trajectory?case=X-1&reason=curious+guardian+check').then(r => r.status),
		]).then(x => JSON.stringify(x))`, jsString(other), jsString(tg.Guardians[1].Person)))
		require.NoError(t, err)
		var got []json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(resp), &got))
		require.Len(t, got, 3, "the guardian API's answers %s", resp)
		assert.Equal(t, "404", string(got[0]), "the other alert")
		assert.NotContains(t, string(got[1]), other, "the list of alerts")
		assert.Equal(t, "403", string(got[2]), "the other person's trajectory")
		shot(t, g, "09-guardian")
		// Logged out elsewhere (another tab; an admin disabling the account is the same): the open page
		// learns it from its alert stream, with no request of its own, and asks for a login.
		_, err = Eval[int](g, 10*time.Second, `fetch('/api/v1/logout', {method: 'POST',
			headers: {'X-CSRF-Token': decodeURIComponent((document.cookie.match(/snowlight_csrf=([^;]*)/) || [])[1] || '')}}).then(r => r.status)`)
		require.NoError(t, err)
		_, err = WaitJS[bool](g, 5*time.Second, `window.snowlight.page === 'login' && window.snowlight.stream.state === 'off'`)
		require.NoError(t, err)
		// Skipped problems: the refused fetches above are logged by the browser as failed requests.
		g.Problems()
	})

	if phone != nil {
		t.Run("the patrol resolves the assignment on the phone", func(t *testing.T) {
			phone.resolve(t, alertID)
		})
	}

	if tg.Auditor.User != "" {
		t.Run("the auditor reads the investigation in the audit log", func(t *testing.T) {
			a := b.NewTab(t)
			require.NoError(t, a.Login(base, tg.Auditor))
			require.NoError(t, a.Go("#/audit", "audit"))
			_, err := WaitJS[bool](a, 15*time.Second, `[...document.querySelectorAll('#audit-entries td')].some((td) => td.textContent === 'BT-2025-001')`)
			require.NoError(t, err)
			require.NoError(t, a.Do(10*time.Second, chromedp.Click(chromedp.CSS("#audit-verify"))))
			verdict, err := WaitJS[string](a, 15*time.Second, `document.getElementById('audit-verdict').textContent`)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(verdict, "The chain verifies"), "audit verdict: %s", verdict)
			shot(t, a, "10-audit")
			// The live view the operator watched is in the log, started and (the page left) stopped.
			live, err := WaitJS[string](a, 15*time.Second, fmt.Sprintf(`Promise.all(['live.start', 'live.stop'].map((act) =>
				fetch('/api/v1/audit?action=' + act).then(r => r.json()).then(d => d.entries.filter((e) => e.target === %s).length)))
				.then(([a, b]) => a > 0 && b > 0 ? a + ' started, ' + b + ' stopped' : '')`, jsString(tg.Camera)))
			if assert.NoError(t, err, "the audit log lacks the live view of %s", tg.Camera) {
				t.Logf("live views of %s in the audit log: %s", tg.Camera, live)
			}
			noProblems(t, a)
		})
	}
	return res
}

// enrol fills the console's enrolment form (fields, two photos, a safe zone clicked on the map), checks
// the verdict per photo, and removes the person again.
func enrol(t *testing.T, tab *Tab, photo string) {
	t.Helper()
	tiny := filepath.Join(t.TempDir(), "too-small.png")
	img := image.NewGray(image.Rect(0, 0, 24, 24))
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	require.NoError(t, os.WriteFile(tiny, buf.Bytes(), 0o644))
	name := fmt.Sprintf("Browser Test %d", time.Now().UnixNano()%1e6)
	_, err := Eval[chromedp.Void](tab, 5*time.Second, fmt.Sprintf(`(() => {
		const set = (id, v) => { document.getElementById(id).value = v; };
		set('enrol-name', %s); set('enrol-category', 'at_risk'); set('enrol-guardian', 'test guardian');
		set('enrol-legal', 'browser test, consent on file'); set('enrol-approved', 'test supervisor');
		set('enrol-expires', new Date(Date.now() + 86400e3).toISOString().slice(0, 10));
		set('enrol-case', 'BT-ENROL-1'); set('enrol-reason', 'browser test of the enrolment form');
		document.getElementById('enrol-form').scrollIntoView();
	})()`, jsString(name)))
	require.NoError(t, err)
	require.NoError(t, tab.Do(10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#enrol-photos"), []string{photo, tiny})))
	// Three clicks on the map outline a safe zone.
	box, err := Eval[[]float64](tab, 5*time.Second, `(() => { const r = document.querySelector('#enrol-form svg.map').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	require.NoError(t, err, "the map's box")
	require.Len(t, box, 4, "the map's box")
	for _, p := range [][2]float64{{0.3, 0.3}, {0.6, 0.3}, {0.45, 0.7}} {
		require.NoError(t, tab.Do(5*time.Second, chromedp.MouseClickXY(box[0]+p[0]*box[2], box[1]+p[1]*box[3])))
	}
	zone, err := Eval[string](tab, 5*time.Second, `document.getElementById('zone-info').textContent`)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(zone, "3 points"), "safe zone after three clicks: %q", zone)
	require.NoError(t, tab.Do(5*time.Second, chromedp.Click(chromedp.CSS("#enrol-submit"))))
	verdict, err := WaitJS[string](tab, 20*time.Second, `(() => { const l = document.querySelectorAll('#enrol-results li'); return l.length >= 2 ? [...l].map(x => x.className + ': ' + x.textContent).join('\n') : ''; })()`)
	require.NoError(t, err)
	require.Contains(t, verdict, "good: "+filepath.Base(photo), "enrolment verdicts")
	require.Contains(t, verdict, "bad: too-small.png: not used", "enrolment verdicts")
	id, err := WaitJS[string](tab, 10*time.Second, fmt.Sprintf(`(() => { const r = [...document.querySelectorAll('#persons tr[data-person]')].find(r => r.textContent.includes(%s)); return r ? r.dataset.person : ''; })()`, jsString(name)))
	require.NoError(t, err)
	status, err := Eval[int](tab, 10*time.Second, fmt.Sprintf(`fetch('/api/v1/persons/' + encodeURIComponent(%s), { method: 'DELETE', headers: {
		'X-CSRF-Token': decodeURIComponent((document.cookie.match(/snowlight_csrf=([^;]+)/) || [])[1] || ''),
		'X-Snowlight-Case': 'BT-ENROL-1', 'X-Snowlight-Reason': 'remove the browser test person' } }).then(r => r.status)`, jsString(id)))
	require.NoError(t, err, "remove the test person")
	require.Equal(t, 204, status, "remove the test person")
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
