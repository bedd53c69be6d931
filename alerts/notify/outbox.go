// Package notify delivers what the alert engine decides people must know: webhooks to patrol and
// guardian apps through a durable outbox, and a Server-Sent Events stream for the operator console.
//
// The outbox is a table in the store. The engine writes messages in the same transaction as the alert
// change that causes them, so a change and its notifications exist together or not at all. A Worker
// then delivers each message with its idempotency key, and marks it delivered only after the receiver
// answered 2xx. A crash between the receiver's answer and that mark means the message is sent again
// after restart, with the same key: delivery is at least once, and receivers that keep the keys they
// have seen (see Verify and the Idempotency-Key header) act exactly once.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Message is one notification to one receiver.
type Message struct {
	ID int64 `json:"id"` // assigned by the outbox
	// Receiver names who gets it (a patrol unit's app, a guardian, a command centre); Receivers maps
	// it to an endpoint when it is sent, so a corrected URL applies to messages already queued.
	Receiver string `json:"receiver"`
	// Key is the idempotency key, unique per receiver: enqueueing a message whose receiver and key are
	// already in the outbox does nothing.
	Key     string    `json:"key"`
	Topic   string    `json:"topic"`   // what happened, e.g. "dispatch.request", "guardian.notice"
	Payload []byte    `json:"payload"` // the JSON body sent
	Created time.Time `json:"created"`

	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	Delivered   time.Time `json:"delivered,omitzero"`
	Failed      time.Time `json:"failed,omitzero"` // gave up
	LastError   string    `json:"last_error,omitempty"`
}

// Outbox is the durable queue of messages, implemented by the store.
type Outbox interface {
	// EnqueueOutbox adds messages on their own; alert changes add theirs in the change's transaction.
	EnqueueOutbox(ctx context.Context, msgs ...Message) error
	// DueOutbox returns up to limit undelivered, not abandoned messages whose next attempt is at or
	// before now, oldest first.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]Message, error)
	// NextOutboxDue returns the earliest next attempt of any pending message; ok is false if none.
	NextOutboxDue(ctx context.Context) (next time.Time, ok bool, err error)
	MarkOutboxDelivered(ctx context.Context, id int64, at time.Time) error
	RetryOutbox(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	FailOutbox(ctx context.Context, id int64, at time.Time, lastErr string) error
	// OutboxMessages lists messages for inspection (tests, the console's delivery view), newest first.
	OutboxMessages(ctx context.Context, receiver string, limit int) ([]Message, error)
}

// Validate checks a message before it is queued.
func (m Message) Validate() error {
	switch {
	case m.Receiver == "":
		return errors.New("notification without a receiver")
	case m.Key == "":
		return fmt.Errorf("notification to %s without an idempotency key", m.Receiver)
	case m.Topic == "":
		return fmt.Errorf("notification %s to %s without a topic", m.Key, m.Receiver)
	case len(m.Key) > 200:
		return fmt.Errorf("notification to %s: idempotency key longer than 200 bytes", m.Receiver)
	}
	return nil
}

// Endpoint is where a receiver's webhooks go and the secret that signs them.
type Endpoint struct {
	URL    string
	Secret []byte
}

// Receivers resolves receiver names to endpoints.
type Receivers interface {
	Endpoint(ctx context.Context, receiver string) (Endpoint, error)
}

// ErrUnknownReceiver means no endpoint is configured for a receiver.
var ErrUnknownReceiver = errors.New("unknown receiver")

// StaticReceivers is a fixed receiver table, typically from the configuration file.
type StaticReceivers map[string]Endpoint

// Endpoint implements Receivers.
func (s StaticReceivers) Endpoint(ctx context.Context, receiver string) (Endpoint, error) {
	e, ok := s[receiver]
	if !ok {
		return Endpoint{}, fmt.Errorf("%w %q", ErrUnknownReceiver, receiver)
	}
	return e, nil
}

// ValidateEndpoint checks a configured endpoint: an http or https URL with a host, and a secret of at
// least 32 bytes.
func ValidateEndpoint(e Endpoint) error {
	u, err := url.Parse(e.URL)
	if err != nil {
		return fmt.Errorf("webhook URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("webhook URL %q: want http(s)://host/...", u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("webhook URL %q: credentials belong in the signing secret, not the URL", u.Redacted())
	}
	if len(e.Secret) < 32 {
		return fmt.Errorf("webhook %s: signing secret must be at least 32 bytes", u.Redacted())
	}
	return nil
}
