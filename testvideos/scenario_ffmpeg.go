package testvideos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// The scenario renderer talks to ffmpeg through pipes of raw BGR frames: one process decodes a background,
// another encodes a camera's video. Both run single-threaded with bit-exact flags so the same spec gives
// the same bytes.

// stderrTail keeps the last few kilobytes ffmpeg wrote, for error messages.
type stderrTail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-4096:]...)
	}
	return len(p), nil
}

func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(bytes.ToValidUTF8(t.buf, nil)))
}

func ffmpegPath() (string, error) {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("ffmpeg is needed to read backgrounds and encode scenario videos: %w", err)
	}
	return p, nil
}

// frameReader reads fixed-size raw frames from an ffmpeg process.
type frameReader struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *stderrTail
	what   string
}

func startFrameReader(ctx context.Context, what string, args []string) (*frameReader, error) {
	bin, err := ffmpegPath()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1"}, args...)...)
	r := &frameReader{cmd: cmd, stderr: &stderrTail{}, what: what}
	cmd.Stderr = r.stderr
	if r.out, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("read %s: start ffmpeg: %w", what, err)
	}
	return r, nil
}

// read fills buf with the next frame; io.EOF after the last one.
func (r *frameReader) read(buf []byte) error {
	_, err := io.ReadFull(r.out, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if werr := r.wait(); werr != nil {
			return werr
		}
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.what, err)
	}
	return nil
}

func (r *frameReader) wait() error {
	if r.cmd == nil {
		return nil
	}
	err := r.cmd.Wait()
	r.cmd = nil
	if err != nil {
		return fmt.Errorf("read %s: ffmpeg: %w: %s", r.what, err, r.stderr)
	}
	return nil
}

// close stops ffmpeg if it is still running.
func (r *frameReader) close() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// h264Writer encodes raw BGR frames into a camera-like H.264 MP4: Main profile, no B-frames, a keyframe
// every second, fixed parameters, one thread, bit-exact muxing.
type h264Writer struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *stderrTail
	path   string
}

func startH264Writer(ctx context.Context, path string, w, h, fps int) (*h264Writer, error) {
	bin, err := ffmpegPath()
	if err != nil {
		return nil, err
	}
	g := strconv.Itoa(fps)
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "bgr24", "-s", fmt.Sprintf("%dx%d", w, h), "-framerate", g, "-i", "pipe:0",
		"-an", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
		"-bf", "0", "-g", g, "-keyint_min", g, "-sc_threshold", "0",
		"-crf", "23", "-maxrate", "4M", "-bufsize", "8M",
		// Cameras send no x264 version SEI; dropping it also keeps encoder text out of the bitstream.
		"-bsf:v", "filter_units=remove_types=6",
		"-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
		"-movflags", "+faststart", "-f", "mp4", path,
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	e := &h264Writer{cmd: cmd, stderr: &stderrTail{}, path: path}
	cmd.Stderr = e.stderr
	if e.in, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("encode %s: start ffmpeg: %w", path, err)
	}
	return e, nil
}

func (e *h264Writer) write(frame []byte) error {
	if _, err := e.in.Write(frame); err != nil {
		// A broken pipe means ffmpeg died: its own message says why.
		return fmt.Errorf("encode %s: %w: %s", e.path, err, e.stderr)
	}
	return nil
}

// finish flushes the encoder and waits for the file to be complete.
func (e *h264Writer) finish() error {
	if e.cmd == nil {
		return nil
	}
	cerr := e.in.Close()
	err := e.cmd.Wait()
	e.cmd = nil
	if err != nil {
		return fmt.Errorf("encode %s: ffmpeg: %w: %s", e.path, err, e.stderr)
	}
	if cerr != nil {
		return fmt.Errorf("encode %s: %w", e.path, cerr)
	}
	return nil
}

// abort stops the encoder without finishing the file.
func (e *h264Writer) abort() {
	if e.cmd == nil {
		return
	}
	_ = e.in.Close()
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
	e.cmd = nil
}

// frameSink hands frames to the encoder from its own goroutine, so drawing the next frame overlaps with
// ffmpeg taking the previous one (a pipe holds far less than one frame).
type frameSink struct {
	enc    *h264Writer
	frames chan []byte
	free   chan []byte
	done   chan error
	closed bool
}

const sinkDepth = 3

func newFrameSink(enc *h264Writer, size int) *frameSink {
	s := &frameSink{enc: enc, frames: make(chan []byte, sinkDepth), free: make(chan []byte, sinkDepth), done: make(chan error, 1)}
	for range sinkDepth {
		s.free <- make([]byte, size)
	}
	go func() {
		var err error
		for buf := range s.frames {
			if err == nil {
				err = enc.write(buf)
			}
			s.free <- buf
		}
		s.done <- err
	}()
	return s
}

// put queues a copy of frame.
func (s *frameSink) put(ctx context.Context, frame []byte) error {
	select {
	case buf := <-s.free:
		copy(buf, frame)
		s.frames <- buf
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish writes what is queued and completes the file.
func (s *frameSink) finish() error {
	s.closed = true
	close(s.frames)
	if err := <-s.done; err != nil {
		s.enc.abort()
		return err
	}
	return s.enc.finish()
}

// abort stops the encoder, then the goroutine; safe after finish.
func (s *frameSink) abort() {
	s.enc.abort()
	if !s.closed {
		s.closed = true
		close(s.frames)
		<-s.done
	}
}
