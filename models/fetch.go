package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// ErrOffline is wrapped by Fetch when the source cannot be reached at all (no route, no DNS), as opposed
// to a source that answers with the wrong thing.
var ErrOffline = errors.New("model source unreachable")

// Fetch makes dir hold every model of list with verified bytes. Files already present and correct are
// kept; others are downloaded from Model.URL, verified in memory and only then written (via a temporary
// file and rename, so an interrupted run never leaves a plausible-looking partial file).
func Fetch(ctx context.Context, client *http.Client, dir string, list []Model, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fetch models: create %s: %w", dir, err)
	}
	for _, m := range list {
		path := filepath.Join(dir, m.File)
		if _, err := ReadVerified(path, m); err == nil {
			log.Info("model present and verified", "model", m.Name, "file", path)
			continue
		}
		log.Info("downloading model", "model", m.Name, "url", m.URL, "bytes", m.Size)
		data, err := download(ctx, client, m)
		if err != nil {
			return err
		}
		if err := Verify(data, m); err != nil {
			return fmt.Errorf("fetch model %s from %s: %w", m.Name, m.URL, err)
		}
		if err := writeAtomic(path, data); err != nil {
			return fmt.Errorf("fetch model %s: %w", m.Name, err)
		}
		log.Info("model downloaded and verified", "model", m.Name, "file", path, "sha256", m.SHA256)
	}
	return nil
}

func download(ctx context.Context, client *http.Client, m Model) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch model %s: %w", m.Name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var netErr net.Error
		var dnsErr *net.DNSError
		var opErr *net.OpError
		if errors.As(err, &dnsErr) || errors.As(err, &opErr) || (errors.As(err, &netErr) && netErr.Timeout()) {
			return nil, fmt.Errorf("fetch model %s from %s: %w (%v): this machine looks offline; copy the "+
				"files listed by `snowlight models` from a machine with internet into a directory and pass "+
				"--models DIR or set %s", m.Name, m.URL, ErrOffline, err, EnvDir)
		}
		return nil, fmt.Errorf("fetch model %s from %s: %w", m.Name, m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch model %s from %s: HTTP %s", m.Name, m.URL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, m.Size+1))
	if err != nil {
		return nil, fmt.Errorf("fetch model %s from %s: read body: %w", m.Name, m.URL, err)
	}
	return data, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
