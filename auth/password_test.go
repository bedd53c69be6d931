package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHashRefusesBadHashes(t *testing.T) {
	good, err := hashPassword(Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}, "a password of length")
	require.NoError(t, err)
	ok, _, err := verifyPassword(good, "a password of length")
	require.NoError(t, err)
	require.True(t, ok, "good hash")
	for _, h := range []string{
		"",
		"plain",
		"$2a$10$bcryptbcryptbcryptbcrypt",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=4194304", 1), // 4 GiB: refused, not allocated
		strings.Replace(good, "t=1", "t=0", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "t=1", "t=1000", 1),
		good[:strings.LastIndex(good, "$")] + "$!!",
		good + "$extra",
	} {
		_, _, err := verifyPassword(h, "a password of length")
		assert.Error(t, err, "accepted %q", h)
	}
}

// FuzzParseHash: stored hashes come from the database, which may have been edited; parsing must never
// panic or accept parameters that would let one login allocate unbounded memory.
func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=-1,t=1,p=1$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, h string) {
		p, salt, key, err := parseHash(h)
		if err != nil {
			return
		}
		require.LessOrEqual(t, p.MemoryKiB, uint32(maxHashMemoryKiB), "accepted %q as %+v", h, p)
		require.NotZero(t, p.Time, "accepted %q as %+v", h, p)
		require.LessOrEqual(t, p.Time, uint32(64), "accepted %q as %+v", h, p)
		require.NotZero(t, p.Threads, "accepted %q as %+v", h, p)
		require.GreaterOrEqual(t, len(salt), 8, "accepted %q as %+v", h, p)
		require.GreaterOrEqual(t, len(key), 16, "accepted %q as %+v", h, p)
		require.LessOrEqual(t, len(key), 64, "accepted %q as %+v", h, p)
	})
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"ana", "Ana.Op", "-x", "a b", "ÄNA", "a_b-c.d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeName(s)
		if err != nil {
			return
		}
		require.NotEmpty(t, n, "%q", s)
		require.LessOrEqual(t, len(n), 64, "%q -> %q", s, n)
		require.Equal(t, strings.ToLower(s), n)
		again, err := NormalizeName(n)
		require.NoError(t, err, "%q", n)
		require.Equal(t, n, again, "not idempotent")
	})
}
