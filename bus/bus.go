// Package bus is the JetStream plumbing between edges and the center in the distributed mode: subject and
// stream names, the event envelope, connecting, the events stream, the edge's Publisher (every event
// goes through an on-disk outbox first, so a link that drops loses nothing) and the center's Consumer
// (a durable pull consumer with explicit acks, bounded redelivery and one worker per camera partition).
//
// Payloads are opaque here: a sighting event's JSON, a camera event's. What the bus adds is who sent
// it (the edge, from the subject, which the server's permissions let only that edge publish on), which
// camera and lease epoch it belongs to, a per-camera sequence number within the epoch, the edge's clock
// when the event was made, a stable message id for JetStream's de-duplication, and the natural key the
// center applies it under (package bus/ledger).
package bus

import (
	"fmt"
	"strings"
)

// Names of the JetStream assets. One deployment per NATS account: the account is the namespace.
const (
	// StreamEvents holds edge → center events until the center has applied them (work-queue retention).
	StreamEvents = "SNOWLIGHT_EVENTS"
	// ConsumerCenter is the center's durable consumer on StreamEvents.
	ConsumerCenter = "center"

	// KV buckets. Each package that owns a bucket's semantics creates it (bus/lease, bus/watchsync);
	// the names live here so the server configuration (bus/natsconf) can grant them.
	BucketCameras   = "snowlight_cameras"
	BucketEdges     = "snowlight_edges"
	BucketLeases    = "snowlight_leases"
	BucketWatchlist = "snowlight_watchlist"

	eventsRoot = "snowlight.ev"
	rpcRoot    = "snowlight.rpc"
)

// Buckets lists every KV bucket, in the order the server configuration grants them.
var Buckets = [...]string{BucketCameras, BucketEdges, BucketLeases, BucketWatchlist}

// CheckID reports whether s may be used as an edge id, camera id or event kind: config's rule for
// camera ids (^[a-z0-9][a-z0-9_-]{0,63}$, config/validate.go). Every such id is one subject token
// and one KV key, so it must not hold '.', '*', '>' or space. (Not a regexp: the center checks three
// per event.)
func CheckID(what, s string) error {
	ok := len(s) >= 1 && len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("%s %q: want 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit", what, s)
	}
	return nil
}

// EventsSubjects is the filter of every event subject (the stream's subjects).
func EventsSubjects() string { return eventsRoot + ".>" }

// EventSubject is where an edge publishes an event of one kind for one camera:
// snowlight.ev.<edge>.<camera>.<kind>. The edge token is what the server's permissions bind to the
// edge's credentials, so the center can believe it.
func EventSubject(edge, camera, kind string) string {
	return eventsRoot + "." + edge + "." + camera + "." + kind
}

// EdgeEvents is the filter of one edge's event subjects.
func EdgeEvents(edge string) string { return eventsRoot + "." + edge + ".>" }

// parseEventSubject splits an event subject into its edge, camera and kind.
func parseEventSubject(subject string) (edge, camera, kind string, err error) {
	rest, ok := strings.CutPrefix(subject, eventsRoot+".")
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 3 {
		return "", "", "", fmt.Errorf("subject %q is not %s.<edge>.<camera>.<kind>", subject, eventsRoot)
	}
	for i, what := range [...]string{"edge", "camera", "kind"} {
		if err := CheckID(what, parts[i]); err != nil {
			return "", "", "", fmt.Errorf("subject %q: %w", subject, err)
		}
	}
	return parts[0], parts[1], parts[2], nil
}

// RPCSubject is where an edge answers requests of one operation (bus/rpc): snowlight.rpc.<edge>.<op>.
func RPCSubject(edge, op string) string { return rpcRoot + "." + edge + "." + op }

// EdgeRPC is the filter of one edge's request subjects.
func EdgeRPC(edge string) string { return rpcRoot + "." + edge + ".>" }

// InboxPrefix is the reply-subject prefix of an edge's connection. Each edge has its own, and may
// subscribe to nothing else but its requests, so no edge can read another's replies (acks of its
// publishes, KV values it fetched).
func InboxPrefix(edge string) string { return "_INBOX.edge." + edge }
