package objstore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/objstore"
	"snowlight/objstore/miniotest"
)

// TestMinIOVerifiesChecksumServerSide sends content with a wrong x-amz-checksum-sha256 straight through
// minio-go, past objstore's own check, to show that the server's check (which objstore.MinIO relies on
// for bytes corrupted in transit) is really there.
func TestMinIOVerifiesChecksumServerSide(t *testing.T) {
	srv := miniotest.Start(t)
	_, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
	require.NoError(t, err)
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1", TrailingHeaders: true})
	require.NoError(t, err)
	wrong, _ := hex.DecodeString(sum([]byte("other")))
	_, err = c.PutObject(t.Context(), "evidence", "clip/x.mp4", bytes.NewReader([]byte("data")), 4, minio.PutObjectOptions{
		UserMetadata:     map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(wrong)},
		DisableMultipart: true,
	})
	require.Equal(t, "XAmzContentChecksumMismatch", minio.ToErrorResponse(err).Code, "content with a wrong checksum: %v", err)
	_, err = c.StatObject(t.Context(), "evidence", "clip/x.mp4", minio.StatObjectOptions{})
	require.Error(t, err, "object stored despite the checksum mismatch")
}

func TestMinIORetentionRules(t *testing.T) {
	srv := miniotest.Start(t)
	m, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
	require.NoError(t, err)
	rules := []objstore.RetentionRule{{Prefix: "snapshot/", Days: 3}, {Prefix: "clip/", Days: 30}}
	require.NoError(t, m.SetRetention(t.Context(), rules))
	got, err := m.Retention(t.Context())
	require.NoError(t, err)
	cmp := func(a, b objstore.RetentionRule) int { return bytes.Compare([]byte(a.Prefix), []byte(b.Prefix)) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(rules, cmp)
	require.Equal(t, rules, got, "bucket lifecycle")
	for _, bad := range [][]objstore.RetentionRule{{{Prefix: "", Days: 3}}, {{Prefix: "clip/", Days: 0}}, {{Prefix: "../", Days: 1}}} {
		assert.Error(t, m.SetRetention(t.Context(), bad), "SetRetention(%v) accepted", bad)
	}
	// Reopening an existing bucket is fine and keeps its rules.
	_, err = objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
	require.NoError(t, err)
	require.NoError(t, m.SetRetention(t.Context(), nil))
	got, err = m.Retention(t.Context())
	require.NoError(t, err)
	require.Empty(t, got, "rules after clearing")
}
