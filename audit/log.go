package audit

import (
	"cmp"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Log appends to and reads the audit chain.
type Log struct {
	store   Store
	now     func() time.Time
	keys    Keyring
	anchors AnchorStore

	mu       sync.Mutex
	anchored Head // the head this Log last anchored
}

// Options configure a Log.
type Options struct {
	Now func() time.Time // the clock; time.Now when nil
	// Keys seal new entries and anchors and verify old ones; without a current key entries are sealed
	// with plain SHA-256 (how chains were made before keys), and a chain already keyed is refused.
	Keys Keyring
	// Anchors is where Anchor writes the chain's head and Verify reads it back; nil for none.
	Anchors AnchorStore
}

// New returns a Log over s without keys or anchors. now is the clock (time.Now when nil).
func New(s Store, now func() time.Time) *Log { return NewLog(s, Options{Now: now}) }

// NewLog returns a Log over s.
func NewLog(s Store, o Options) *Log {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Log{store: s, now: o.Now, keys: o.Keys, anchors: o.Anchors}
}

// Record is what the caller says about an action; the Log adds id, time and hashes.
type Record struct {
	Actor, Role, Action, Target string
	Case, Reason                string
	Details                     map[string]string
}

// Limits on field sizes keep one entry from bloating the chain (a reason is a sentence, not a file).
const (
	maxField   = 256
	maxReason  = 1000
	maxDetails = 4096
)

// Append records an action and returns the sealed entry.
func (l *Log) Append(ctx context.Context, r Record) (Entry, error) {
	if r.Actor == "" || r.Action == "" {
		return Entry{}, errors.New("audit: an entry needs an actor and an action")
	}
	for _, f := range []string{r.Actor, r.Role, r.Action, r.Target, r.Case} {
		if len(f) > maxField {
			return Entry{}, fmt.Errorf("audit %s: field longer than %d bytes", r.Action, maxField)
		}
	}
	if len(r.Reason) > maxReason {
		return Entry{}, fmt.Errorf("audit %s: reason longer than %d bytes", r.Action, maxReason)
	}
	e := Entry{Actor: r.Actor, Role: r.Role, Action: r.Action, Target: r.Target, Case: r.Case, Reason: r.Reason}
	if len(r.Details) > 0 {
		e.Details = make(map[string]string, len(r.Details))
		for k, v := range r.Details {
			e.Details[k] = v
		}
	}
	if len(e.DetailsJSON()) > maxDetails {
		return Entry{}, fmt.Errorf("audit %s: details longer than %d bytes", r.Action, maxDetails)
	}
	sealed, err := l.store.AppendAudit(ctx, func(head Head) (Entry, error) {
		if err := l.checkHead(head); err != nil {
			return Entry{}, err
		}
		e.ID = head.ID + 1
		e.Time = l.now().UTC().Round(0)
		e.Prev = head.Hash
		if l.keys.Keyed() {
			e.Key = l.keys.Current.id
			e.Hash = e.Seal(l.keys.Current)
		} else {
			e.Hash = e.ComputeHash()
		}
		return e, nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("audit %s by %s: %w", r.Action, r.Actor, err)
	}
	return sealed, nil
}

// CheckKeys returns the error Append would give because this Log lacks the key the chain needs, so that a
// command can refuse before it acts rather than act and then fail to record it.
func (l *Log) CheckKeys(ctx context.Context) error {
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return fmt.Errorf("check audit keys: %w", err)
	}
	return l.checkHead(head)
}

// checkHead refuses to extend a chain whose newest entry is sealed with a key this Log does not hold or
// that is newer than its own: that would mix an unkeyed or retired key into a keyed chain.
func (l *Log) checkHead(head Head) error {
	if r := l.keys.rank(head.Key); r < 0 || r > l.keys.rank(l.keys.Current.id) {
		held := "no key"
		if l.keys.Keyed() {
			held = "key " + l.keys.Current.id
		}
		return fmt.Errorf("the newest audit entry is sealed with key %s, and this process has %s: give the current audit key (and, right after a rotation, the previous ones)", head.Key, held)
	}
	return nil
}

// DefaultPage and MaxPage bound List.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// List returns entries matching f, oldest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultPage
	}
	f.Limit = min(f.Limit, MaxPage)
	es, err := l.store.AuditEntries(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return es, nil
}

// Report is the outcome of Verify.
type Report struct {
	Checked int64 `json:"checked"` // entries that verified
	Head    Head  `json:"head"`    // the last entry that verified
	// Unkeyed is how many of them were sealed without a key (made before keys were configured). Only the
	// anchors and the first keyed entry after them protect those.
	Unkeyed int64 `json:"unkeyed,omitempty"`
	// Anchors is how many anchors from the anchor store the chain was checked against, and Anchored the
	// newest of them.
	Anchors  int     `json:"anchors,omitempty"`
	Anchored *Anchor `json:"anchored,omitempty"`
	// Broken is the id of the first entry that does not verify (0 when the chain is intact) and
	// Problem says what is wrong with it.
	Broken  int64  `json:"broken,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// OK reports whether the chain verified.
func (r Report) OK() bool { return r.Broken == 0 && r.Problem == "" }

// Verify walks the chain from the first entry and reports the first one that is not what the chain
// says it should be: a changed field (its hash no longer matches), a changed hash (the next entry's
// link no longer matches), a removed or inserted entry (ids not consecutive or links broken), an entry
// sealed with a key Verify was not given or an older key than the entry before it. Then it checks the
// chain against every stored anchor and against anchor, when not zero (a head recorded by hand): each
// anchored entry must still be there with the anchored hash. That catches what links alone cannot:
// removing the newest entries, and rewriting a chain whose entries have no key.
func (l *Log) Verify(ctx context.Context, anchor Head) (Report, error) {
	anchors, bad, err := l.storedAnchors(ctx)
	if err != nil {
		return Report{}, err
	}
	if bad != nil {
		return *bad, nil
	}
	if anchor.ID != 0 {
		anchors = append(anchors, Anchor{Head: anchor})
		slices.SortStableFunc(anchors, func(a, b Anchor) int { return cmp.Compare(a.ID, b.ID) })
	}
	var rep Report
	next := 0 // anchors[next:] are still to be met
	for {
		es, err := l.store.AuditEntries(ctx, Filter{After: rep.Head.ID, Limit: MaxPage})
		ce, corrupt := errors.AsType[*CorruptError](err)
		if corrupt {
			// Check what precedes the undecodable entry, so the report names the first break.
			es, err = l.store.AuditEntries(ctx, Filter{After: rep.Head.ID, Before: ce.ID, Limit: MaxPage})
		}
		if err != nil {
			return rep, fmt.Errorf("verify audit chain after entry %d: %w", rep.Head.ID, err)
		}
		for _, e := range es {
			if p := l.problem(rep.Head, e); p != "" {
				rep.Broken, rep.Problem = e.ID, p
				return rep, nil
			}
			for ; next < len(anchors) && anchors[next].ID == e.ID; next++ {
				if a := anchors[next]; a.Hash != e.Hash {
					rep.Broken, rep.Problem = e.ID, "its hash differs from the one anchored "+anchoredAt(a)+": history was rewritten"
					return rep, nil
				}
				rep.Anchors++
				rep.Anchored = &anchors[next]
			}
			rep.Checked++
			if e.Key == "" {
				rep.Unkeyed++
			}
			rep.Head = Head{ID: e.ID, Hash: e.Hash, Key: e.Key}
		}
		if corrupt {
			rep.Broken, rep.Problem = ce.ID, ce.Error()
			return rep, nil
		}
		if len(es) < MaxPage {
			break
		}
	}
	if next < len(anchors) {
		last := anchors[len(anchors)-1]
		rep.Broken = rep.Head.ID + 1
		rep.Problem = fmt.Sprintf("the chain ends at entry %d but an anchor %s says entry %d existed: entries were removed",
			rep.Head.ID, anchoredAt(last), last.ID)
	}
	return rep, nil
}

func anchoredAt(a Anchor) string {
	if a.Time.IsZero() {
		return "given by hand"
	}
	return "at " + a.Time.Format(time.RFC3339)
}

func (l *Log) problem(prev Head, e Entry) string {
	switch {
	case e.ID != prev.ID+1:
		return fmt.Sprintf("expected entry %d next, found %d: entries were removed or renumbered", prev.ID+1, e.ID)
	case e.Prev != prev.Hash:
		return "its link to the previous entry does not match that entry's hash: an entry before it was changed or removed"
	}
	if e.Key == "" {
		if prev.Key != "" {
			return "it has no key although the entry before it has: it was rewritten without the key"
		}
		if e.ComputeHash() != e.Hash {
			return "its content does not match its hash: the entry was changed"
		}
		return ""
	}
	k, ok := l.keys.key(e.Key)
	switch {
	case !ok:
		return fmt.Sprintf("it is sealed with key %s, which was not given: verify with every key the chain used", e.Key)
	case l.keys.rank(e.Key) < l.keys.rank(prev.Key):
		return fmt.Sprintf("it is sealed with key %s, older than the key of the entry before it: a retired key was used", e.Key)
	case !hmac.Equal([]byte(e.Seal(k)), []byte(e.Hash)):
		return "its content does not match its seal: the entry was changed"
	}
	return ""
}
