package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ConnectOptions says how to reach NATS and as whom.
type ConnectOptions struct {
	// URLs of the NATS servers (nats://host:port). Give all of a cluster's: servers do not advertise
	// each other to clients (bus/natsconf sets no_advertise), so an edge only dials what it was given.
	URLs []string
	// Name is shown in the server's connection list, e.g. "edge-a" or "center".
	Name string
	// Edge, when set, makes the connection use the edge's own inbox prefix (InboxPrefix), which is all
	// the server lets an edge subscribe to besides its requests.
	Edge string
	// Seed is the user's nkey seed (bus/natsconf makes them); SeedFile names a file holding it
	// instead. The seed is the secret: it signs the server's challenge and never leaves the process.
	Seed     []byte
	SeedFile string
	// PingInterval is how often an idle connection is checked; a link that dies without a TCP reset is
	// noticed after about 3 of them. Default 2 s.
	PingInterval time.Duration
	Logger       *slog.Logger
}

// Connect dials NATS. It returns at once even when no server answers yet (the connection keeps
// trying forever, as it does after a drop), so an edge whose link is down at start still starts and
// fills its outbox; ctx bounds only the first attempt's set-up.
func Connect(ctx context.Context, o ConnectOptions) (*nats.Conn, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("nats: no server URLs")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("nats", o.Name)
	ping := o.PingInterval
	if ping <= 0 {
		ping = 2 * time.Second
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(ping),
		nats.MaxPingsOutstanding(3),
		// Publishes made while disconnected are the outbox's to keep, not the client's buffer.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "server", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			if s != nil {
				log.Error("nats error", "subject", s.Subject, "err", err)
				return
			}
			log.Error("nats error", "err", err)
		}),
	}
	if o.Edge != "" {
		if err := CheckID("edge", o.Edge); err != nil {
			return nil, err
		}
		opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(o.Edge)))
	}
	seed := o.Seed
	if o.SeedFile != "" {
		st, err := os.Stat(o.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats credentials: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("nats credentials %s: readable by others (mode %v): make it 0600", o.SeedFile, st.Mode().Perm())
		}
		b, err := os.ReadFile(o.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats credentials: %w", err)
		}
		seed = []byte(strings.TrimSpace(string(b)))
	}
	if len(seed) > 0 {
		kp, err := nkeys.FromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("nats credentials of %s: %w", o.Name, err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("nats credentials of %s: %w", o.Name, err)
		}
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %v as %s: %w", o.URLs, o.Name, err)
	}
	return nc, nil
}
