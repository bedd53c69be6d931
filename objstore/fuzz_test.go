package objstore_test

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/objstore"
)

// FuzzValidateKey: whatever a key is, an accepted one is a clean relative path.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"clip/abc.mp4", "../x", "a//b", "", ".tmp/x", "a/./b", "a/b/", "%2e%2e/x", "a\\b", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if objstore.ValidateKey(key) != nil {
			return
		}
		require.NotContains(t, "/"+key+"/", "/../", "accepted unsafe key %q", key)
		require.False(t, strings.HasPrefix(key, "/"), "accepted unsafe key %q", key)
		require.False(t, strings.ContainsAny(key, "\\%?#\x00 "), "accepted unsafe key %q", key)
		require.NotContains(t, key, "//", "accepted unsafe key %q", key)
	})
}

// FuzzSignerVerify: no query forges a link, and the real one verifies.
func FuzzSignerVerify(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	s, err := objstore.NewSigner(bytes.Repeat([]byte{1}, 32), "/o", func() time.Time { return now })
	require.NoError(f, err)
	link, _ := s.Sign("clip/a.mp4", time.Minute)
	u, _ := url.Parse(link)
	f.Add("clip/a.mp4", u.RawQuery)
	f.Add("clip/a.mp4", "expires=1700000060&sig=00")
	f.Add("clip/b.mp4", u.RawQuery)
	f.Add("clip/a.mp4", "expires=99999999999&sig="+u.Query().Get("sig"))
	f.Fuzz(func(t *testing.T, key, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		ok := s.Verify(key, q) == nil
		// The same expiry may be spelt differently ("+1700000060"); it is still the signed one.
		exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
		genuine := key == "clip/a.mp4" && strings.EqualFold(q.Get("sig"), u.Query().Get("sig")) && exp == now.Add(time.Minute).Unix()
		if ok {
			require.True(t, genuine, "forged link verified: key %q query %q", key, rawQuery)
		}
	})
}
