package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secret holds a credential. It prints as "***" in logs, errors, JSON and YAML, so a config value can be
// logged or served without leaking it; Reveal is the one way to read it.
type Secret struct{ v string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the credential. Call it only where the credential is used.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no value is set.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return "***"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText redacts: configuration dumps and API responses never carry the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText takes the literal value. References to the environment or to files are resolved by Load,
// which knows where the value came from.
func (s *Secret) UnmarshalText(b []byte) error {
	s.v = string(b)
	return nil
}

// ResolveSecretRef reads a secret that must be given by reference, "env:NAME" or "file:/path" (for command
// lines, where a literal value would show in the process list and shell history).
func ResolveSecretRef(ref string, getenv func(string) string) (Secret, error) {
	if !strings.HasPrefix(ref, "env:") && !strings.HasPrefix(ref, "file:") {
		return Secret{}, errors.New("give a secret as env:NAME or file:PATH, not its value")
	}
	s := Secret{ref}
	err := resolveSecret(&s, getenv)
	return s, err
}

// resolveSecret expands a reference: "env:NAME" reads the environment variable NAME, "file:/path" reads a
// file (trailing newline trimmed), anything else is the literal value. Secrets therefore need not sit in the
// YAML file itself.
func resolveSecret(s *Secret, getenv func(string) string) error {
	switch {
	case strings.HasPrefix(s.v, "env:"):
		name := strings.TrimPrefix(s.v, "env:")
		v := getenv(name)
		if v == "" {
			return fmt.Errorf("environment variable %s is not set", name)
		}
		s.v = v
	case strings.HasPrefix(s.v, "file:"):
		path := strings.TrimPrefix(s.v, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read secret file: %w", err)
		}
		if len(b) > 64<<10 {
			return fmt.Errorf("secret file %s is larger than 64 KiB", path)
		}
		s.v = strings.TrimRight(string(b), "\r\n")
	}
	return nil
}
