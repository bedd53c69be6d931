package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"snowlight/geo"
	"snowlight/watchlist"
)

// idPattern limits identifiers to characters that are safe in URLs, object keys, file names and logs.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// bucketPattern is S3's bucket naming rule, simplified: lower case, digits, dots and hyphens.
var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// fieldErrors collects every problem, so a user fixes the file in one pass.
type fieldErrors []error

func (e *fieldErrors) add(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (c *Config) validate() error {
	var errs fieldErrors
	for _, l := range []struct{ field, addr string }{{"listen", c.Listen}, {"ops_listen", c.OpsListen}} {
		if l.addr == "" && l.field == "ops_listen" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			errs.add(l.field, "%q is not host:port", l.addr)
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil || len(c.TimeZone) > 64 {
			errs.add("time_zone", "%q is not an IANA time zone such as Europe/Vienna", c.TimeZone)
		}
	}
	switch c.Engine {
	case "", "auto", "onnxruntime", "opencv":
	default:
		errs.add("engine", "%q is not onnxruntime, opencv or auto", c.Engine)
	}
	if r := c.Alerts.Rules; r.Kind != 0 && r.Kind != yaml.SequenceNode {
		errs.add("alerts.rules", "must be a list of rules")
	}
	c.validateStorage(&errs)
	areas := c.validateAreas(&errs)
	cams := map[string]bool{}
	for i := range c.Cameras {
		c.validateCamera(&errs, i, cams, areas)
	}
	for i, cam := range c.Cameras {
		for j, n := range cam.Neighbours {
			f := fmt.Sprintf("cameras[%d].neighbours[%d]", i, j)
			switch {
			case !cams[n.Camera]:
				errs.add(f+".camera", "unknown camera %q", n.Camera)
			case n.Camera == cam.ID:
				errs.add(f+".camera", "a camera cannot be its own neighbour")
			}
			if n.MinTransit < 0 || n.MaxTransit <= 0 || n.MinTransit > n.MaxTransit || n.MaxTransit > 24*time.Hour {
				errs.add(f, "transit window min %v max %v: need 0 <= min <= max <= 24h and max > 0", n.MinTransit, n.MaxTransit)
			}
		}
	}
	patrols := map[string]bool{}
	for i, p := range c.Patrols {
		f := fmt.Sprintf("patrols[%d]", i)
		checkID(&errs, f+".id", p.ID, patrols)
		if p.Area != "" && !areas[p.Area] {
			errs.add(f+".area", "unknown area %q", p.Area)
		}
		checkLatLon(&errs, f+".position", p.Position)
		checkReceiver(&errs, f+".receiver", p.Receiver)
	}
	guardians := map[string]bool{}
	for i, g := range c.Guardians {
		f := fmt.Sprintf("guardians[%d]", i)
		checkID(&errs, f+".id", g.ID, guardians)
		if len(g.Persons) == 0 {
			errs.add(f+".persons", "a guardian looks after at least one watch-list person")
		}
		if g.Receiver.Webhook == "" {
			errs.add(f+".receiver.webhook", "required: it is how the guardian is told")
		}
		checkReceiver(&errs, f+".receiver", g.Receiver)
	}
	c.validateWatchlist(&errs)
	c.validateRoads(&errs)
	c.validateNATS(&errs)
	a := c.Alerts
	for _, d := range []struct {
		field string
		v     time.Duration
		max   time.Duration
	}{
		{"alerts.cooldown", a.Cooldown, 24 * time.Hour},
		{"alerts.ack_timeout", a.AckTimeout, time.Hour},
		{"alerts.pre_roll", a.PreRoll, 60 * time.Second},
		{"alerts.post_roll", a.PostRoll, 120 * time.Second},
		{"alerts.offline_after", a.OfflineAfter, time.Hour},
		{"retention.unlisted", c.Retention.Unlisted, 10 * 365 * 24 * time.Hour},
		{"retention.alerts", c.Retention.Alerts, 10 * 365 * 24 * time.Hour},
		{"retention.interval", c.Retention.Interval, 7 * 24 * time.Hour},
		{"audit.anchor_every", c.Audit.AnchorEvery, 24 * time.Hour},
	} {
		if d.v <= 0 || d.v > d.max {
			errs.add(d.field, "%v is outside (0, %v]", d.v, d.max)
		}
	}
	if c.Retention.Audit < 0 {
		errs.add("retention.audit", "negative")
	}
	c.validateAudit(&errs)
	return errors.Join(errs...)
}

func (c *Config) validateStorage(errs *fieldErrors) {
	switch c.Storage.Kind {
	case "local":
	case "minio":
		m := c.Storage.MinIO
		if _, _, err := net.SplitHostPort(m.Endpoint); err != nil {
			errs.add("storage.minio.endpoint", "%q is not host:port", m.Endpoint)
		}
		if !bucketPattern.MatchString(m.Bucket) {
			errs.add("storage.minio.bucket", "%q is not a valid bucket name", m.Bucket)
		}
		if m.AccessKey == "" || m.SecretKey.IsZero() {
			errs.add("storage.minio", "access_key and secret_key are required")
		}
	default:
		errs.add("storage.kind", "%q is not local or minio", c.Storage.Kind)
	}
	if c.Storage.SpoolMaxBytes < 0 {
		errs.add("storage.spool_max_bytes", "negative")
	}
}

func (c *Config) validateAreas(errs *fieldErrors) map[string]bool {
	areas := map[string]bool{}
	for i, a := range c.Areas {
		f := fmt.Sprintf("areas[%d]", i)
		checkID(errs, f+".id", a.ID, areas)
		switch a.Level {
		case "street", "district", "city":
		default:
			errs.add(f+".level", "%q is not street, district or city", a.Level)
		}
		if a.Supervisor.Webhook != "" {
			checkReceiver(errs, f+".supervisor", a.Supervisor)
		}
	}
	for i, a := range c.Areas {
		if a.Parent != "" && !areas[a.Parent] {
			errs.add(fmt.Sprintf("areas[%d].parent", i), "unknown area %q", a.Parent)
		}
	}
	// Parents must lead to a root: escalation walks up this chain.
	parent := map[string]string{}
	for _, a := range c.Areas {
		parent[a.ID] = a.Parent
	}
	for i, a := range c.Areas {
		seen := map[string]bool{}
		for id := a.ID; id != ""; id = parent[id] {
			if seen[id] {
				errs.add(fmt.Sprintf("areas[%d].parent", i), "area %q is its own ancestor", a.ID)
				break
			}
			seen[id] = true
		}
	}
	return areas
}

// validateNATS checks the distributed mode's section; an empty one is fine (serve needs none).
func (c *Config) validateNATS(errs *fieldErrors) {
	n := c.NATS
	for i, u := range n.URLs {
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "nats" && p.Scheme != "tls" || p.Host == "" || p.User != nil {
			errs.add(fmt.Sprintf("nats.urls[%d]", i), "%q is not nats://host:port or tls://host:port (credentials go in seed_file)", u)
		}
	}
	if n.Edge != "" && !idPattern.MatchString(n.Edge) {
		errs.add("nats.edge", "%q: use 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit", n.Edge)
	}
	if n.Capacity < 0 || n.Capacity > 10000 {
		errs.add("nats.capacity", "%d is outside [0, 10000]", n.Capacity)
	}
	if n.Replicas != 1 && n.Replicas != 3 && n.Replicas != 5 {
		errs.add("nats.replicas", "%d: 1 for one server, 3 or 5 for a cluster", n.Replicas)
	}
	if n.StreamMaxBytes < 64<<20 {
		errs.add("nats.stream_max_bytes", "%d is below 64 MiB", n.StreamMaxBytes)
	}
	if n.SessionTTL < time.Second || n.SessionTTL > 10*time.Minute {
		errs.add("nats.session_ttl", "%v is outside [1s, 10m]", n.SessionTTL)
	}
	if n.Outbox.MaxBytes < 1<<20 {
		errs.add("nats.outbox.max_bytes", "%d is below 1 MiB", n.Outbox.MaxBytes)
	}
}

func (c *Config) validateCamera(errs *fieldErrors, i int, ids, areas map[string]bool) {
	cam := &c.Cameras[i]
	f := fmt.Sprintf("cameras[%d]", i)
	checkID(errs, f+".id", cam.ID, ids)
	seen := map[string]bool{}
	for j, e := range cam.Edges {
		switch {
		case !idPattern.MatchString(e):
			errs.add(fmt.Sprintf("%s.edges[%d]", f, j), "%q is not an edge id", e)
		case seen[e]:
			errs.add(fmt.Sprintf("%s.edges[%d]", f, j), "%q listed twice", e)
		}
		seen[e] = true
	}
	if r := cam.Recording; r != nil {
		if r.File == "" {
			errs.add(f+".recording.file", "required")
		}
		t, err := time.Parse(time.RFC3339Nano, r.StartText)
		if err != nil {
			errs.add(f+".recording.start", "%q is not the wall time of the video's start in RFC 3339, e.g. 2024-05-01T08:00:00Z", r.StartText)
		}
		r.Start = t
	}
	u, err := url.Parse(cam.URL)
	switch {
	case cam.URL == "" && cam.Recording != nil:
		// A recorded camera replayed from its file.
	case err != nil:
		errs.add(f+".url", "not a URL") // the parse error would echo credentials
	case u.Scheme != "rtsp" && u.Scheme != "rtsps":
		// Only RTSP: the server must never be talked into fetching http://, file:// or other URLs.
		errs.add(f+".url", "scheme %q is not rtsp or rtsps", u.Scheme)
	case u.Host == "":
		errs.add(f+".url", "no host")
	default:
		if u.User != nil {
			if cam.Username != "" || !cam.Password.IsZero() {
				errs.add(f+".url", "credentials both in the URL and in username/password")
			}
			cam.Username = u.User.Username()
			p, _ := u.User.Password()
			cam.Password = NewSecret(p)
			u.User = nil
			cam.URL = u.String()
		}
	}
	switch cam.Transport {
	case "tcp", "udp":
	default:
		errs.add(f+".transport", "%q is not tcp or udp", cam.Transport)
	}
	checkLatLon(errs, f+".position", cam.Position)
	if cam.Area != "" && !areas[cam.Area] {
		errs.add(f+".area", "unknown area %q", cam.Area)
	}
	if !(cam.DetectFPS > 0 && cam.DetectFPS <= 60) {
		errs.add(f+".detect_fps", "%v is outside (0, 60]", cam.DetectFPS)
	}
	zones := map[string]bool{}
	for j, z := range cam.Zones {
		zf := fmt.Sprintf("%s.zones[%d]", f, j)
		checkID(errs, zf+".id", z.ID, zones)
		if len(z.Polygon) < 3 || len(z.Polygon) > 256 {
			errs.add(zf+".polygon", "needs 3 to 256 points, has %d", len(z.Polygon))
		}
		for k, p := range z.Polygon {
			if !finite(p[0]) || !finite(p[1]) || p[0] < 0 || p[1] < 0 || p[0] > 16384 || p[1] > 16384 {
				errs.add(fmt.Sprintf("%s.polygon[%d]", zf, k), "%v is not a pixel position", p)
			}
		}
		if z.Dwell < 0 || z.Dwell > 24*time.Hour {
			errs.add(zf+".dwell", "%v is outside [0, 24h]", z.Dwell)
		}
	}
}

func checkID(errs *fieldErrors, field, id string, seen map[string]bool) {
	if !idPattern.MatchString(id) {
		errs.add(field, "%q must be 1-64 lower-case letters, digits, '-' or '_'", id)
		return
	}
	if seen[id] {
		errs.add(field, "duplicate id %q", id)
	}
	seen[id] = true
}

func checkLatLon(errs *fieldErrors, field string, p geo.LatLon) {
	if !finite(p.Lat) || !finite(p.Lon) || p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 {
		errs.add(field, "(%v, %v) is not a latitude/longitude", p.Lat, p.Lon)
	}
}

func checkReceiver(errs *fieldErrors, field string, r Receiver) {
	if r.Webhook == "" {
		return
	}
	u, err := url.Parse(r.Webhook)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs.add(field+".webhook", "must be an http(s) URL without credentials")
	}
	if len(r.Secret.Reveal()) < 32 {
		errs.add(field+".secret", "at least 32 characters required with a webhook: receivers verify the signature with it")
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// validateWatchlist checks each category override, naming the field; Watchlist.Policy then merges
// them with the defaults.
func (c *Config) validateWatchlist(errs *fieldErrors) {
	seen := map[watchlist.Category]string{}
	names := make([]string, 0, len(c.Watchlist.Categories))
	for name := range c.Watchlist.Categories {
		names = append(names, name)
	}
	sort.Strings(names) // one message order for one file
	for _, name := range names {
		o := c.Watchlist.Categories[name]
		f := "watchlist.categories." + name
		cat, err := watchlist.ParseCategory(name)
		if err != nil {
			errs.add(f, "%v", err)
		} else if other, dup := seen[cat]; dup {
			errs.add(f, "the same category as watchlist.categories.%s", other)
		} else {
			seen[cat] = name
		}
		if o.Threshold != nil && !(*o.Threshold > 0 && *o.Threshold <= 1) {
			errs.add(f+".threshold", "%v is not a cosine similarity in (0, 1]", *o.Threshold)
		}
		if o.Margin != nil && !(*o.Margin >= 0 && *o.Margin < 1) {
			errs.add(f+".margin", "%v is not in [0, 1)", *o.Margin)
		}
		if o.MaxExpiry != nil && *o.MaxExpiry <= 0 {
			errs.add(f+".max_expiry", "%v is not positive", *o.MaxExpiry)
		}
	}
}

func (c *Config) validateAudit(errs *fieldErrors) {
	a := c.Audit
	if !a.Key.IsZero() && len(a.Key.Reveal()) < MinAuditKeyLen {
		errs.add("audit.key", "%d bytes is too short: use at least %d random bytes (e.g. openssl rand -base64 32)", len(a.Key.Reveal()), MinAuditKeyLen)
	}
	if a.Key.IsZero() && len(a.PreviousKeys) > 0 {
		errs.add("audit.previous_keys", "set audit.key too: previous keys only verify, new entries need the current key")
	}
	seen := map[string]bool{a.Key.Reveal(): true}
	for i, k := range a.PreviousKeys {
		f := fmt.Sprintf("audit.previous_keys[%d]", i)
		switch {
		case len(k.Reveal()) < MinAuditKeyLen:
			errs.add(f, "shorter than %d bytes", MinAuditKeyLen)
		case seen[k.Reveal()]:
			errs.add(f, "the same key is listed twice")
		}
		seen[k.Reveal()] = true
	}
}
