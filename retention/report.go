package retention

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrIncomplete is wrapped by a run's error when some objects could not be deleted or verified
// gone; their marks stay and the next run retries them.
var ErrIncomplete = errors.New("retention run incomplete")

// Counts are rows by kind.
type Counts struct {
	UnlistedSightings int `json:"unlisted_sightings"`
	ListedSightings   int `json:"listed_sightings"`
	Alerts            int `json:"alerts"`
	Embeddings        int `json:"embeddings"`    // watch-list enrolment embeddings (with their photo references)
	Notifications     int `json:"notifications"` // delivered or abandoned alert notices
}

// Total is the sum.
func (c Counts) Total() int {
	return c.UnlistedSightings + c.ListedSightings + c.Alerts + c.Embeddings + c.Notifications
}

// ObjectCounts are object-store outcomes.
type ObjectCounts struct {
	Deleted int   `json:"deleted"` // deleted now and verified gone
	Bytes   int64 `json:"bytes"`   // their size
	// AlreadyGone were marked but not in the store (deleted by an earlier, interrupted run).
	AlreadyGone int `json:"already_gone"`
	// Shared are still named by a kept row (content addressing) and were kept.
	Shared int `json:"shared"`
	// Failed could not be deleted or verified; they stay marked.
	Failed int `json:"failed"`
}

func (o *ObjectCounts) add(b ObjectCounts) {
	o.Deleted += b.Deleted
	o.Bytes += b.Bytes
	o.AlreadyGone += b.AlreadyGone
	o.Shared += b.Shared
	o.Failed += b.Failed
}

// Report is what one run did (or, for a dry run, would do).
type Report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	DryRun   bool      `json:"dry_run"`
	Policy   Policy    `json:"-"`
	// Deleted are the rows deleted (verified gone).
	Deleted Counts `json:"deleted"`
	// Held are rows whose period was over but that a case holds.
	Held Counts `json:"held"`
	// Objects are object outcomes by kind (the key's first segment: face, body, snapshot, clip,
	// photo, ...); ObjectTotal sums them.
	Objects     map[string]ObjectCounts `json:"objects"`
	ObjectTotal ObjectCounts            `json:"object_total"`
	// Pending is how many object keys are still marked after the run.
	Pending int `json:"pending"`
	// Expired lists watch-list entries past expiry that still held embeddings at the start of the run.
	Expired []ExpiredEntry `json:"expired,omitempty"`
	// Failures describe what went wrong (the first few).
	Failures []string `json:"failures,omitempty"`
	// Batches is the number of write transactions; MaxBatch the longest of them.
	Batches  int           `json:"batches"`
	MaxBatch time.Duration `json:"max_batch"`
}

const maxFailures = 20

func (r *Report) fail(format string, args ...any) {
	if len(r.Failures) < maxFailures {
		r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
	}
}

func (r *Report) object(kind string, c ObjectCounts) {
	if r.Objects == nil {
		r.Objects = map[string]ObjectCounts{}
	}
	o := r.Objects[kind]
	o.add(c)
	r.Objects[kind] = o
	r.ObjectTotal.add(c)
}

func (r *Report) batch(d time.Duration) {
	r.Batches++
	r.MaxBatch = max(r.MaxBatch, d)
}

// Purged lists the watch-list entries whose embeddings this run deleted.
func (r Report) Purged() []string {
	var out []string
	for _, e := range r.Expired {
		if e.Purged {
			out = append(out, e.ID)
		}
	}
	return out
}

// details is the audit entry's summary of the run.
func (r Report) details() map[string]string {
	d := map[string]string{
		"unlisted_sightings": strconv.Itoa(r.Deleted.UnlistedSightings),
		"listed_sightings":   strconv.Itoa(r.Deleted.ListedSightings),
		"alerts":             strconv.Itoa(r.Deleted.Alerts),
		"embeddings":         strconv.Itoa(r.Deleted.Embeddings),
		"notifications":      strconv.Itoa(r.Deleted.Notifications),
		"objects":            strconv.Itoa(r.ObjectTotal.Deleted),
		"bytes":              strconv.FormatInt(r.ObjectTotal.Bytes, 10),
		"objects_failed":     strconv.Itoa(r.ObjectTotal.Failed),
		"objects_pending":    strconv.Itoa(r.Pending),
		"held_sightings":     strconv.Itoa(r.Held.UnlistedSightings + r.Held.ListedSightings),
		"held_alerts":        strconv.Itoa(r.Held.Alerts),
		"expired_entries":    strconv.Itoa(len(r.Expired)),
	}
	if p := r.Purged(); len(p) > 0 {
		s := strings.Join(p, " ")
		if len(s) > 1500 {
			s = s[:1500] + " ..."
		}
		d["purged_entries"] = s
	}
	if len(r.Failures) > 0 {
		s := r.Failures[0]
		if len(s) > 500 {
			s = s[:500] + "..."
		}
		d["first_failure"] = s
	}
	return d
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) {
	verb := "deleted"
	if r.DryRun {
		verb = "to delete"
	}
	fmt.Fprintf(w, "retention run %s (%s)\n", r.Started.UTC().Format(time.RFC3339), r.Finished.Sub(r.Started).Round(time.Millisecond))
	d := r.Deleted
	fmt.Fprintf(w, "rows %s: %d sightings of unlisted people, %d sightings of listed people, %d alerts, %d watch-list embeddings, %d notifications\n",
		verb, d.UnlistedSightings, d.ListedSightings, d.Alerts, d.Embeddings, d.Notifications)
	o := r.ObjectTotal
	fmt.Fprintf(w, "objects %s: %d (%s); already gone %d; kept because still referenced %d; failed %d; still marked %d\n",
		verb, o.Deleted, humanBytes(o.Bytes), o.AlreadyGone, o.Shared, o.Failed, r.Pending)
	for _, k := range slices.Sorted(maps.Keys(r.Objects)) {
		c := r.Objects[k]
		fmt.Fprintf(w, "  %-10s %d (%s), already gone %d, shared %d, failed %d\n", k, c.Deleted, humanBytes(c.Bytes), c.AlreadyGone, c.Shared, c.Failed)
	}
	h := r.Held
	if h.Total() > 0 {
		fmt.Fprintf(w, "kept by case holds: %d sightings, %d alerts\n", h.UnlistedSightings+h.ListedSightings, h.Alerts)
	}
	for _, e := range r.Expired {
		state := "embeddings and photos deleted"
		if !e.Purged {
			state = "embeddings and photos kept until " + e.PurgeAt.UTC().Format(time.RFC3339)
			if r.DryRun && !e.PurgeAt.After(r.Started) {
				state = "embeddings and photos would be deleted"
			}
		}
		fmt.Fprintf(w, "expired watch-list entry %s (%s) since %s: %d embeddings, %d photos; %s\n",
			e.ID, e.Category, e.Expired.UTC().Format(time.RFC3339), e.Embeddings, e.Photos, state)
	}
	fmt.Fprintf(w, "write transactions: %d, longest %s\n", r.Batches, r.MaxBatch.Round(time.Microsecond))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
