package browsertest

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Phone is the viewport the patrol page is tested at: a current phone held upright.
const (
	PhoneWidth  = 390
	PhoneHeight = 844
)

// findPeople runs the investigation page's searches on the trajectory shown: "find similar" from one of
// its sightings, following a hit's trajectory in one click, a description built from the colour chips
// (read back by the server), and a search by an uploaded picture when photo is set.
func findPeople(t *testing.T, tab *Tab, photo string, shot func(*testing.T, *Tab, string)) {
	t.Helper()
	require.NoError(t, tab.Do(10*time.Second, chromedp.Click(chromedp.CSS(`#inv-list-result [data-like]`))))
	n, err := WaitJS[int](tab, 20*time.Second, `document.querySelectorAll('#srch-results .hit').length`)
	require.NoError(t, err)
	first, err := Eval[string](tab, 5*time.Second, `document.querySelector('#srch-results .hit').textContent`)
	require.NoError(t, err)
	assert.Contains(t, first, "alike", "a hit of a search by example, want its similarity")
	t.Logf("find similar: %d sightings", n)
	shot(t, tab, "07g-find-similar")

	// One click on a hit shows its trajectory.
	id, err := Eval[string](tab, 5*time.Second, `document.querySelector('#srch-results .hit').dataset.sighting`)
	require.NoError(t, err)
	require.NoError(t, clickJS(tab, 5*time.Second, `#srch-results .hit [data-follow]`))
	_, err = WaitJS[bool](tab, 15*time.Second, fmt.Sprintf(`!!document.querySelector('#inv-list-result .sighting[data-sighting=%s]')`, jsString(id)))
	require.NoError(t, err)

	// A description from the chips, read back before searching. Clicked through the page's script: the
	// trajectory above is still loading its pictures, which moves the chips under a pointer.
	require.NoError(t, clickJS(tab, 5*time.Second, `.chips[data-part=upper] [data-colour=red]`))
	require.NoError(t, clickJS(tab, 5*time.Second, `.chips[data-part=lower] [data-colour=dark]`))
	if _, err = WaitJS[string](tab, 10*time.Second, `(() => { const t = document.getElementById('srch-preview').textContent; return t.includes('top red') && t.includes('bottom dark') ? t : ''; })()`); err != nil {
		got, _ := Eval[string](tab, 5*time.Second, `document.getElementById('srch-colours').value + ' / ' + document.getElementById('srch-preview').textContent`)
		require.NoError(t, err, "the chips red (top) and dark (bottom) gave %q", got)
	}
	text, err := Eval[string](tab, 5*time.Second, `document.getElementById('srch-colours').value`)
	require.NoError(t, err)
	assert.Equal(t, "red top, dark trousers", text, "what the chips wrote")
	require.NoError(t, tab.Do(10*time.Second, chromedp.Click(chromedp.CSS(`#srch-go`))))
	_, err = WaitJS[bool](tab, 20*time.Second, `!!document.querySelector('#srch-results .hit, #srch-none')`)
	require.NoError(t, err)
	shot(t, tab, "07h-find-by-description")

	if photo != "" {
		_, err = Eval[chromedp.Void](tab, 5*time.Second, `(() => { document.getElementById('srch-colours').value = ''; document.querySelector('#srch-results').textContent = ''; })()`)
		if err != nil && !strings.Contains(err.Error(), "undefined") {
			require.NoError(t, err)
		}
		require.NoError(t, tab.Do(10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#srch-crop"), []string{photo})))
		_, err = WaitJS[bool](tab, 10*time.Second, `document.getElementById('srch-example').textContent.includes('the picture')`)
		require.NoError(t, err)
		require.NoError(t, tab.Do(10*time.Second, chromedp.Click(chromedp.CSS(`#srch-go`))))
		_, err = WaitJS[bool](tab, 30*time.Second, `!!document.querySelector('#srch-results .hit, #srch-none')`)
		require.NoError(t, err)
	}
}

// clickJS waits up to timeout for the element sel selects and clicks it through the page's script, in
// the same evaluation that finds it, wherever it is on the screen: a page that renders the element
// again on a live update (the patrol phone) cannot swap it between finding and clicking, as it can
// under chromedp.Click.
func clickJS(tab *Tab, timeout time.Duration, sel string) error {
	_, err := WaitJS[bool](tab, timeout, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e || e.disabled) return false; e.click(); return true; })()`, jsString(sel)))
	return err
}

// exportCase exports the trajectory shown for the case through the dialog, waits for the bundle and
// downloads it through the page's own link into dir; it returns the bundle's path.
func exportCase(t *testing.T, tab *Tab, dir string, shot func(*testing.T, *Tab, string)) string {
	t.Helper()
	require.NoError(t, tab.Do(10*time.Second, chromedp.Click(chromedp.CSS(`#inv-export`))))
	fp, err := WaitJS[string](tab, 10*time.Second, `(() => { const t = document.getElementById('export-fingerprint').textContent; return t !== '…' ? t : ''; })()`)
	require.NoError(t, err)
	shot(t, tab, "07e-export-dialog")
	require.NoError(t, tab.Do(10*time.Second, chromedp.Click(chromedp.CSS(`#export-start`))))
	state, err := WaitJS[string](tab, 5*time.Minute, `document.querySelector('#export-done') ? 'done' : document.querySelector('#export-failed') ? document.querySelector('#export-failed').textContent : ''`)
	require.NoError(t, err)
	require.Equal(t, "done", state, "the export's state")
	shot(t, tab, "07f-export-done")
	b64, err := Eval[string](tab, 60*time.Second, `fetch(document.getElementById('export-download').href).then(r => {
		if (!r.ok) throw new Error('download: ' + r.status);
		return r.arrayBuffer();
	}).then(b => { const u = new Uint8Array(b); let s = ''; for (let i = 0; i < u.length; i += 32768) s += String.fromCharCode(...u.subarray(i, i + 32768)); return btoa(s); })`)
	require.NoError(t, err)
	data, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	path := filepath.Join(dir, "case-bundle.zip")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	t.Logf("exported a bundle of %d bytes signed by %s", len(data), fp)
	return path
}

// PatrolPhone is the patrol's page on a phone, followed from waiting through a dispatch to resolution.
type PatrolPhone struct {
	tab  *Tab
	shot func(*testing.T, *Tab, string)
}

// openPatrolPhone logs the patrol in on tab, sized as a phone, and waits for the page to say the unit
// is sent nowhere yet.
func openPatrolPhone(t *testing.T, tab *Tab, base string, a Account, shot func(*testing.T, *Tab, string)) *PatrolPhone {
	t.Helper()
	require.NoError(t, tab.Do(10*time.Second, chromedp.EmulateViewport(PhoneWidth, PhoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile,
		chromedp.EmulateTouch, chromedp.EmulatePortrait)))
	require.NoError(t, tab.Login(base, a))
	require.NoError(t, tab.Go("#/patrol", "patrol"))
	_, err := WaitJS[bool](tab, 15*time.Second, `!!document.getElementById('pt-idle') && window.snowlight.stream.state === 'live'`)
	require.NoError(t, err)
	_, err = Eval[int](tab, 5*time.Second, `window.__sameDocument = 1`)
	require.NoError(t, err)
	shot(t, tab, "11a-patrol-waiting")
	return &PatrolPhone{tab: tab, shot: shot}
}

// sent waits for the dispatch of alert to show without a reload, with the person's pictures, the map
// and the first step at the bottom of the screen, and acknowledges it (a unit that does not within the
// acknowledgement timeout is passed over).
func (p *PatrolPhone) sent(t *testing.T, alert string) {
	t.Helper()
	tab := p.tab
	_, err := WaitJS[bool](tab, 20*time.Second, fmt.Sprintf(`document.body.dataset.assignment === %s && (document.getElementById('pt-status')||{}).dataset?.status === 'dispatched'`, jsString(alert)))
	require.NoError(t, err)
	same, err := Eval[int](tab, 5*time.Second, `window.__sameDocument || 0`)
	assert.NoError(t, err)
	assert.Equal(t, 1, same, "the patrol page reloaded to show the dispatch")
	pics, err := WaitJS[int](tab, 10*time.Second, `[...document.querySelectorAll('.pt-photos img')].filter((i) => i.complete && i.naturalWidth > 0).length`)
	assert.NoError(t, err, "the assignment shows no picture of the person")
	assert.GreaterOrEqual(t, pics, 1, "pictures of the person on the assignment")
	n, err := Eval[int](tab, 5*time.Second, `document.querySelectorAll('#pt svg.map .path-point, #pt svg.map .unit').length`)
	assert.NoError(t, err)
	assert.GreaterOrEqual(t, n, 1, "the assignment's map shows neither where the person was seen nor the unit")
	p.checkReadable(t)
	p.shot(t, tab, "11b-patrol-dispatched")
	p.step(t, "ack", "acknowledged")
}

// checkReadable checks what sunlight and one thumb need: nothing wider than the screen, black-on-white
// text with a contrast of at least 7:1 (WCAG AAA), and the steps as buttons at least 56 px tall in the
// lower part of the screen, where a thumb reaches.
func (p *PatrolPhone) checkReadable(t *testing.T) {
	t.Helper()
	got, err := Eval[[]float64](p.tab, 5*time.Second, `(() => {
		const rgb = (s) => (s.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
		const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((m, n) => n - m); return (x + 0.05) / (y + 0.05); };
		const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (!/rgba\(.*, 0\)|transparent/.test(c)) return rgb(c); } return [255, 255, 255]; };
		const contrast = (el) => ratio(rgb(getComputedStyle(el).color), bg(el));
		const btns = [...document.querySelectorAll('#pt-actions button')];
		const r = btns.map((b) => b.getBoundingClientRect());
		return [document.documentElement.scrollWidth, innerWidth, contrast(document.getElementById('pt-title')),
			Math.min(...btns.map(contrast)), Math.min(...r.map((x) => x.height)), Math.min(...r.map((x) => x.top)), Math.max(...r.map((x) => x.bottom)), innerHeight, btns.length];
	})()`)
	require.NoError(t, err, "measure the patrol page")
	require.Len(t, got, 9, "measure the patrol page")
	scrollW, w, title, buttons, minH, top, bottom, h, n := got[0], got[1], got[2], got[3], got[4], got[5], got[6], got[7], got[8]
	require.GreaterOrEqual(t, n, 1.0, "no step to take on the patrol page")
	assert.LessOrEqual(t, scrollW, w, "the page's width on the screen's: it scrolls sideways")
	// At least 7:1 to read in sunlight.
	assert.GreaterOrEqual(t, title, 7.0, "the title's contrast")
	assert.GreaterOrEqual(t, buttons, 7.0, "the buttons' contrast")
	assert.GreaterOrEqual(t, minH, 56.0, "the step buttons' height, for a thumb")
	assert.GreaterOrEqual(t, top, h*0.55, "the step buttons' top on a %v px screen, want them in its lower part", h)
	assert.LessOrEqual(t, bottom, h, "the step buttons' bottom on a %v px screen", h)
	t.Logf("patrol page: contrast %.1f:1 title, %.1f:1 buttons; %d steps, %v px tall, %v-%v of %v px", title, buttons, int(n), minH, top, bottom, h)
}

// step takes one step of the assignment on the phone and waits for the page to show the status the
// server answered with.
func (p *PatrolPhone) step(t *testing.T, action, status string) {
	t.Helper()
	tab := p.tab
	require.NoError(t, clickJS(tab, 10*time.Second, fmt.Sprintf(`#pt-actions button[data-action=%q]`, action)))
	_, err := WaitJS[bool](tab, 15*time.Second, fmt.Sprintf(`(document.getElementById('pt-status')||{}).dataset?.status === %q`, status))
	require.NoError(t, err)
	p.checkReadable(t)
	p.shot(t, tab, "11c-patrol-"+status)
}

// resolve reports the unit on scene and resolves the alert on the phone, until the page says the unit
// is free again and the server says the alert is resolved.
func (p *PatrolPhone) resolve(t *testing.T, alert string) {
	t.Helper()
	tab := p.tab
	p.step(t, "on_scene", "on_scene")
	require.NoError(t, clickJS(tab, 10*time.Second, `#pt-actions button[data-action="resolve"]`))
	_, err := WaitJS[bool](tab, 15*time.Second, `!!document.getElementById('pt-idle')`)
	require.NoError(t, err)
	st, err := Eval[string](tab, 10*time.Second, fmt.Sprintf(`fetch('/api/v1/alerts/' + encodeURIComponent(%s)).then(r => r.json()).then(a => a.status)`, jsString(alert)))
	assert.NoError(t, err)
	assert.Equal(t, "resolved", st, "the server's status of the alert")
	p.shot(t, tab, "11d-patrol-resolved")
	assert.Empty(t, tab.Problems(), "the patrol page reported problems")
}

// CheckBundle checks a downloaded bundle as its recipient would, with verify (`snowlight case verify`,
// or casebundle.VerifyFile): it verifies as it is, and fails once any one byte of any file in it is
// changed (each file stored again with one bit flipped in its middle).
func CheckBundle(t *testing.T, path string, verify func(path string) error) {
	t.Helper()
	require.NoError(t, verify(path), "the exported bundle does not verify")
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
	}
	for _, changed := range zr.File {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			data := bytes.Clone(files[f.Name])
			if f.Name == changed.Name && len(data) > 0 {
				data[len(data)/2] ^= 1
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified})
			require.NoError(t, err)
			_, err = w.Write(data)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		p := filepath.Join(t.TempDir(), "changed.zip")
		require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
		assert.Error(t, verify(p), "a bundle with one byte of %s changed verifies", changed.Name)
	}
	t.Logf("the bundle verifies, and fails with one byte changed in any of its %d files", len(zr.File))
}
