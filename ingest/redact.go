package ingest

import (
	"net/url"
	"regexp"
)

// userinfo matches the credentials of any URL inside free text, such as an error message from a library
// that quotes the URL it was given.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// Redact removes the user and password from a camera URL (or from every URL inside a longer text) so it
// can be logged, shown or returned in an error.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil && u.Scheme != "" {
		u.User = nil
		return u.String()
	}
	return userinfo.ReplaceAllString(s, "${1}")
}

// redactErr is an error whose text has had credentials removed, keeping the chain for errors.Is/As.
type redactErr struct{ err error }

func (e redactErr) Error() string { return Redact(e.err.Error()) }
func (e redactErr) Unwrap() error { return e.err }

func redactError(err error) error {
	if err == nil {
		return nil
	}
	return redactErr{err}
}
