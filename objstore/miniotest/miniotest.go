// Package miniotest runs a real MinIO server for tests: bound to 127.0.0.1 on free ports, data in a
// temporary directory, stopped when the test ends. It can stop and restart the server on the same port
// and data so tests can take MinIO away in the middle of their work.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"snowlight/internal/gobin"
	"snowlight/objstore"
)

// Server is one MinIO server process (or, while stopped, the port and data it will come back on).
type Server struct {
	// Endpoint is host:port of the S3 API.
	Endpoint             string
	AccessKey, SecretKey string
	// DataDir holds the objects; it survives Stop and Start.
	DataDir string

	bin, consoleAddr, logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Binary finds the MinIO server: $SNOWLIGHT_MINIO, then $GOBIN or $(go env GOPATH)/bin, where
// scripts/setup.sh installs it, then $PATH.
func Binary() (string, error) { return gobin.Find("minio", "SNOWLIGHT_MINIO") }

// Start starts a MinIO server for the test and stops it (removing its data) when the test ends. It
// skips the test, saying why, when no MinIO binary is installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skipf("skipping: needs a real MinIO server: %v", err)
	}
	dir := t.TempDir()
	s := &Server{
		Endpoint:    "127.0.0.1:" + strconv.Itoa(freePort(t)),
		consoleAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		AccessKey:   "snowlight-test",
		SecretKey:   "snowlight-test-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		DataDir:     filepath.Join(dir, "data"),
		logPath:     filepath.Join(dir, "minio.log"),
		bin:         bin,
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("minio log:\n%s", s.logTail())
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Config is the objstore configuration for a bucket on this server.
func (s *Server) Config(bucket string) objstore.MinIOConfig {
	return objstore.MinIOConfig{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Bucket: bucket}
}

// Start (re)starts the server on the same port and data directory and waits until it is ready.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("minio: already running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("minio log: %w", err)
	}
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.Endpoint, "--console-address", s.consoleAddr, s.DataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a Go test killed by a timeout does not leave it orphaned on the port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start minio: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done, 60*time.Second); err != nil {
		s.stopLocked(syscall.SIGKILL)
		return fmt.Errorf("minio did not become ready: %w\n%s", err, s.logTail())
	}
	return nil
}

func (s *Server) waitReady(done <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("process exited")
		default:
		}
		resp, err := client.Get("http://" + s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer from /minio/health/live within %v", limit)
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and waits for it; the port and data
// are kept for Start. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGTERM)
}

// Kill stops the server abruptly (SIGKILL), as a crash or a pulled cable would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGKILL)
}

func (s *Server) stopLocked(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Ready reports whether the server answers its liveness check now.
func (s *Server) Ready(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Endpoint+"/minio/health/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}
