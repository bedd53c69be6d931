package alerts_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/alerts/notify"
	"snowlight/watchlist"
)

// percentiles reports p50 and p95 of ds in milliseconds.
func percentiles(b *testing.B, ds []time.Duration, name string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(ds[len(ds)/2]), name+"-p50-ms")
	b.ReportMetric(ms(ds[len(ds)*95/100]), name+"-p95-ms")
}

// BenchmarkRaiseToStream measures the center's share of alert latency: from Raise (a rule fired) to
// the event arriving at a console's SSE connection, through the real SQLite store, hub and HTTP; and
// from Confirm to the guardian's webhook receiving its notice, through the outbox worker.
func BenchmarkRaiseToStream(b *testing.B) {
	hub, err := notify.NewHub[alerts.Event](notify.HubOptions{})
	require.NoError(b, err)
	got := make(chan time.Time, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- time.Now()
	}))
	defer hook.Close()
	var w *notify.Worker
	f := newFixture(b, "", func(o *alerts.Options) {
		o.TwoPersonRule = false
		o.Now = time.Now
		o.Publish = func(evs ...alerts.Event) {
			for _, ev := range evs {
				hub.Publish(alerts.StreamEvent(ev))
			}
		}
		o.Kick = func() { w.Kick() }
		o.Guardians = guardianAll{}
	})
	eng := f.eng
	w, err = notify.NewWorker(f.db, notify.StaticReceivers{"guardian": {URL: hook.URL, Secret: hookSecret}}, notify.WorkerOptions{})
	require.NoError(b, err)
	ctx := b.Context()
	go w.Run(ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.Serve(w, r, notify.StreamOptions[alerts.Event]{Replay: eng.Replay})
	}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for hub.Clients() == 0 {
		time.Sleep(time.Millisecond)
	}
	var toStream, toWebhook []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := &alerts.Person{ID: fmt.Sprintf("p%d", i), Name: "Person", Category: watchlist.AtRisk}
		start := time.Now()
		a, _, err := eng.Raise(ctx, alerts.Trigger{Kind: alerts.WatchlistHit, At: start, Person: p, Place: camElm,
			Evidence: alerts.Evidence{Sightings: []string{"s"}, FaceCrops: []string{"face/x.jpg"}, Scores: []float32{0.7}}})
		require.NoError(b, err)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), a.ID) {
				break
			}
		}
		toStream = append(toStream, time.Since(start))
		start = time.Now()
		_, err = eng.Confirm(ctx, a.ID, "olga")
		require.NoError(b, err)
		toWebhook = append(toWebhook, (<-got).Sub(start))
		for sc.Scan() { // the confirmation's stream event
			if strings.HasPrefix(sc.Text(), "data: ") {
				break
			}
		}
	}
	b.StopTimer()
	percentiles(b, toStream, "raise-to-sse")
	percentiles(b, toWebhook, "confirm-to-webhook")
}

type guardianAll struct{}

func (guardianAll) GuardiansOf(_ context.Context, _ string) ([]string, error) {
	return []string{"guardian"}, nil
}
