package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// reqInfo collects what the access log reports about a request as it passes the layers.
type reqInfo struct {
	route, user, role string
	err               error
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// outer is what every request passes, matched or not: security headers, cross-origin refusal of
// state-changing requests, panic recovery, metrics and the access log.
func (s *Server) outer(next http.Handler) http.Handler {
	next = s.origins.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			// API answers are per user and often identify people: never keep them in a cache.
			h.Set("Cache-Control", "no-store")
		}
		info := &reqInfo{route: "unmatched"}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				info.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				if sw.status == 0 {
					WriteError(sw, http.StatusInternalServerError, "internal error: the server logged the details; try again or tell an administrator")
				}
			}
			s.finish(r, sw, info, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// finish logs the request and counts it. Only the path is logged: never the query (it may hold a
// reason naming a person), headers, cookies or bodies.
func (s *Server) finish(r *http.Request, sw *statusWriter, info *reqInfo, d time.Duration) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.observe(info.route, status, d)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", info.route),
		slog.Int("status", status),
		slog.Int64("bytes", sw.bytes),
		slog.Duration("dur", d),
		slog.String("client", s.clientAddr(r).String()),
	}
	if info.user != "" {
		attrs = append(attrs, slog.String("user", info.user), slog.String("role", info.role))
	}
	level := slog.LevelInfo
	if info.err != nil {
		attrs = append(attrs, slog.String("err", info.err.Error()))
		level = slog.LevelError
	}
	s.log.LogAttrs(r.Context(), level, "http request", attrs...)
}

// dispatch answers unmatched paths and wrong methods with JSON errors instead of ServeMux's plain text.
func dispatch(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			WriteError(w, http.StatusNotFound, "no such page or API endpoint")
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			WriteError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed here; use %s", r.Method, rec.header.Get("Allow")))
		default: // redirects to the canonical path
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			w.Write(rec.body.Bytes())
		}
	})
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// statusWriter remembers the status and size of a response. It passes Flush through (server-sent
// events need it) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush() // a writer that cannot flush has nothing to flush
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
