// Package childproc runs a server binary as a child process (MinIO, nats-server for tests and
// benchmarks): in its own process group and killed with its parent, so a test or a `snowlight bench`
// killed by its timeout leaves nothing on the port; output appended to a log file; ready when an
// HTTP health URL answers 200; stopped with a signal, SIGKILL after 10 s.
package childproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is one server process, or while stopped, what starts it again.
type Proc struct {
	Bin     string
	Args    []string
	Env     []string // added to the parent's environment
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches the process; it does not wait for it to be ready.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.Bin)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%s log: %w", p.Bin, err)
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// WaitHealthy polls url until it answers 200, the process exits, or limit passes; on failure the
// process is killed and the error carries the log's tail.
func (p *Proc) WaitHealthy(url string, limit time.Duration) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	err := fmt.Errorf("no answer from %s within %v", url, limit)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			err = errors.New("process exited")
			deadline = time.Now()
			continue
		default:
		}
		resp, gerr := client.Get(url)
		if gerr == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Signal(syscall.SIGKILL)
	return fmt.Errorf("%s not ready: %w\n%s", p.Bin, err, p.LogTail(4000))
}

// Signal sends sig to the process group and waits for the process to exit, sending SIGKILL after
// 10 s. It does nothing when the process is not running.
func (p *Proc) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// Running reports whether the process is up.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// LogTail returns the last n bytes of the log.
func (p *Proc) LogTail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
