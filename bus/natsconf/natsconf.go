// Package natsconf writes the nats-server configuration of a distributed snowlight deployment: one
// account with JetStream, a user for the center with full rights in it, and one user per edge that may
// publish only its own events, write only its own presence, claim camera leases, read the camera list
// and the watch list, answer only its own requests and read only its own replies (docs/SECURITY.md).
// Users authenticate with nkeys: the server holds public keys only, each process its own seed.
package natsconf

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/nats-io/nkeys"

	"snowlight/bus"
)

// Account is the NATS account the deployment lives in.
const Account = "SNOWLIGHT"

// Identity is a user as the server knows it: a name for people and the nkey public key.
type Identity struct {
	Name      string
	PublicKey string
}

// Credentials are what the user's process holds: the nkey seed (secret; write it to a file readable by
// that process only) and its public identity.
type Credentials struct {
	Identity
	Seed []byte
}

// NewCredentials makes a fresh nkey user.
func NewCredentials(name string) (Credentials, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return Credentials{}, fmt.Errorf("nkey for %s: %w", name, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return Credentials{}, fmt.Errorf("nkey for %s: %w", name, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return Credentials{}, fmt.Errorf("nkey for %s: %w", name, err)
	}
	return Credentials{Identity: Identity{Name: name, PublicKey: pub}, Seed: seed}, nil
}

// Server is one nats-server's configuration.
type Server struct {
	// Name is the server_name, unique in a cluster.
	Name string
	// Listen is host:port for clients; Monitor, when set, host:port of the HTTP monitoring endpoint
	// (/healthz, /varz, /jsz), which has no authentication: bind it to loopback or a private network.
	Listen, Monitor string
	// StoreDir is where JetStream keeps streams (file storage).
	StoreDir string
	// MaxFileStore and MaxMemoryStore bound JetStream's use of disk and memory (bytes; 0: the server's
	// defaults, a share of what it finds).
	MaxFileStore, MaxMemoryStore int64
	// Cluster, when set, makes the server one node of a JetStream cluster.
	Cluster *Cluster

	// Center is the center's user; Edges one user per edge, Name being the edge id.
	Center Identity
	Edges  []Identity
}

// Cluster is the routing between the nodes of a cluster.
type Cluster struct {
	Name string
	// Listen is host:port for routes; Routes the other nodes' route host:port.
	Listen string
	Routes []string
	// User and Password authenticate routes (every node of a cluster has the same); Password from
	// NewRoutePassword.
	User, Password string
}

// NewRoutePassword makes a random route password.
func NewRoutePassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("route password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// maxPayload is the server's max_payload: the bus's largest event plus room for subject and headers.
const maxPayload = bus.MaxPayload + 64<<10

// Write writes the configuration. The nats-server configuration language is a superset of JSON, so
// it is written as JSON: every id, key and path is quoted and escaped by encoding/json.
func (s Server) Write(w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	users := []map[string]any{{"nkey": s.Center.PublicKey, "permissions": CenterPermissions()}}
	for _, e := range s.Edges {
		users = append(users, map[string]any{"nkey": e.PublicKey, "permissions": EdgePermissions(e.Name)})
	}
	js := map[string]any{"store_dir": s.StoreDir}
	if s.MaxFileStore > 0 {
		js["max_file_store"] = s.MaxFileStore
	}
	if s.MaxMemoryStore > 0 {
		js["max_memory_store"] = s.MaxMemoryStore
	}
	conf := map[string]any{
		"server_name": s.Name,
		"listen":      s.Listen,
		"max_payload": maxPayload,
		"jetstream":   js,
		"accounts":    map[string]any{Account: map[string]any{"jetstream": "enabled", "users": users}},
	}
	if s.Monitor != "" {
		conf["http"] = s.Monitor
	}
	if c := s.Cluster; c != nil {
		routes := make([]string, len(c.Routes))
		for i, r := range c.Routes {
			routes[i] = "nats-route://" + c.User + ":" + c.Password + "@" + r
		}
		conf["cluster"] = map[string]any{
			"name":   c.Name,
			"listen": c.Listen,
			"routes": routes,
			// Clients dial the URLs they were configured with, never addresses the cluster tells
			// them about (which may be internal, or bypass the proxy the link goes through).
			"no_advertise":  true,
			"authorization": map[string]any{"user": c.User, "password": c.Password},
		}
	}
	// Without HTML escaping: the server's parser knows no \u escapes, and '>' is a subject wildcard.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(conf); err != nil {
		return fmt.Errorf("nats config of %s: %w", s.Name, err)
	}
	return nil
}

func (s Server) check() error {
	if err := bus.CheckID("server name", s.Name); err != nil {
		return fmt.Errorf("nats config: %w", err)
	}
	if !filepath.IsAbs(s.StoreDir) || strings.ContainsFunc(s.StoreDir, unicode.IsControl) {
		return fmt.Errorf("nats config of %s: the store directory %q is not an absolute path without control characters", s.Name, s.StoreDir)
	}
	addrs := []string{s.Listen}
	if s.Monitor != "" {
		addrs = append(addrs, s.Monitor)
	}
	for _, hp := range addrs {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return fmt.Errorf("nats config of %s: address %q: %w", s.Name, hp, err)
		}
	}
	if !nkeys.IsValidPublicUserKey(s.Center.PublicKey) {
		return fmt.Errorf("nats config of %s: the center's user key %q is not an nkey user public key", s.Name, s.Center.PublicKey)
	}
	seen := map[string]bool{}
	for _, e := range s.Edges {
		if err := bus.CheckID("edge", e.Name); err != nil {
			return fmt.Errorf("nats config of %s: %w", s.Name, err)
		}
		if seen[e.Name] {
			return fmt.Errorf("nats config of %s: edge %s listed twice", s.Name, e.Name)
		}
		seen[e.Name] = true
		if !nkeys.IsValidPublicUserKey(e.PublicKey) {
			return fmt.Errorf("nats config of %s: edge %s: %q is not an nkey user public key", s.Name, e.Name, e.PublicKey)
		}
	}
	if c := s.Cluster; c != nil && (c.Name == "" || c.User == "" || len(c.Password) < 16 || len(c.Routes) == 0) {
		return fmt.Errorf("nats config of %s: a cluster needs a name, routes, a route user and a password of 16 or more characters", s.Name)
	}
	return nil
}

// Permissions are a user's publish and subscribe rights.
type Permissions struct {
	Publish   Rights `json:"publish"`
	Subscribe Rights `json:"subscribe"`
	// AllowResponses lets the user reply once to each request it received, whatever the reply
	// subject: how an edge answers the center's requests without the right to publish on inboxes.
	AllowResponses bool `json:"allow_responses,omitempty"`
}

// Rights list allowed and denied subjects.
type Rights struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// CenterPermissions: the center provisions the streams and buckets and reads everything in the
// account; it is the trusted side.
func CenterPermissions() Permissions {
	return Permissions{Publish: Rights{Allow: []string{">"}}, Subscribe: Rights{Allow: []string{">"}}}
}

// EdgePermissions are an edge's rights, as narrow as the edge's work allows:
//   - publish its own events (snowlight.ev.<edge>.>), nobody else's;
//   - write its own presence key, and camera leases (a claim is a compare-and-set on any camera's
//     key: see docs/SECURITY.md for what a rogue edge could still do there and how fencing limits it);
//   - read the camera, presence, lease and watch-list buckets (stream info, direct gets, and the
//     ordered consumers a KV watch creates, with their flow-control replies); nothing of the events
//     stream, so no edge reads another's events;
//   - receive its own requests and its own inbox; answer requests once each.
func EdgePermissions(edge string) Permissions {
	pub := []string{
		bus.EdgeEvents(edge),
		"$KV." + bus.BucketLeases + ".>",
		"$KV." + bus.BucketEdges + "." + edge,
	}
	for _, b := range bus.Buckets {
		stream := "KV_" + b
		pub = append(pub,
			"$JS.API.STREAM.INFO."+stream,
			"$JS.API.DIRECT.GET."+stream+".>",
			"$JS.API.STREAM.MSG.GET."+stream,
			"$JS.API.CONSUMER.CREATE."+stream,
			"$JS.API.CONSUMER.CREATE."+stream+".>",
			"$JS.API.CONSUMER.DELETE."+stream+".>",
			"$JS.API.CONSUMER.INFO."+stream+".>",
			"$JS.FC."+stream+".>",
		)
	}
	return Permissions{
		Publish:        Rights{Allow: pub},
		Subscribe:      Rights{Allow: []string{bus.InboxPrefix(edge) + ".>", bus.EdgeRPC(edge)}},
		AllowResponses: true,
	}
}
