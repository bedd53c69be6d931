// Package audit keeps the append-only, hash-chained record of who did what, to whom, for which case and
// why. Each entry commits to the hash of the one before it, so changing, removing or reordering stored
// entries breaks the chain at the first altered entry, which Verify reports. Entries are sealed with
// HMAC-SHA256 under a configured key, so rewriting them takes the key, not just the database; anchors
// (the chain's head, written regularly to a create-only store outside the database) reveal removed
// newest entries and a chain rewritten as a whole.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// Entry is one recorded action.
type Entry struct {
	ID     int64     `json:"id"` // 1, 2, 3, ... without gaps
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"` // user name, or "cli:<os user>" for the command line
	Role   string    `json:"role"`
	Action string    `json:"action"` // e.g. "trajectory.query", "user.disable", "auth.login"
	Target string    `json:"target,omitempty"`
	Case   string    `json:"case,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Details holds whatever else the action needs to be understood later (client address, outcome).
	Details map[string]string `json:"details,omitempty"`
	Prev    string            `json:"prev"` // Hash of the previous entry; "" for the first
	// Key is the id of the key that sealed the entry; "" for an entry made without one.
	Key  string `json:"key,omitempty"`
	Hash string `json:"hash"` // hex HMAC-SHA256 with Key (SHA-256 without) of the canonical encoding
}

// DetailsJSON is the stored form of Details: JSON with sorted keys, the same bytes for the same map.
func (e Entry) DetailsJSON() string {
	if len(e.Details) == 0 {
		return "{}"
	}
	b, err := json.Marshal(e.Details)
	if err != nil { // a map[string]string always marshals
		panic(fmt.Sprintf("audit: marshal details: %v", err))
	}
	return string(b)
}

// ComputeHash returns the hash an entry made without a key carries: SHA-256 over a canonical encoding of
// every field but Hash. The encoding length-prefixes each field, so no choice of field contents can make
// two different entries encode the same.
func (e Entry) ComputeHash() string {
	h := sha256.New()
	e.encode(h, "snowlight-audit-v1")
	return hex.EncodeToString(h.Sum(nil))
}

// Seal returns the hash a keyed entry carries: HMAC-SHA256 with k over the canonical encoding, which
// names the key too. k must be the key e.Key names.
func (e Entry) Seal(k Key) string {
	m := k.mac()
	e.encode(m, "snowlight-audit-v2")
	field(m, e.Key)
	return hex.EncodeToString(m.Sum(nil))
}

func (e Entry) encode(h hash.Hash, version string) {
	field(h, version)
	field(h, strconv.FormatInt(e.ID, 10))
	field(h, strconv.FormatInt(e.Time.UnixNano(), 10))
	field(h, e.Actor)
	field(h, e.Role)
	field(h, e.Action)
	field(h, e.Target)
	field(h, e.Case)
	field(h, e.Reason)
	field(h, e.DetailsJSON())
	field(h, e.Prev)
}

func field(h hash.Hash, s string) {
	h.Write([]byte(strconv.Itoa(len(s))))
	h.Write([]byte{':'})
	h.Write([]byte(s))
	h.Write([]byte{','})
}

// Head is the newest entry of the chain: its id and hash. The zero Head is the empty chain.
type Head struct {
	ID   int64  `json:"id"`
	Hash string `json:"hash"`
	Key  string `json:"key,omitempty"` // the key that sealed it
}

// String is the form `snowlight audit verify --anchor` takes: ID:HASH.
func (h Head) String() string { return strconv.FormatInt(h.ID, 10) + ":" + h.Hash }

// ParseHead reads ID:HASH.
func ParseHead(s string) (Head, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			id, err := strconv.ParseInt(s[:i], 10, 64)
			hash := s[i+1:]
			if _, herr := hex.DecodeString(hash); err != nil || id <= 0 || herr != nil || len(hash) != 64 {
				break
			}
			return Head{ID: id, Hash: hash}, nil
		}
	}
	return Head{}, fmt.Errorf("audit head %q: want ID:HASH, e.g. 42:<64 hex digits>", s)
}
