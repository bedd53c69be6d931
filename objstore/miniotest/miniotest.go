// Package miniotest runs a real MinIO server for tests: bound to 127.0.0.1 on free ports, data in a
// temporary directory, stopped when the test ends. It can stop and restart the server on the same port
// and data so tests can take MinIO away in the middle of their work.
package miniotest

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"snowlight/internal/gobin"
	"snowlight/internal/testproc"
	"snowlight/objstore"
)

// Server is one MinIO server process (or, while stopped, the port and data it will come back on).
type Server struct {
	// Endpoint is host:port of the S3 API.
	Endpoint             string
	AccessKey, SecretKey string
	// DataDir holds the objects; it survives Stop and Start.
	DataDir string

	proc testproc.Proc
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
		Endpoint:  "127.0.0.1:" + strconv.Itoa(testproc.FreePort(t)),
		AccessKey: "snowlight-test",
		SecretKey: "snowlight-test-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		DataDir:   filepath.Join(dir, "data"),
	}
	s.proc = testproc.Proc{Bin: bin, LogPath: filepath.Join(dir, "minio.log"),
		Args: []string{"server", "--quiet", "--address", s.Endpoint, "--console-address", "127.0.0.1:" + strconv.Itoa(testproc.FreePort(t)), s.DataDir},
		Env: []string{"MINIO_ROOT_USER=" + s.AccessKey, "MINIO_ROOT_PASSWORD=" + s.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off"}}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("minio log:\n%s", s.proc.LogTail(4000))
		}
	})
	require.NoError(t, s.Start())
	return s
}

// Config is the objstore configuration for a bucket on this server.
func (s *Server) Config(bucket string) objstore.MinIOConfig {
	return objstore.MinIOConfig{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Bucket: bucket}
}

// Start (re)starts the server on the same port and data directory and waits until it serves bucket
// operations.
func (s *Server) Start() error {
	const limit = 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := s.proc.Start(); err != nil {
		return err
	}
	if err := s.proc.WaitHealthy("http://"+s.Endpoint+"/minio/health/live", limit); err != nil {
		return err
	}
	if err := s.waitInitialized(ctx); err != nil {
		s.Kill()
		return fmt.Errorf("minio at %s: %w\n%s", s.Endpoint, err, s.proc.LogTail(4000))
	}
	return nil
}

// waitInitialized polls a bucket operation while MinIO answers "Server not initialized yet". MinIO
// answers its liveness check as soon as it listens, before its object layer is up, and until then every
// bucket operation fails that way (503); objstore's client retries it only twice, which a loaded
// machine's start-up outlasts.
func (s *Server) waitInitialized(ctx context.Context) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	for {
		_, err = c.ListBuckets(ctx)
		if minio.ToErrorResponse(err).Code != "XMinioServerNotInitialized" {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still not initialized: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// client is an S3 client for the server that makes one attempt per call.
func (s *Server) client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), MaxRetries: 1})
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and waits for it; the port and data
// are kept for Start. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.proc.Signal(syscall.SIGTERM) }

// Kill stops the server abruptly (SIGKILL), as a crash or a pulled cable would.
func (s *Server) Kill() { s.proc.Signal(syscall.SIGKILL) }

// Running reports whether the server process is up.
func (s *Server) Running() bool { return s.proc.Running() }

// Ready reports whether the server serves bucket operations now (its liveness check answers earlier).
func (s *Server) Ready(ctx context.Context) bool {
	c, err := s.client()
	if err != nil {
		return false
	}
	_, err = c.ListBuckets(ctx)
	return err == nil
}
