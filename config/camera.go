package config

import "net/url"

// URLWithCredentials returns the URL the RTSP client dials. Never log it: log RedactedURL.
func (c Camera) URLWithCredentials() string {
	u, err := url.Parse(c.URL)
	if err != nil || c.Username == "" {
		return c.URL
	}
	if c.Password.IsZero() {
		u.User = url.User(c.Username)
	} else {
		u.User = url.UserPassword(c.Username, c.Password.Reveal())
	}
	return u.String()
}
