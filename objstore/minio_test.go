package objstore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"snowlight/objstore"
	"snowlight/objstore/miniotest"
)

// TestMinIOVerifiesChecksumServerSide sends content with a wrong x-amz-checksum-sha256 straight through
// minio-go, past objstore's own check, to show that the server's check (which objstore.MinIO relies on
// for bytes corrupted in transit) is really there.
func TestMinIOVerifiesChecksumServerSide(t *testing.T) {
	srv := miniotest.Start(t)
	if _, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence")); err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1", TrailingHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := hex.DecodeString(sum([]byte("other")))
	_, err = c.PutObject(t.Context(), "evidence", "clip/x.mp4", bytes.NewReader([]byte("data")), 4, minio.PutObjectOptions{
		UserMetadata:     map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(wrong)},
		DisableMultipart: true,
	})
	if code := minio.ToErrorResponse(err).Code; code != "XAmzContentChecksumMismatch" {
		t.Fatalf("server accepted content with a wrong checksum: %v (code %q)", err, code)
	}
	if _, err := c.StatObject(t.Context(), "evidence", "clip/x.mp4", minio.StatObjectOptions{}); err == nil {
		t.Fatal("object stored despite the checksum mismatch")
	}
}

func TestMinIORetentionRules(t *testing.T) {
	srv := miniotest.Start(t)
	m, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
	if err != nil {
		t.Fatal(err)
	}
	rules := []objstore.RetentionRule{{Prefix: "snapshot/", Days: 3}, {Prefix: "clip/", Days: 30}}
	if err := m.SetRetention(t.Context(), rules); err != nil {
		t.Fatal(err)
	}
	got, err := m.Retention(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cmp := func(a, b objstore.RetentionRule) int { return bytes.Compare([]byte(a.Prefix), []byte(b.Prefix)) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(rules, cmp)
	if !slices.Equal(got, rules) {
		t.Fatalf("bucket lifecycle %v, want %v", got, rules)
	}
	for _, bad := range [][]objstore.RetentionRule{{{Prefix: "", Days: 3}}, {{Prefix: "clip/", Days: 0}}, {{Prefix: "../", Days: 1}}} {
		if err := m.SetRetention(t.Context(), bad); err == nil {
			t.Errorf("SetRetention(%v) accepted", bad)
		}
	}
	// Reopening an existing bucket is fine and keeps its rules.
	if _, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence")); err != nil {
		t.Fatal(err)
	}
	if err := m.SetRetention(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Retention(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("after clearing: %v %v", got, err)
	}
}
