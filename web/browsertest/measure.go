package browsertest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// FirstFrame plays camera in a logged-in tab with the console's own WHEP player (a video element of its
// own, outside any page) and returns the time from posting the offer to the first decoded frame.
func FirstFrame(tab *Tab, camera string) (time.Duration, error) {
	js := fmt.Sprintf(`(async () => {
		const { WhepPlayer } = await import('/assets/whep.js');
		const v = document.createElement('video');
		v.muted = true; v.autoplay = true;
		document.body.append(v);
		const p = new WhepPlayer(%s, v);
		await p.start();
		const t0 = performance.now();
		while (!p.firstFrameMs) {
			if (performance.now() - t0 > 10000) throw new Error('no frame within 10 s');
			await new Promise((r) => setTimeout(r, 5));
		}
		const ms = p.firstFrameMs;
		p.stop(); v.remove();
		return ms;
	})()`, jsString(camera))
	ms, err := Eval[float64](tab, 20*time.Second, js)
	if err != nil {
		return 0, fmt.Errorf("first frame of %s: %w", camera, err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Load is what loading the console once with an empty cache took.
type Load struct {
	Load     time.Duration // to the load event
	Ready    time.Duration // to the login form shown
	Wire     float64       // bytes transferred (compressed)
	Decoded  float64       // bytes of the files
	Requests float64
}

// FirstLoad opens the console at base in a new browser context (an empty cache) and measures it.
func (b *Browser) FirstLoad(t testing.TB, base string) (Load, error) {
	tab := b.NewTab(t)
	defer tab.cancel()
	if err := tab.Do(20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form"))); err != nil {
		return Load{}, fmt.Errorf("load the console: %w", err)
	}
	s, err := Eval[string](tab, 10*time.Second, `(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource');
		const all = [nav, ...res];
		return JSON.stringify({
			load: nav.loadEventEnd, ready: performance.now(),
			wire: all.reduce((s, e) => s + e.transferSize, 0),
			body: all.reduce((s, e) => s + e.decodedBodySize, 0),
			reqs: all.length });
	})()`)
	if err != nil {
		return Load{}, err
	}
	var m struct{ Load, Ready, Wire, Body, Reqs float64 }
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Load{}, err
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return Load{Load: ms(m.Load), Ready: ms(m.Ready), Wire: m.Wire, Decoded: m.Body, Requests: m.Reqs}, nil
}

// ReportFirstFrames reports the p50, p95 and maximum of offer-to-frame times in milliseconds.
func ReportFirstFrames(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	ms := make([]float64, len(d))
	for i, x := range d {
		ms[i] = float64(x) / float64(time.Millisecond)
	}
	slices.Sort(ms)
	b.ReportMetric(ms[len(ms)/2], "p50-ms")
	b.ReportMetric(ms[(len(ms)*95+99)/100-1], "p95-ms")
	b.ReportMetric(ms[len(ms)-1], "max-ms")
}

// ReportLoads reports the medians of console loads.
func ReportLoads(b *testing.B, ls []Load) {
	if len(ls) == 0 {
		return
	}
	med := func(f func(Load) float64) float64 {
		x := make([]float64, len(ls))
		for i, l := range ls {
			x[i] = f(l)
		}
		slices.Sort(x)
		return x[len(x)/2]
	}
	b.ReportMetric(med(func(l Load) float64 { return float64(l.Load) / float64(time.Millisecond) }), "load-ms")
	b.ReportMetric(med(func(l Load) float64 { return float64(l.Ready) / float64(time.Millisecond) }), "form-ms")
	b.ReportMetric(med(func(l Load) float64 { return l.Wire }), "wire-bytes")
	b.ReportMetric(med(func(l Load) float64 { return l.Decoded }), "decoded-bytes")
	b.ReportMetric(med(func(l Load) float64 { return l.Requests }), "requests")
}
