package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/web/webtest"
)

// TestParallelLoginGuessesAreLimited is the reproduction from issue 11: a burst of parallel wrong
// passwords for one account used to get a 401 each. Now at most the documented 5 are checked; the
// rest get 429 with Retry-After, and so does the right password afterwards.
func TestParallelLoginGuessesAreLimited(t *testing.T) {
	e := webtest.New(t, webtest.Config{Auth: func(c *auth.Config) { c.MaxConcurrentHashes = 1 }})
	u, pw := e.Account(t, auth.Investigator)
	const n = 50
	codes := make([]int, n)
	retry := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"user":%q,"password":"wrong guess %d"}`, u.Name, i)
			resp, err := e.HTTP.Client().Post(e.HTTP.URL+"/api/v1/login", "application/json", strings.NewReader(body))
			if err != nil {
				return // codes[i] stays 0 and fails the count below
			}
			resp.Body.Close()
			codes[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		})
	}
	wg.Wait()
	count := map[int]int{}
	for i, c := range codes {
		count[c]++
		if c == http.StatusTooManyRequests {
			assert.NotEmpty(t, retry[i], "429 without Retry-After")
		}
	}
	assert.Equal(t, map[int]int{http.StatusUnauthorized: auth.DefaultLoginLimits().PerUser,
		http.StatusTooManyRequests: n - auth.DefaultLoginLimits().PerUser}, count)
	r := e.Do(t, "POST", "/api/v1/login", "", fmt.Sprintf(`{"user":%q,"password":%q}`, u.Name, pw))
	require.Equal(t, http.StatusTooManyRequests, r.StatusCode, "%s", r.Body)
}
