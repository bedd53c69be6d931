package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"snowlight/alerts"
	"snowlight/alerts/notify"
)

// inbox stands in for the patrol and guardian apps of the demo: it receives their webhooks, checks the
// signatures and logs what each would show, so a new user sees dispatches and guardian notices arrive.
type inbox struct {
	ln      net.Listener
	log     *slog.Logger
	secrets map[string][]byte // by receiver path, e.g. "patrol/p-corner"

	mu   sync.Mutex
	seen map[string]bool // idempotency keys acted on
}

func newInbox(log *slog.Logger) (*inbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &inbox{ln: ln, log: log, secrets: map[string][]byte{}, seen: map[string]bool{}}, nil
}

// receiver registers a receiver and returns its webhook URL and secret.
func (in *inbox) receiver(path string) (url, secret string) {
	b := make([]byte, 32)
	rand.Read(b)
	secret = hex.EncodeToString(b)
	in.secrets[path] = []byte(secret)
	return "http://" + in.ln.Addr().String() + "/" + path, secret
}

func (in *inbox) serve(ctx context.Context) {
	srv := &http.Server{Handler: in, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(in.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		in.log.Error("demo inbox stopped", "err", err)
	}
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	secret, ok := in.secrets[path]
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if !ok || err != nil {
		http.NotFound(w, r)
		return
	}
	if err := notify.Verify(secret, body, r.Header.Get(notify.SignatureHeader), time.Now(), 5*time.Minute); err != nil {
		in.log.Warn("demo inbox: refused a webhook", "receiver", path, "err", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	key := r.Header.Get(notify.IdempotencyKeyHeader)
	in.mu.Lock()
	repeat := in.seen[key]
	in.seen[key] = true
	in.mu.Unlock()
	if !repeat {
		var n alerts.Notice
		_ = json.Unmarshal(body, &n)
		who := ""
		if n.Person != nil {
			who = n.Person.Name
		}
		in.log.Info("demo inbox: notification received", "receiver", path, "topic", n.Topic, "alert", n.AlertID,
			"kind", n.Kind, "person", who, "where", n.Where, "when", n.When.Format(time.TimeOnly))
	}
	w.WriteHeader(http.StatusNoContent)
}
