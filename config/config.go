// Package config reads the one YAML file that describes a deployment: cameras and their topology, patrol
// units and areas, watch-list categories, storage, retention, listeners. Every value is validated at load
// time with a message that names the field, and credentials never print.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	_ "time/tzdata" // time zones validate and resolve even on a host without a zone database

	"snowlight/geo"
)

// Config is a whole deployment.
type Config struct {
	Listen    string `yaml:"listen"`     // console and API, e.g. 127.0.0.1:8080
	OpsListen string `yaml:"ops_listen"` // if set, /metrics and /healthz are served only here
	DataDir   string `yaml:"data_dir"`   // database, local object store, spool
	Models    string `yaml:"models"`     // model directory; empty: classical detectors, no face recognition
	// Engine runs the models: onnxruntime, opencv, or auto (empty): ONNX Runtime when its library loads,
	// else OpenCV dnn.
	Engine string `yaml:"engine"`
	// ONNXRuntime is the path of libonnxruntime.so.1; empty: $SNOWLIGHT_ONNXRUNTIME, then where
	// scripts/setup.sh installs it, then the system's library path.
	ONNXRuntime string `yaml:"onnxruntime"`
	// TimeZone is where the deployment is (an IANA name such as Europe/Vienna): alert rule schedules that
	// name no zone use it. UTC when empty.
	TimeZone string `yaml:"time_zone"`

	Storage   Storage    `yaml:"storage"`
	Cameras   []Camera   `yaml:"cameras"`
	Areas     []Area     `yaml:"areas"`
	Patrols   []Patrol   `yaml:"patrols"`
	Guardians []Guardian `yaml:"guardians"`
	Watchlist Watchlist  `yaml:"watchlist"`
	Alerts    Alerts     `yaml:"alerts"`
	Retention Retention  `yaml:"retention"`
	Audit     Audit      `yaml:"audit"`
	Evidence  Evidence   `yaml:"evidence"`
	Topology  Topology   `yaml:"topology"`
	// Roads are the street network for ranking patrols by travel distance; without them units are
	// ranked as the crow flies.
	Roads []Road `yaml:"roads"`
	// NATS links the processes of a distributed deployment (`snowlight center`, `snowlight edge`);
	// `snowlight serve` runs everything in one process and ignores it.
	NATS NATS `yaml:"nats"`
}

// NATS is how a process of a distributed deployment reaches NATS JetStream, and what it is there.
// Every process may read the same file: the role (center or edge) comes from the command, and an
// edge's id, credentials and capacity may be given on its command line instead.
type NATS struct {
	// URLs of every NATS server (nats://host:port); a cluster's servers do not tell clients about
	// each other.
	URLs []string `yaml:"urls"`
	// SeedFile holds this process's nkey seed (`snowlight nats-config` writes one per user, mode
	// 0600): the center's, or this edge's.
	SeedFile string `yaml:"seed_file"`
	// Edge is this edge's id; Capacity how many cameras it can hold (measure it: docs/BENCHMARKS.md,
	// "Camera density").
	Edge     string `yaml:"edge"`
	Capacity int    `yaml:"capacity"`
	// Replicas of the events stream and the buckets: 1 on one server, 3 on a cluster (the center
	// provisions them).
	Replicas int `yaml:"replicas"`
	// StreamMaxBytes bounds the events stream: what a center outage can leave waiting at the broker
	// before edges keep events in their outboxes [8 GiB].
	StreamMaxBytes int64 `yaml:"stream_max_bytes"`
	// SessionTTL is how long a silent edge keeps its cameras [15 s]: it must outlast a NATS leader
	// election (docs/ARCHITECTURE.md).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// Outbox is the edge's queue on disk for events while the link or the center is down.
	Outbox Outbox `yaml:"outbox"`
}

// Outbox is the edge's on-disk event queue.
type Outbox struct {
	// Dir holds it [data_dir/outbox]; MaxBytes bounds it, the oldest events going first [1 GiB].
	Dir      string `yaml:"dir"`
	MaxBytes int64  `yaml:"max_bytes"`
}

// Camera is one RTSP camera.
type Camera struct {
	ID        string     `yaml:"id"`
	Name      string     `yaml:"name"`
	URL       string     `yaml:"url"` // rtsp:// or rtsps://; credentials in it are moved to Username/Password
	Username  string     `yaml:"username"`
	Password  Secret     `yaml:"password"`
	Transport string     `yaml:"transport"` // tcp (default) or udp
	Position  geo.LatLon `yaml:"position"`
	Area      string     `yaml:"area"`
	// DetectFPS is how many frames per second go to the detectors.
	DetectFPS  float64     `yaml:"detect_fps"`
	Zones      []ImageZone `yaml:"zones"`
	Neighbours []Neighbour `yaml:"neighbours"`
	// Recording is a recorded video of this camera, which `snowlight replay` plays through the
	// pipeline instead of connecting to the camera. A camera with a recording needs no URL.
	Recording *Recording `yaml:"recording"`
	// Edges, in a distributed deployment, are the only edges that may hold the camera (those on its
	// network); one edge pins it there. Empty: any edge.
	Edges []string `yaml:"edges"`
}

// Recording is a camera's recorded video (H.264 or H.265 in any container libavformat reads).
type Recording struct {
	// File is the video; a relative path is relative to the configuration file's directory.
	File string `yaml:"file"`
	// StartText is the wall-clock time of the video's media time zero in RFC 3339, as written in the
	// file; validation parses it into Start. A frame's wall time is Start plus its PTS: cameras'
	// recordings line up in time through it.
	StartText string    `yaml:"start"`
	Start     time.Time `yaml:"-"`
}

// ImageZone is a polygon in image coordinates (pixels) with a rule, e.g. loitering.
type ImageZone struct {
	ID      string        `yaml:"id"`
	Polygon [][2]float64  `yaml:"polygon"`
	Dwell   time.Duration `yaml:"dwell"` // loitering threshold
}

// Neighbour is a camera a person can reach next, with the plausible transit time.
type Neighbour struct {
	Camera     string        `yaml:"camera"`
	MinTransit time.Duration `yaml:"min"`
	MaxTransit time.Duration `yaml:"max"`
}

// Topology tunes cross-camera stitching.
type Topology struct {
	// Learn lets confident matches widen or narrow the configured transit windows.
	Learn bool `yaml:"learn"`
}

// Area is a unit of the management grid: street, district or city, each with a parent up to the city.
type Area struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Level  string `yaml:"level"` // street, district, city
	Parent string `yaml:"parent"`
	// Supervisor receives escalations when no unit in the area acknowledges.
	Supervisor Receiver `yaml:"supervisor"`
}

// Receiver is somebody notifications go to by webhook.
type Receiver struct {
	Name    string `yaml:"name"`
	Webhook string `yaml:"webhook"` // http(s) URL of the receiving app
	Secret  Secret `yaml:"secret"`  // HMAC key for the signature
}

// Patrol is a street patrol unit.
type Patrol struct {
	ID       string     `yaml:"id"`
	Name     string     `yaml:"name"`
	Area     string     `yaml:"area"`
	Position geo.LatLon `yaml:"position"`
	Receiver Receiver   `yaml:"receiver"`
}

// Guardian is someone told when a person they look after (an at-risk or missing person on the watch
// list) is seen: they get only notices about those persons.
type Guardian struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Persons  []string `yaml:"persons"` // watch-list person ids
	Receiver Receiver `yaml:"receiver"`
}

// Watchlist overrides the watch list's policy per category. The defaults are watchlist.DefaultPolicy()
// (the thresholds measured in docs/ACCURACY.md); the file only says where a deployment departs from
// them. Keys are categories: at_risk, missing, suspect ("at-risk" is read as at_risk).
type Watchlist struct {
	Categories map[string]Category `yaml:"categories"`
}

// Category overrides one watch-list category; a field left out keeps the default.
type Category struct {
	// Threshold is the cosine similarity a face must reach; Margin the lead it needs over the second
	// person.
	Threshold *float64 `yaml:"threshold"`
	Margin    *float64 `yaml:"margin"`
	// MaxExpiry caps how long an entry of this category may stay on the list.
	MaxExpiry *time.Duration `yaml:"max_expiry"`
	// LearnFromConfirmations adds the faces of a confirmed alert to the person's template (audited;
	// they expire with the entry). Off by default.
	LearnFromConfirmations *bool `yaml:"learn_from_confirmations"`
	// LocalTemplates lets a person's faces that their photos named on a camera name the person's other
	// tracks on that camera within half an hour (docs/ACCURACY.md, "Local templates"). On by default.
	LocalTemplates *bool `yaml:"local_templates"`
}

// Alerts tunes the alert engine.
type Alerts struct {
	Cooldown         time.Duration `yaml:"cooldown"`           // repeated triggers fold into the open alert
	TwoPersonConfirm bool          `yaml:"two_person_confirm"` // biometric alerts need two different confirmers
	AckTimeout       time.Duration `yaml:"ack_timeout"`        // before the next unit is tried
	PreRoll          time.Duration `yaml:"pre_roll"`
	PostRoll         time.Duration `yaml:"post_roll"`
	OfflineAfter     time.Duration `yaml:"offline_after"` // a camera without frames this long raises an alert
	// Rules decide which triggers alert, per kind, category, camera, zone and schedule; the alert rules
	// package reads them (see its Rule type). Every trigger alerts when there are none.
	Rules yaml.Node `yaml:"rules"`
}

// Location is the deployment's time zone.
func (c *Config) Location() *time.Location {
	if c.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil { // validated at load time
		return time.UTC
	}
	return loc
}

// Retention says how long each kind of data is kept.
type Retention struct {
	Unlisted time.Duration `yaml:"unlisted"` // sightings and snapshots of people on no list
	Alerts   time.Duration `yaml:"alerts"`   // alert evidence and clips
	Audit    time.Duration `yaml:"audit"`    // 0 keeps the audit log forever
	Interval time.Duration `yaml:"interval"` // how often the retention job runs
}

// Audit configures the audit log's keys and anchors (docs/SECURITY.md).
type Audit struct {
	// Key seals new entries and anchors with HMAC-SHA256: at least 32 bytes, given as env:NAME or
	// file:PATH and kept away from the database. Without it entries are sealed with plain SHA-256 and only
	// the anchors protect them.
	Key Secret `yaml:"key"`
	// PreviousKeys are the keys used before Key, oldest first, kept to verify the entries they sealed.
	PreviousKeys []Secret `yaml:"previous_keys"`
	// AnchorEvery is how often the chain's head is written to the object store (and once at shutdown).
	AnchorEvery time.Duration `yaml:"anchor_every"`
}

// Evidence configures case evidence exports.
type Evidence struct {
	// SigningKey is the file of the Ed25519 key that signs exported bundles (PKCS#8 PEM, readable by
	// the server's user only; "file:PATH" is read as PATH). The server creates it on first start when
	// it does not exist, and never replaces it: bundles signed before would lose their signer. Keep it
	// (and a backup) off the data directory's disk where that is shared. Default:
	// <data_dir>/evidence-signing.pem.
	SigningKey string `yaml:"signing_key"`
}

// MinAuditKeyLen is the shortest audit key accepted, in bytes (audit.MinKeyLen).
const MinAuditKeyLen = 32

// Storage selects the object store for clips and snapshots.
type Storage struct {
	Kind  string `yaml:"kind"` // local (default) or minio
	MinIO MinIO  `yaml:"minio"`
	// SpoolMaxBytes bounds the local spool that holds objects while MinIO is unreachable.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
}

// MinIO is an S3-compatible object store.
type MinIO struct {
	Endpoint  string `yaml:"endpoint"` // host:port
	Bucket    string `yaml:"bucket"`
	AccessKey string `yaml:"access_key"`
	SecretKey Secret `yaml:"secret_key"`
	Secure    bool   `yaml:"secure"`
}

// MaxFileSize bounds the configuration file: a config is kilobytes, not gigabytes.
const MaxFileSize = 4 << 20

// Load reads, resolves secrets in and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	for i := range c.Cameras {
		if r := c.Cameras[i].Recording; r != nil && !filepath.IsAbs(r.File) {
			r.File = filepath.Join(filepath.Dir(path), r.File)
		}
	}
	return c, nil
}

// Parse decodes YAML from r, fills defaults, resolves secret references through getenv and validates.
// Unknown keys are errors: a misspelt key must not silently fall back to a default.
func Parse(r io.Reader, getenv func(string) string) (*Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	c.applyDefaults()
	if err := c.resolveSecrets(getenv); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Default returns the configuration used when none is given: everything local, no cameras.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	setDefault(&c.Listen, "127.0.0.1:8080")
	setDefault(&c.DataDir, "data")
	setDefault(&c.Storage.Kind, "local")
	if c.Storage.SpoolMaxBytes == 0 {
		c.Storage.SpoolMaxBytes = 2 << 30
	}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		setDefault(&cam.Transport, "tcp")
		if cam.DetectFPS == 0 {
			cam.DetectFPS = 5
		}
	}
	a := &c.Alerts
	setDuration(&a.Cooldown, 10*time.Minute)
	setDuration(&a.AckTimeout, 60*time.Second)
	setDuration(&a.PreRoll, 5*time.Second)
	setDuration(&a.PostRoll, 10*time.Second)
	setDuration(&a.OfflineAfter, 30*time.Second)
	r := &c.Retention
	setDuration(&r.Unlisted, 72*time.Hour)
	setDuration(&r.Alerts, 90*24*time.Hour)
	setDuration(&r.Interval, time.Hour)
	setDuration(&c.Audit.AnchorEvery, time.Minute)
	c.Evidence.SigningKey = strings.TrimPrefix(c.Evidence.SigningKey, "file:")
	setDefault(&c.Evidence.SigningKey, filepath.Join(c.DataDir, "evidence-signing.pem"))
	n := &c.NATS
	if n.Replicas == 0 {
		n.Replicas = 1
	}
	if n.StreamMaxBytes == 0 {
		n.StreamMaxBytes = 8 << 30
	}
	setDuration(&n.SessionTTL, 15*time.Second)
	if n.Outbox.MaxBytes == 0 {
		n.Outbox.MaxBytes = 1 << 30
	}
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func setDuration(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

func (c *Config) resolveSecrets(getenv func(string) string) error {
	type ref struct {
		field string
		s     *Secret
	}
	refs := []ref{{"storage.minio.secret_key", &c.Storage.MinIO.SecretKey}, {"audit.key", &c.Audit.Key}}
	for i := range c.Audit.PreviousKeys {
		refs = append(refs, ref{fmt.Sprintf("audit.previous_keys[%d]", i), &c.Audit.PreviousKeys[i]})
	}
	for i := range c.Cameras {
		refs = append(refs, ref{fmt.Sprintf("cameras[%d].password", i), &c.Cameras[i].Password})
	}
	for i := range c.Areas {
		refs = append(refs, ref{fmt.Sprintf("areas[%d].supervisor.secret", i), &c.Areas[i].Supervisor.Secret})
	}
	for i := range c.Patrols {
		refs = append(refs, ref{fmt.Sprintf("patrols[%d].receiver.secret", i), &c.Patrols[i].Receiver.Secret})
	}
	for i := range c.Guardians {
		refs = append(refs, ref{fmt.Sprintf("guardians[%d].receiver.secret", i), &c.Guardians[i].Receiver.Secret})
	}
	for _, r := range refs {
		if err := resolveSecret(r.s, getenv); err != nil {
			return fmt.Errorf("%s: %w", r.field, err)
		}
	}
	return nil
}
