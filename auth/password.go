package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. Hashes record the parameters they were made with, so
// raising them later keeps old passwords working (they are re-hashed at the next login).
type Argon2Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 follows RFC 9106's second recommended option scaled to a shared server: 64 MiB, 2 passes,
// 2 lanes (about 0.2 s per login on the 2-core reference machine, see docs/BENCHMARKS.md). Service bounds
// how many hashes run at once so a burst of logins cannot exhaust memory.
func DefaultArgon2() Argon2Params { return Argon2Params{Time: 2, MemoryKiB: 64 * 1024, Threads: 2} }

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLen and MaxPasswordLen bound passwords (NIST SP 800-63B allows 8; a system that locates
	// people asks for more). The maximum stops multi-megabyte "passwords" reaching the hash.
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// CheckPassword applies the password policy: length only, as NIST SP 800-63B advises, plus not the
// user's own name.
func CheckPassword(name, password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return invalidf("password too short: use at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return invalidf("password too long: use at most %d bytes", MaxPasswordLen)
	case !utf8.ValidString(password):
		return invalidf("password is not valid UTF-8")
	case strings.EqualFold(password, name):
		return invalidf("password must not be the user name")
	}
	return nil
}

// hashPassword returns the PHC string form: $argon2id$v=19$m=65536,t=2,p=2$<salt>$<key>.
func hashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC hash, and the parameters the hash used.
func verifyPassword(hash, password string) (bool, Argon2Params, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// maxHashMemoryKiB refuses stored hashes that would make a login allocate absurd memory (a corrupted or
// planted row must not take the server down).
const maxHashMemoryKiB = 1 << 20

func parseHash(hash string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("password hash is not in argon2id PHC format")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: bad parameters %q", parts[3])
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxHashMemoryKiB || p.Time > 64 {
		return p, nil, nil, fmt.Errorf("password hash: parameters out of range %q", parts[3])
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("password hash: bad salt")
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("password hash: bad key")
	}
	return p, salt, key, nil
}

// RandomPassword returns a password with 125 bits of entropy in a form that is easy to read aloud and
// type: five groups of five characters from a 32-letter alphabet.
func RandomPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no l, o, 0, 1: they are misread
	var sb strings.Builder
	bits, nbits, n := uint32(0), 0, 0
	for _, c := range b {
		bits = bits<<8 | uint32(c)
		nbits += 8
		for nbits >= 5 && n < 25 {
			n++
			nbits -= 5
			if sb.Len() > 0 && (sb.Len()+1)%6 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(alphabet[bits>>nbits&31])
		}
	}
	return sb.String(), nil
}
