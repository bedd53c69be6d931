package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts/notify"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_740_000_000, 0)
	body := []byte(`{"alert":"A1"}`)
	good := notify.Sign(secret, body, now)
	other := notify.Sign([]byte("another secret of enough length!!"), body, now)
	tests := []struct {
		name   string
		body   string
		header string
		want   error
	}{
		{"valid", string(body), good, nil},
		{"rotated secret: one of two v1 matches", string(body), other + "," + good[strings.Index(good, "v1="):], nil},
		{"tampered body", `{"alert":"A2"}`, good, notify.ErrBadSignature},
		{"other secret", string(body), other, notify.ErrBadSignature},
		{"replayed an hour later", string(body), notify.Sign(secret, body, now.Add(-time.Hour)), notify.ErrStale},
		{"from the future", string(body), notify.Sign(secret, body, now.Add(time.Hour)), notify.ErrStale},
		{"timestamp changed", string(body), strings.Replace(good, "t=1740000000", "t=1740000001", 1), notify.ErrBadSignature},
		{"empty", string(body), "", notify.ErrMalformed},
		{"no signature", string(body), "t=1740000000", notify.ErrMalformed},
		{"short signature", string(body), "t=1740000000,v1=abcd", notify.ErrMalformed},
		{"two timestamps", string(body), good + ",t=1", notify.ErrMalformed},
		{"padded timestamp", string(body), strings.Replace(good, "t=", "t=0", 1), notify.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Verify(secret, []byte(tc.body), tc.header, now, 5*time.Minute)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// FuzzVerify: no header makes a body verify unless it carries the real signature.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_740_000_000, 0)
	body := []byte(`{"alert":"A1"}`)
	good := notify.Sign(secret, body, now)
	f.Add(string(body), good)
	f.Add(`{"alert":"A2"}`, good)
	f.Add(string(body), "t=1740000000,v1=00,v1="+good[strings.Index(good, "v1=")+3:])
	f.Add("", "t=,v1=")
	f.Fuzz(func(t *testing.T, b, header string) {
		err := notify.Verify(secret, []byte(b), header, now, 5*time.Minute)
		if err == nil {
			require.Equal(t, string(body), b, "forged webhook verified: header %q", header)
			require.Contains(t, strings.ToLower(header), good[strings.Index(good, "v1="):], "forged webhook verified: body %q", b)
		}
	})
}
