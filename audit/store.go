package audit

import (
	"context"
	"fmt"
	"time"
)

// Store persists the chain. Package store implements it with SQLite triggers that refuse UPDATE and
// DELETE, so the application cannot rewrite history; only deliberate out-of-band editing can, and Verify
// detects that.
type Store interface {
	// AppendAudit atomically reads the chain's head, asks seal for the next entry built on it, and
	// stores that entry; concurrent appends are serialised so the chain never forks.
	AppendAudit(ctx context.Context, seal func(head Head) (Entry, error)) (Entry, error)
	// AuditEntries returns entries matching f in ascending id order.
	AuditEntries(ctx context.Context, f Filter) ([]Entry, error)
	// AuditHead returns the newest entry's id, hash and key; the zero Head for an empty chain.
	AuditHead(ctx context.Context) (Head, error)
}

// Filter selects entries. Zero fields match everything; Limit 0 means the default page size.
type Filter struct {
	After    int64 // entries with id > After
	Before   int64 // entries with id < Before, when not 0
	Limit    int
	Actor    string
	Action   string
	Case     string
	From, To time.Time // Time in [From, To)
}

// CorruptError is what a Store returns for a stored entry it cannot even decode (e.g. details that are
// no longer JSON). Verify reports it as a broken entry.
type CorruptError struct {
	ID  int64
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("audit entry %d is corrupt: %v", e.ID, e.Err)
}
func (e *CorruptError) Unwrap() error { return e.Err }
