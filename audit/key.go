package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// Key is a secret that seals entries and anchors with HMAC-SHA256, so that only a holder of the key can
// write an entry or anchor that verifies: with plain SHA-256 anyone who can write the database can
// recompute the hashes of a rewritten tail.
type Key struct {
	id     string
	secret []byte
}

// MinKeyLen is the shortest key accepted, in bytes (e.g. `openssl rand -base64 32` gives 44).
const MinKeyLen = 32

// NewKey checks a secret and names it: the id is derived from the secret, so entries say which key sealed
// them without the key being stored.
func NewKey(secret []byte) (Key, error) {
	if len(secret) < MinKeyLen {
		return Key{}, fmt.Errorf("audit key: %d bytes is too short, use at least %d random bytes", len(secret), MinKeyLen)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("snowlight-audit-key-id"))
	return Key{id: hex.EncodeToString(m.Sum(nil))[:16], secret: append([]byte(nil), secret...)}, nil
}

// ID names the key (16 hex digits); "" for the zero Key.
func (k Key) ID() string { return k.id }

func (k Key) mac() hash.Hash { return hmac.New(sha256.New, k.secret) }

// Keyring is the keys a Log seals with and verifies against. Current seals new entries and anchors;
// Previous are the keys used before it, oldest first, kept to verify older entries. The zero Keyring
// seals with plain SHA-256, as chains made before keys existed were.
type Keyring struct {
	Current  Key
	Previous []Key
}

// rank orders keys along the chain: unkeyed 0, then Previous in order, then Current. A chain never goes
// back to a lower rank, so once a key is retired (a newer one took over) it cannot seal anything that
// verifies, even if it leaks; -1 is a key the ring does not hold.
func (r Keyring) rank(id string) int {
	if id == "" {
		return 0
	}
	for i, k := range r.Previous {
		if k.id == id {
			return i + 1
		}
	}
	if r.Current.id != "" && r.Current.id == id {
		return len(r.Previous) + 1
	}
	return -1
}

func (r Keyring) key(id string) (Key, bool) {
	if r.Current.id != "" && r.Current.id == id {
		return r.Current, true
	}
	for _, k := range r.Previous {
		if k.id == id {
			return k, true
		}
	}
	return Key{}, false
}

// Keyed reports whether the ring seals new entries with a key.
func (r Keyring) Keyed() bool { return r.Current.id != "" }

// NewKeyring makes a Keyring from secrets: the current key ("" for none) and the keys used before it,
// oldest first.
func NewKeyring(current string, previous ...string) (Keyring, error) {
	var r Keyring
	seen := map[string]bool{}
	add := func(secret string) (Key, error) {
		k, err := NewKey([]byte(secret))
		if err == nil && seen[k.id] {
			err = fmt.Errorf("audit key %s is given twice", k.id)
		}
		seen[k.id] = true
		return k, err
	}
	for _, p := range previous {
		k, err := add(p)
		if err != nil {
			return Keyring{}, err
		}
		r.Previous = append(r.Previous, k)
	}
	if current != "" {
		k, err := add(current)
		if err != nil {
			return Keyring{}, err
		}
		r.Current = k
	}
	return r, nil
}
