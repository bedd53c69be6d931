package objstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signer makes and checks the presigned URLs of the local store: base URL + key + an expiry time and an
// HMAC-SHA256 over both, so the web server can serve an object to whoever holds the link, until it
// expires, without a session.
type Signer struct {
	secret []byte
	base   string // e.g. "/api/v1/objects"; the key follows after a slash
	now    func() time.Time
	maxAge time.Duration
}

// ErrBadSignature means a presigned URL was altered, expired or made with another secret.
var ErrBadSignature = errors.New("invalid or expired object link")

// MaxPresignExpiry bounds how long a presigned link may live: they are bearer tokens for evidence.
const MaxPresignExpiry = 24 * time.Hour

// NewSigner returns a signer for links under base (a path such as "/api/v1/objects" or an absolute URL).
// secret must be at least 32 bytes; keep it stable across restarts or links already handed out die.
func NewSigner(secret []byte, base string, now func() time.Time) (*Signer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("object link secret: need at least 32 bytes, got %d", len(secret))
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{secret: append([]byte(nil), secret...), base: strings.TrimRight(base, "/"), now: now, maxAge: MaxPresignExpiry}, nil
}

// Sign returns the link for key, valid for expiry (at most MaxPresignExpiry).
func (s *Signer) Sign(key string, expiry time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if expiry <= 0 || expiry > s.maxAge {
		return "", fmt.Errorf("presign %s: expiry %v outside (0, %v]", key, expiry, s.maxAge)
	}
	exp := s.now().Add(expiry).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {s.mac(key, exp)}}
	// Keys contain only unreserved URL characters (ValidateKey), so they need no escaping.
	return s.base + "/" + key + "?" + q.Encode(), nil
}

// Verify checks a presigned link's key and query and returns nil if it is authentic and unexpired.
func (s *Signer) Verify(key string, query url.Values) error {
	if err := ValidateKey(key); err != nil {
		return ErrBadSignature
	}
	exp, err := strconv.ParseInt(query.Get("expires"), 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(query.Get("sig"))
	if err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(s.mac(key, exp))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	if s.now().Unix() > exp {
		return fmt.Errorf("%w: expired at %s", ErrBadSignature, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

func (s *Signer) mac(key string, exp int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "GET\n%s\n%d", key, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// Handler serves the objects of d to holders of a valid presigned link. Mount it at the signer's base
// path with http.StripPrefix so that the request path is the key. It answers 403 for a bad or expired
// link (never saying whether the object exists), 404 for a deleted object, and supports Range requests
// so browsers can seek in clips.
func (d *Dir) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if d.signer == nil {
			http.Error(w, "object links are not enabled", http.StatusNotFound)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/")
		if err := d.signer.Verify(key, r.URL.Query()); err != nil {
			http.Error(w, "invalid or expired link", http.StatusForbidden)
			return
		}
		rc, info, err := d.Get(r.Context(), key)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				http.Error(w, "object not found", http.StatusNotFound)
				return
			}
			http.Error(w, "object store error", http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		// Never let a stored object be sniffed into HTML: evidence must not become script.
		ct := info.ContentType
		if ct == "" || strings.Contains(strings.ToLower(ct), "html") {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("ETag", `"`+info.SHA256+`"`)
		// Evidence identifies people: no cache, shared or the browser's, keeps a copy past the link.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", info.Created, rc.(io.ReadSeeker))
	})
}
