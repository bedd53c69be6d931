package audit

import (
	"cmp"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Anchor is the chain's head as recorded at a moment outside the database. An entry that is gone although
// an anchor names it shows the chain was cut short; an entry whose hash differs from an anchor's shows it
// was rewritten, with or without the key (rewriting any entry changes every hash after it).
type Anchor struct {
	Head
	Time time.Time `json:"time"`
	// Signer is the id of the key MAC is made with (the Log's current key when it was written); both are
	// empty for an anchor written without a key.
	Signer string `json:"signer,omitempty"`
	MAC    string `json:"mac,omitempty"`
}

// AnchorPrefix is where anchors are kept in the evidence object store.
const AnchorPrefix = "audit/anchors/"

// AnchorStore keeps anchors outside the database: create-only, so what was anchored stays. objstore.Records
// implements it over the evidence store (MinIO or the local directory).
type AnchorStore interface {
	// Create stores data under name unless something is stored under it already; storing the same data
	// again is not an error.
	Create(ctx context.Context, name string, data []byte) error
	// Names yields every stored name in order.
	Names(ctx context.Context) iter.Seq2[string, error]
}

// Name is where the anchor is stored. It carries the whole anchor (the stored data is the same as JSON,
// for people), so that verifying against thousands of anchors takes a listing, not a read of each:
// <id>-<unix ns>-<hash>-<key>-<signer>-<mac>.json, with "none" for an empty field; ids are zero-padded so
// names sort by id.
func (a Anchor) Name() string {
	return fmt.Sprintf("%020d-%019d-%s-%s-%s-%s.json", a.ID, a.Time.UnixNano(), a.Hash, orNone(a.Key), orNone(a.Signer), orNone(a.MAC))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ParseAnchorName reads a name made by Anchor.Name.
func ParseAnchorName(name string) (Anchor, error) {
	bad := fmt.Errorf("%q is not an audit anchor name", name)
	base, ok := strings.CutSuffix(name, ".json")
	f := strings.Split(base, "-")
	if !ok || len(f) != 6 {
		return Anchor{}, bad
	}
	for i := 3; i < 6; i++ {
		if f[i] == "none" {
			f[i] = ""
		}
	}
	id, err1 := strconv.ParseInt(f[0], 10, 64)
	ns, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 || !isHex(f[2], 64) || !isHex(f[3], 16) || !isHex(f[4], 16) || !isHex(f[5], 64) ||
		(f[4] == "") != (f[5] == "") {
		return Anchor{}, bad
	}
	return Anchor{Head: Head{ID: id, Hash: f[2], Key: f[3]}, Time: time.Unix(0, ns).UTC(), Signer: f[4], MAC: f[5]}, nil
}

// isHex accepts "" or exactly n lower-case hex digits.
func isHex(s string, n int) bool {
	if s == "" {
		return true
	}
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func (a Anchor) mac(k Key) string {
	m := k.mac()
	field(m, "snowlight-audit-anchor-v1")
	field(m, strconv.FormatInt(a.ID, 10))
	field(m, a.Hash)
	field(m, a.Key)
	field(m, strconv.FormatInt(a.Time.UnixNano(), 10))
	field(m, a.Signer)
	return hex.EncodeToString(m.Sum(nil))
}

// Anchor writes the chain's head to the anchor store, unless this Log already anchored that head. It
// reports whether it wrote one.
func (l *Log) Anchor(ctx context.Context) (Anchor, bool, error) {
	if l.anchors == nil {
		return Anchor{}, false, nil
	}
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return Anchor{}, false, fmt.Errorf("anchor audit chain: %w", err)
	}
	l.mu.Lock()
	done := head == l.anchored
	l.mu.Unlock()
	if head.ID == 0 || done {
		return Anchor{}, false, nil
	}
	a := Anchor{Head: head, Time: l.now().UTC().Round(0)}
	if l.keys.Keyed() {
		a.Signer = l.keys.Current.id
		a.MAC = a.mac(l.keys.Current)
	}
	data, err := json.Marshal(a)
	if err != nil {
		return Anchor{}, false, fmt.Errorf("anchor audit chain: %w", err)
	}
	if err := l.anchors.Create(ctx, a.Name(), data); err != nil {
		return Anchor{}, false, fmt.Errorf("anchor audit entry %d: %w", head.ID, err)
	}
	l.mu.Lock()
	l.anchored = head
	l.mu.Unlock()
	return a, true, nil
}

// storedAnchors lists the anchor store's anchors by id. The first problem found (a name that is no anchor,
// a signature that does not verify) is returned as a Report problem: someone other than snowlight wrote
// into the anchor store.
func (l *Log) storedAnchors(ctx context.Context) ([]Anchor, *Report, error) {
	if l.anchors == nil {
		return nil, nil, nil
	}
	var as []Anchor
	for name, err := range l.anchors.Names(ctx) {
		if err != nil {
			return nil, nil, fmt.Errorf("list audit anchors: %w", err)
		}
		a, err := ParseAnchorName(name)
		if err != nil {
			return nil, &Report{Problem: "the anchor store holds " + err.Error()}, nil
		}
		if a.Signer != "" {
			k, ok := l.keys.key(a.Signer)
			if !ok {
				return nil, &Report{Broken: a.ID, Problem: fmt.Sprintf("anchor %s is signed with key %s, which was not given: verify with every key the chain used", name, a.Signer)}, nil
			}
			if !hmac.Equal([]byte(a.mac(k)), []byte(a.MAC)) {
				return nil, &Report{Broken: a.ID, Problem: fmt.Sprintf("anchor %s does not carry a valid signature: it was not written by snowlight", name)}, nil
			}
		}
		as = append(as, a)
	}
	slices.SortStableFunc(as, func(a, b Anchor) int { return cmp.Compare(a.ID, b.ID) })
	return as, nil, nil
}
