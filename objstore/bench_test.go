package objstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/objstore"
	"snowlight/objstore/miniotest"
)

// BenchmarkPutClip stores 4 MiB clips (15 s of 2 Mbit/s video) as the alert path does: content key,
// checksum verified, create-only. The spool case is the production path with MinIO up (written to the
// local spool, fsynced, uploaded, removed).
func BenchmarkPutClip(b *testing.B) {
	const size = 4 << 20
	srv := miniotest.Start(b)
	m, err := objstore.OpenMinIO(b.Context(), srv.Config("bench"))
	require.NoError(b, err)
	d, err := objstore.OpenDir(b.TempDir(), objstore.DirOptions{})
	require.NoError(b, err)
	sp, err := objstore.NewSpool(m, objstore.SpoolOptions{Dir: b.TempDir(), MaxBytes: 1 << 30, AttemptTimeout: 30 * time.Second})
	require.NoError(b, err)
	for _, tc := range []struct {
		name string
		s    objstore.Store
	}{{"dir", d}, {"minio", m}, {"spool-minio", sp}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(size)
			seed := uint64(time.Now().UnixNano())
			clips := make([][]byte, 0, 64)
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				if len(clips) <= i%64 {
					clips = append(clips, clipBytes(seed+uint64(i), size))
				}
				clip := clips[i%64]
				clip[0], clip[1] = byte(i), byte(i>>8) // new content, new key
				b.StartTimer()
				info, err := objstore.PutContent(b.Context(), tc.s, "clip", "mp4", clip, "video/mp4", objstore.Meta{AlertID: "A"})
				require.NoError(b, err)
				require.False(b, info.Pending, "the put is pending")
			}
		})
	}
}
