package objstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// MinIOConfig says where the bucket is.
type MinIOConfig struct {
	Endpoint  string // host:port of the S3 API
	AccessKey string
	SecretKey string
	Secure    bool   // HTTPS
	Bucket    string // created if missing
	Region    string // default us-east-1
	// PublicEndpoint is the host:port browsers use to reach MinIO, when it differs from Endpoint (for
	// example behind a reverse proxy); presigned URLs are signed for it. PublicSecure is its scheme.
	PublicEndpoint string
	PublicSecure   bool
}

// MinIO is a Store in a MinIO (or any S3-compatible) bucket.
type MinIO struct {
	c, public *minio.Client
	bucket    string
}

// user metadata names (sent as X-Amz-Meta-*).
const (
	metaSHA256  = "Snowlight-Sha256"
	metaAlert   = "Snowlight-Alert"
	metaCamera  = "Snowlight-Camera"
	metaStart   = "Snowlight-Start"
	metaEnd     = "Snowlight-End"
	metaCreated = "Snowlight-Created"
)

// OpenMinIO connects to the bucket, creating it if it does not exist.
func OpenMinIO(ctx context.Context, cfg MinIOConfig) (*MinIO, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("open MinIO: endpoint and bucket are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	opts := func(secure bool) *minio.Options {
		return &minio.Options{
			Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
			Secure: secure,
			// A known region keeps presigning offline (no bucket-location request).
			Region: cfg.Region,
			// Needed for the x-amz-checksum-sha256 header that makes the server verify content.
			TrailingHeaders: true,
			// The spool retries with its own backoff; the client's ten retries would only make a
			// caller wait while MinIO is down.
			MaxRetries: 2,
		}
	}
	c, err := minio.New(cfg.Endpoint, opts(cfg.Secure))
	if err != nil {
		return nil, fmt.Errorf("open MinIO %s: %w", cfg.Endpoint, err)
	}
	public := c
	if cfg.PublicEndpoint != "" {
		if public, err = minio.New(cfg.PublicEndpoint, opts(cfg.PublicSecure)); err != nil {
			return nil, fmt.Errorf("open MinIO public endpoint %s: %w", cfg.PublicEndpoint, err)
		}
	}
	m := &MinIO{c: c, public: public, bucket: cfg.Bucket}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open MinIO %s: check bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("open MinIO %s: create bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
		}
	}
	return m, nil
}

// Bucket is the bucket's name.
func (m *MinIO) Bucket() string { return m.bucket }

// Put implements Store. The upload is a single PUT with If-None-Match: * (create-only on the server,
// so two racing uploads of one key cannot both win) and x-amz-checksum-sha256 (the server refuses
// content that does not hash to it).
func (m *MinIO) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if err := checkPut(key, size, opts); err != nil {
		return Info{}, err
	}
	sum, _ := hex.DecodeString(opts.SHA256)
	created := time.Now().UTC()
	meta := map[string]string{
		"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum),
		metaSHA256:              strings.ToLower(opts.SHA256),
		metaCreated:             created.Format(time.RFC3339Nano),
	}
	setMeta(meta, metaAlert, opts.Meta.AlertID)
	setMeta(meta, metaCamera, opts.Meta.Camera)
	setTime(meta, metaStart, opts.Meta.Start)
	setTime(meta, metaEnd, opts.Meta.End)
	po := minio.PutObjectOptions{
		UserMetadata:     meta,
		ContentType:      opts.ContentType,
		DisableMultipart: true,
	}
	po.SetMatchETagExcept("*")
	_, err := m.c.PutObject(ctx, m.bucket, key, newVerifyingReader(r, size, opts.SHA256), size, po)
	if err != nil {
		return Info{}, fmt.Errorf("put %s: %w", key, m.mapErr(err))
	}
	return Info{Key: key, Size: size, SHA256: strings.ToLower(opts.SHA256), ContentType: opts.ContentType, Meta: opts.Meta, Created: created}, nil
}

// Get implements Store.
func (m *MinIO) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	obj, err := m.c.GetObject(ctx, m.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, fmt.Errorf("get %s: %w", key, m.mapErr(err))
	}
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, Info{}, fmt.Errorf("get %s: %w", key, m.mapErr(err))
	}
	return obj, infoFrom(key, oi.Size, oi.ContentType, oi.LastModified, oi.UserMetadata), nil
}

// Stat implements Store.
func (m *MinIO) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	oi, err := m.c.StatObject(ctx, m.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", key, m.mapErr(err))
	}
	return infoFrom(key, oi.Size, oi.ContentType, oi.LastModified, oi.UserMetadata), nil
}

// Delete implements Store. S3 deletes succeed on missing keys, so Delete asks first to report
// ErrNotFound (which the retention job relies on to tell "already gone" from "deleted now").
func (m *MinIO) Delete(ctx context.Context, key string) error {
	if _, err := m.Stat(ctx, key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := m.c.RemoveObject(ctx, m.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, m.mapErr(err))
	}
	return nil
}

// List implements Store.
func (m *MinIO) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops the lister goroutine when the caller breaks early
		for oi := range m.c.ListObjects(ctx, m.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithMetadata: true}) {
			if oi.Err != nil {
				yield(Info{}, fmt.Errorf("list %q: %w", prefix, m.mapErr(oi.Err)))
				return
			}
			ct := oi.ContentType
			if ct == "" {
				ct = oi.UserMetadata["content-type"]
			}
			if !yield(infoFrom(oi.Key, oi.Size, ct, oi.LastModified, oi.UserMetadataStripped), nil) {
				return
			}
		}
	}
}

// PresignGet implements Store. MinIO limits presigned URLs to 7 days; evidence links are kept far
// shorter (MaxPresignExpiry).
func (m *MinIO) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if expiry <= 0 || expiry > MaxPresignExpiry {
		return "", fmt.Errorf("presign %s: expiry %v outside (0, %v]", key, expiry, MaxPresignExpiry)
	}
	// Evidence identifies people: MinIO answers the link with no-store, so no cache, shared or the
	// browser's, keeps a copy past the link's life.
	u, err := m.public.PresignedGetObject(ctx, m.bucket, key, expiry, url.Values{"response-cache-control": {"no-store"}})
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, m.mapErr(err))
	}
	return u.String(), nil
}

// RetentionRule expires the objects under Prefix Days days after they were written.
type RetentionRule struct {
	Prefix string
	Days   int
}

// SetRetention replaces the bucket's lifecycle configuration with one expiration rule per prefix. MinIO
// applies them itself, in the background; the retention job still deletes what the database says has
// expired, and verifies.
func (m *MinIO) SetRetention(ctx context.Context, rules []RetentionRule) error {
	cfg := lifecycle.NewConfiguration()
	for _, r := range rules {
		if err := validatePrefix(r.Prefix); err != nil || r.Prefix == "" {
			return fmt.Errorf("set retention: prefix %q: must be a non-empty key prefix", r.Prefix)
		}
		if r.Days < 1 {
			return fmt.Errorf("set retention for %q: days must be at least 1, got %d", r.Prefix, r.Days)
		}
		cfg.Rules = append(cfg.Rules, lifecycle.Rule{
			ID:         "snowlight-" + strings.ReplaceAll(strings.TrimSuffix(r.Prefix, "/"), "/", "-"),
			Status:     "Enabled",
			RuleFilter: lifecycle.Filter{Prefix: r.Prefix},
			Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(r.Days)},
		})
	}
	if len(rules) == 0 {
		if err := m.c.SetBucketLifecycle(ctx, m.bucket, nil); err != nil {
			return fmt.Errorf("clear retention of bucket %s: %w", m.bucket, err)
		}
		return nil
	}
	if err := m.c.SetBucketLifecycle(ctx, m.bucket, cfg); err != nil {
		return fmt.Errorf("set retention of bucket %s: %w", m.bucket, err)
	}
	return nil
}

// Retention reads back the bucket's expiration rules.
func (m *MinIO) Retention(ctx context.Context) ([]RetentionRule, error) {
	cfg, err := m.c.GetBucketLifecycle(ctx, m.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchLifecycleConfiguration" {
			return nil, nil
		}
		return nil, fmt.Errorf("read retention of bucket %s: %w", m.bucket, err)
	}
	var out []RetentionRule
	for _, r := range cfg.Rules {
		if r.Status != "Enabled" || r.Expiration.Days == 0 {
			continue
		}
		p := r.RuleFilter.Prefix
		if p == "" {
			p = r.Prefix
		}
		out = append(out, RetentionRule{Prefix: p, Days: int(r.Expiration.Days)})
	}
	return out, nil
}

// mapErr turns S3 error codes into this package's errors, keeping the original text.
func (m *MinIO) mapErr(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket":
		return fmt.Errorf("%w (%v)", ErrNotFound, err)
	case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("%w (%v)", ErrExists, err)
	case resp.Code == "BadDigest" || resp.Code == "XAmzContentChecksumMismatch" || resp.Code == "XAmzContentSHA256Mismatch" || resp.Code == "InvalidDigest":
		return fmt.Errorf("%w (%v)", ErrChecksum, err)
	}
	return err
}

func setMeta(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func setTime(m map[string]string, k string, t time.Time) {
	if !t.IsZero() {
		m[k] = t.UTC().Format(time.RFC3339Nano)
	}
}

// infoFrom reads our metadata from a map keyed by header names in any case.
func infoFrom(key string, size int64, contentType string, modified time.Time, um map[string]string) Info {
	get := func(k string) string {
		for mk, v := range um {
			if strings.EqualFold(mk, k) {
				return v
			}
		}
		return ""
	}
	parse := func(k string) time.Time {
		t, _ := time.Parse(time.RFC3339Nano, get(k))
		return t
	}
	info := Info{
		Key: key, Size: size, ContentType: contentType, SHA256: get(metaSHA256),
		Meta:    Meta{AlertID: get(metaAlert), Camera: get(metaCamera), Start: parse(metaStart), End: parse(metaEnd)},
		Created: parse(metaCreated),
	}
	if info.Created.IsZero() {
		info.Created = modified
	}
	return info
}
