package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Log appends to and reads the audit chain.
type Log struct {
	store Store
	now   func() time.Time
}

// New returns a Log over s. now is the clock (time.Now when nil).
func New(s Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: s, now: now}
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
		e.ID = head.ID + 1
		e.Time = l.now().UTC().Round(0)
		e.Prev = head.Hash
		e.Hash = e.ComputeHash()
		return e, nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("audit %s by %s: %w", r.Action, r.Actor, err)
	}
	return sealed, nil
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
	// Broken is the id of the first entry that does not verify (0 when the chain is intact) and
	// Problem says what is wrong with it.
	Broken  int64  `json:"broken,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// OK reports whether the chain verified.
func (r Report) OK() bool { return r.Broken == 0 }

// Verify walks the chain from the first entry and reports the first one that is not what the chain
// says it should be: a changed field (its hash no longer matches), a changed hash (the next entry's
// link no longer matches), a removed or inserted entry (ids not consecutive or links broken). When
// anchor is not zero, the chain must also contain it: a head recorded earlier outside the database,
// which catches the one change a chain alone cannot (removing its newest entries).
func (l *Log) Verify(ctx context.Context, anchor Head) (Report, error) {
	var rep Report
	anchorSeen := anchor.ID == 0
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
			if p := problem(rep.Head, e); p != "" {
				rep.Broken, rep.Problem = e.ID, p
				return rep, nil
			}
			if e.ID == anchor.ID {
				if e.Hash != anchor.Hash {
					rep.Broken, rep.Problem = e.ID, "hash differs from the anchor recorded earlier: history was rewritten"
					return rep, nil
				}
				anchorSeen = true
			}
			rep.Checked++
			rep.Head = Head{ID: e.ID, Hash: e.Hash}
		}
		if corrupt {
			rep.Broken, rep.Problem = ce.ID, ce.Error()
			return rep, nil
		}
		if len(es) < MaxPage {
			break
		}
	}
	if !anchorSeen {
		rep.Broken = rep.Head.ID + 1
		rep.Problem = fmt.Sprintf("the chain ends at entry %d but the anchor says entry %d existed: entries were removed", rep.Head.ID, anchor.ID)
	}
	return rep, nil
}

func problem(prev Head, e Entry) string {
	switch {
	case e.ID != prev.ID+1:
		return fmt.Sprintf("expected entry %d next, found %d: entries were removed or renumbered", prev.ID+1, e.ID)
	case e.Prev != prev.Hash:
		return "its link to the previous entry does not match that entry's hash: an entry before it was changed or removed"
	case e.ComputeHash() != e.Hash:
		return "its content does not match its hash: the entry was changed"
	}
	return ""
}
