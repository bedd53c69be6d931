package retention

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"snowlight/audit"
)

// ItemKind is what a case hold keeps.
type ItemKind string

// Item kinds. Holding a trajectory holds every sighting in it (with their snapshots); holding an
// alert holds its evidence objects and the sightings it names.
const (
	HoldSighting   ItemKind = "sighting"
	HoldTrajectory ItemKind = "trajectory"
	HoldAlert      ItemKind = "alert"
)

// Item is one thing a case holds.
type Item struct {
	Kind ItemKind `json:"kind"`
	ID   string   `json:"id"`
}

func (it Item) String() string { return string(it.Kind) + "/" + it.ID }

// ParseItem reads "kind/id", e.g. "alert/a-17".
func ParseItem(s string) (Item, error) {
	k, id, _ := strings.Cut(s, "/")
	it := Item{Kind: ItemKind(k), ID: id}
	return it, it.check()
}

func (it Item) check() error {
	switch it.Kind {
	case HoldSighting, HoldTrajectory, HoldAlert:
	default:
		return fmt.Errorf("%w: item kind %q (want sighting, trajectory or alert)", ErrInvalid, it.Kind)
	}
	if it.ID == "" || len(it.ID) > 256 {
		return fmt.Errorf("%w: %s id must be 1 to 256 bytes", ErrInvalid, it.Kind)
	}
	for _, r := range it.ID {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %s id %q has unprintable characters", ErrInvalid, it.Kind, it.ID)
		}
	}
	return nil
}

// Hold is one item held for a case, and its release once released.
type Hold struct {
	ID   int64  `json:"id"`
	Case string `json:"case"`
	Item Item   `json:"item"`
	// Via names the trajectory hold that listed this sighting ("trajectory/<id>"); "" for an item
	// held by itself. A trajectory hold also covers sightings the trajectory gains later.
	Via      string    `json:"via,omitempty"`
	Reason   string    `json:"reason"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Released *Release  `json:"released,omitempty"`
}

// Release says who released a hold, when and why.
type Release struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// HoldQuery selects holds. Zero fields match everything.
type HoldQuery struct {
	Case string
	Item Item // Kind and ID both set: holds of that item
	// All includes released holds; otherwise only active ones.
	All   bool
	After int64 // holds with id > After
	Limit int   // default 100, at most 1000
}

// HoldStore keeps case holds.
type HoldStore interface {
	// PlaceHolds holds items for a case in one transaction. Every item must exist (an error
	// wrapping ErrNotFound otherwise, and nothing is held). A trajectory item may name any of its
	// sightings; it is stored under the trajectory's id (its first sighting) and also lists the
	// sightings it has now, with Via set. Items the case already holds are returned as they are.
	PlaceHolds(ctx context.Context, caseNumber, reason, by string, at time.Time, items []Item) ([]Hold, error)
	// ReleaseHolds releases the case's active holds of items (all of them when items is empty;
	// releasing a trajectory, named by any of its sightings, releases the sightings it listed) and
	// returns them. It releases all or nothing: an error wrapping ErrNotFound when the case holds
	// one of the items not (or nothing at all). With dryRun it only says what it would release.
	ReleaseHolds(ctx context.Context, caseNumber string, items []Item, rel Release, dryRun bool) ([]Hold, error)
	// Holds lists holds by id.
	Holds(ctx context.Context, q HoldQuery) ([]Hold, error)
}

// Actor is who asks for a hold or a release, as the audit log names them.
type Actor struct {
	Name, Role string
}

// MaxItems bounds one hold or release request.
const MaxItems = 1000

// Holds places and releases case holds and records each in the audit log.
type Holds struct {
	store HoldStore
	log   *audit.Log
	now   func() time.Time
}

// NewHolds returns the case-hold service. log is required: holds change what the retention job may
// delete, so they are never made unrecorded. now is the clock (time.Now when nil).
func NewHolds(s HoldStore, log *audit.Log, now func() time.Time) (*Holds, error) {
	if s == nil || log == nil {
		return nil, fmt.Errorf("case holds: a store and an audit log are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Holds{store: s, log: log, now: now}, nil
}

// dedupe drops repeated items, keeping the first of each.
func dedupe(items []Item) []Item {
	seen := make(map[Item]bool, len(items))
	out := items[:0:0]
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}

func checkItems(items []Item, allowEmpty bool) error {
	if len(items) == 0 && !allowEmpty {
		return fmt.Errorf("%w: name at least one sighting, trajectory or alert to hold", ErrInvalid)
	}
	if len(items) > MaxItems {
		return fmt.Errorf("%w: %d items, at most %d per request", ErrInvalid, len(items), MaxItems)
	}
	for _, it := range items {
		if err := it.check(); err != nil {
			return err
		}
	}
	return nil
}

// Hold keeps items (and what they cover) from the retention job until the case releases them. c is
// the case number and the reason for holding. The audit entry (action case.hold) is written after
// the hold: if writing it fails the error is returned and the hold stays, since keeping data longer
// is the safe side.
func (h *Holds) Hold(ctx context.Context, who Actor, c audit.Case, items ...Item) ([]Hold, error) {
	c, err := audit.ParseCase(c.Number, c.Reason)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if who.Name == "" {
		return nil, fmt.Errorf("%w: hold for case %s: who is asking is required", ErrInvalid, c.Number)
	}
	if err := checkItems(items, false); err != nil {
		return nil, err
	}
	items = dedupe(items)
	holds, err := h.store.PlaceHolds(ctx, c.Number, c.Reason, who.Name, h.now(), items)
	if err != nil {
		return nil, fmt.Errorf("hold for case %s: %w", c.Number, err)
	}
	if _, err := h.log.Append(ctx, audit.Record{Actor: who.Name, Role: who.Role, Action: "case.hold",
		Target: target(items), Case: c.Number, Reason: c.Reason, Details: holdDetails(items, holds)}); err != nil {
		return holds, fmt.Errorf("hold for case %s: placed, but not recorded: %w", c.Number, err)
	}
	return holds, nil
}

// Release ends the case's holds of items, or of everything the case holds when items is empty, so
// the retention job may delete them once their periods are over. c.Reason says why. A release naming
// something the case does not hold is refused (ErrNotFound) and releases nothing. The audit entry
// (case.release) is written before the release: if it cannot be written nothing is released.
func (h *Holds) Release(ctx context.Context, who Actor, c audit.Case, items ...Item) ([]Hold, error) {
	c, err := audit.ParseCase(c.Number, c.Reason)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if who.Name == "" {
		return nil, fmt.Errorf("%w: release of case %s: who is asking is required", ErrInvalid, c.Number)
	}
	if err := checkItems(items, true); err != nil {
		return nil, err
	}
	items = dedupe(items)
	rel := Release{By: who.Name, Reason: c.Reason, At: h.now()}
	if _, err := h.store.ReleaseHolds(ctx, c.Number, items, rel, true); err != nil {
		return nil, fmt.Errorf("release of case %s: %w", c.Number, err)
	}
	tgt := target(items)
	if len(items) == 0 {
		tgt = "case/" + c.Number
	}
	if _, err := h.log.Append(ctx, audit.Record{Actor: who.Name, Role: who.Role, Action: "case.release",
		Target: tgt, Case: c.Number, Reason: c.Reason, Details: holdDetails(items, nil)}); err != nil {
		return nil, fmt.Errorf("release of case %s: %w", c.Number, err)
	}
	released, err := h.store.ReleaseHolds(ctx, c.Number, items, rel, false)
	if err != nil {
		return nil, fmt.Errorf("release of case %s: %w", c.Number, err)
	}
	return released, nil
}

// List returns holds matching q.
func (h *Holds) List(ctx context.Context, q HoldQuery) ([]Hold, error) {
	if q.Item != (Item{}) {
		if err := q.Item.check(); err != nil {
			return nil, err
		}
	}
	hs, err := h.store.Holds(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list case holds: %w", err)
	}
	return hs, nil
}

func target(items []Item) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0].String()
	}
	return strconv.Itoa(len(items)) + " items"
}

// holdDetails names the items in the audit entry, as many as fit its size limit.
func holdDetails(items []Item, holds []Hold) map[string]string {
	d := map[string]string{}
	var b strings.Builder
	for i, it := range items {
		s := it.String()
		if b.Len()+len(s) > 3000 {
			fmt.Fprintf(&b, " and %d more", len(items)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	if b.Len() > 0 {
		d["items"] = b.String()
	}
	if holds != nil {
		via := 0
		for _, h := range holds {
			if h.Via != "" {
				via++
			}
		}
		d["holds"] = strconv.Itoa(len(holds))
		if via > 0 {
			d["sightings_via_trajectories"] = strconv.Itoa(via)
		}
	}
	return d
}
