// Package deploy turns a deployment's configuration (package config: the file as written, validated
// field by field) into the values each stage is built from: the cameras as the rules, the stitcher,
// the store and the ingest workers take them, the alert rules, the dispatch areas and patrol units
// with the road network, the webhook receivers, the alert engine's settings, and the retention and
// watch-list policies. serve, demo, replay and the tests all decode with it, so one file means the
// same thing to all of them. It handles no picture: a process without cameras decodes with it too.
package deploy

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/alerts/dispatch/roads"
	"snowlight/alerts/notify"
	"snowlight/alerts/rules"
	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/config"
	"snowlight/geo"
	"snowlight/media"
	"snowlight/retention"
	"snowlight/store"
	"snowlight/tracks/stitch"
	"snowlight/watchlist"
)

// Deployment is a configuration decoded.
type Deployment struct {
	// Location is the deployment's time zone: rule schedules that name none are read in it.
	Location *time.Location
	Cameras  []Camera
	// Rules decide which alert triggers alert (alerts.rules); without rules every trigger alerts.
	Rules []rules.Rule
	// Areas are the management grid; Units the patrol units at their configured positions.
	Areas dispatch.Areas
	Units []dispatch.Unit
	// Receivers are the webhooks of units, area supervisors and guardians, by the receiver names the
	// alert engine queues notifications for.
	Receivers notify.StaticReceivers
	// Alerts are the alert engine's configured settings (cooldown, two-person rule, acknowledgement
	// timeout, routing over the road network, guardians, links); the caller adds the callbacks.
	Alerts alerts.Options
	// PreRoll and PostRoll are an alert clip's video before and after the alert's moment.
	PreRoll, PostRoll time.Duration
	// OfflineAfter is how long a camera may be unreachable before it counts as offline.
	OfflineAfter time.Duration
	// Retention is how long each kind of data is kept, applied every RetentionEvery.
	Retention      retention.Policy
	RetentionEvery time.Duration
	// Watchlist is watchlist.DefaultPolicy with the configuration's overrides.
	Watchlist watchlist.Policy
	// NATS is the distributed mode's link (its URLs empty when not configured).
	NATS NATS

	learn bool // confident links may teach the topology
}

// NATS is what the processes of a distributed deployment need of the nats section.
type NATS struct {
	// Connect reaches the servers with this process's credentials; the caller names the connection
	// (and sets Edge for an edge).
	Connect bus.ConnectOptions
	// Edge and Capacity are this edge's id and how many cameras it holds.
	Edge     string
	Capacity int
	// Stream and Leases configure the events stream and the lease buckets the center provisions.
	Stream bus.StreamOptions
	Leases lease.Options
	// OutboxDir and OutboxBytes are the edge's on-disk queue.
	OutboxDir   string
	OutboxBytes int64
}

// Camera is a configured camera.
type Camera struct {
	ID, Name, Area string
	Position       geo.LatLon
	// DetectFPS is how many pictures a second go to the detectors.
	DetectFPS float64
	// Transport is the RTSP transport, tcp or udp.
	Transport  string
	Zones      []rules.Zone
	Neighbours []stitch.Neighbour
	// Edges may hold the camera in a distributed deployment (any when empty; one pins it).
	Edges []string
	// Recording is the camera's recorded video, which replay plays instead of the camera; nil when it
	// has none. Its FPS is the camera's DetectFPS.
	Recording *media.Recording

	conf *config.Camera // for the credentials: a pointer, which %v prints as an address
}

// URL is the RTSP URL with the camera's credentials, empty for a camera that has only a recording.
// Give it to the RTSP client only: never log it.
func (c Camera) URL() string {
	if c.conf == nil {
		return ""
	}
	return c.conf.URLWithCredentials()
}

// Receiver names in the alert engine's outbox: who a notification goes to.
func patrolReceiver(id string) string   { return "patrol:" + id }
func areaReceiver(id string) string     { return "area:" + id }
func guardianReceiver(id string) string { return "guardian:" + id }

// Decode decodes cfg. Errors name the configuration's field.
func Decode(cfg *config.Config) (*Deployment, error) {
	if cfg == nil {
		return nil, fmt.Errorf("no configuration")
	}
	d := &Deployment{
		Location:       cfg.Location(),
		Areas:          dispatch.Areas{},
		Receivers:      notify.StaticReceivers{},
		PreRoll:        cfg.Alerts.PreRoll,
		PostRoll:       cfg.Alerts.PostRoll,
		OfflineAfter:   cfg.Alerts.OfflineAfter,
		Retention:      retention.Policy{Unlisted: cfg.Retention.Unlisted, Alerts: cfg.Retention.Alerts},
		RetentionEvery: cfg.Retention.Interval,
		learn:          cfg.Topology.Learn,
	}
	receiver := func(name string, r config.Receiver) string {
		if r.Webhook == "" {
			return ""
		}
		d.Receivers[name] = notify.Endpoint{URL: r.Webhook, Secret: []byte(r.Secret.Reveal())}
		return name
	}
	for i := range cfg.Cameras {
		d.Cameras = append(d.Cameras, camera(&cfg.Cameras[i]))
	}
	for _, a := range cfg.Areas {
		d.Areas[a.ID] = dispatch.Area{ID: a.ID, Name: a.Name, Level: dispatch.Level(a.Level), Parent: a.Parent,
			Supervisor: a.Supervisor.Name, Receiver: receiver(areaReceiver(a.ID), a.Supervisor)}
	}
	for _, p := range cfg.Patrols {
		d.Units = append(d.Units, dispatch.Unit{ID: p.ID, Name: p.Name, Area: p.Area, Position: p.Position,
			Status: dispatch.Available, Receiver: receiver(patrolReceiver(p.ID), p.Receiver)})
	}
	guardians := alerts.GuardianMap{}
	for _, g := range cfg.Guardians {
		name := receiver(guardianReceiver(g.ID), g.Receiver)
		for _, p := range g.Persons {
			guardians[p] = append(guardians[p], name)
		}
	}
	plan, err := planOptions(cfg.Roads)
	if err != nil {
		return nil, err
	}
	d.Alerts = alerts.Options{Cooldown: cfg.Alerts.Cooldown, TwoPersonRule: cfg.Alerts.TwoPersonConfirm,
		AckTimeout: cfg.Alerts.AckTimeout, Plan: plan, Guardians: guardians, BaseURL: "http://" + cfg.Listen}
	if cfg.Alerts.Rules.Kind != 0 {
		if err := cfg.Alerts.Rules.Decode(&d.Rules); err != nil {
			return nil, fmt.Errorf("alerts.rules: %w", err)
		}
	}
	if d.Watchlist, err = watchlistPolicy(cfg.Watchlist); err != nil {
		return nil, err
	}
	n := cfg.NATS
	outbox := n.Outbox.Dir
	if outbox == "" {
		outbox = filepath.Join(cfg.DataDir, "outbox")
	}
	d.NATS = NATS{Connect: bus.ConnectOptions{URLs: slices.Clone(n.URLs), SeedFile: n.SeedFile}, Edge: n.Edge, Capacity: n.Capacity,
		Stream: bus.StreamOptions{Replicas: n.Replicas, MaxBytes: n.StreamMaxBytes},
		Leases: lease.Options{Replicas: n.Replicas, SessionTTL: n.SessionTTL}, OutboxDir: outbox, OutboxBytes: n.Outbox.MaxBytes}
	if _, err := d.Topology(); err != nil {
		return nil, err
	}
	return d, nil
}

func camera(c *config.Camera) Camera {
	out := Camera{ID: c.ID, Name: c.Name, Area: c.Area, Position: c.Position, DetectFPS: c.DetectFPS, Transport: c.Transport,
		Edges: slices.Clone(c.Edges)}
	for _, z := range c.Zones {
		out.Zones = append(out.Zones, rules.Zone{ID: z.ID, Polygon: slices.Clone(z.Polygon), Dwell: z.Dwell})
	}
	for _, n := range c.Neighbours {
		out.Neighbours = append(out.Neighbours, stitch.Neighbour{Camera: n.Camera, Min: n.MinTransit, Max: n.MaxTransit})
	}
	if r := c.Recording; r != nil {
		out.Recording = &media.Recording{Camera: c.ID, File: r.File, Start: r.Start, FPS: c.DetectFPS}
	}
	if c.URL != "" {
		out.conf = c
	}
	return out
}

// planOptions ranks patrols by road when the configuration has roads, and as the crow flies when not.
func planOptions(rs []config.Road) (dispatch.PlanOptions, error) {
	if len(rs) == 0 {
		return dispatch.PlanOptions{}, nil
	}
	in := make([]roads.Road, len(rs))
	for i, r := range rs {
		in[i] = roads.Road{ID: r.ID, Oneway: r.Oneway, Points: slices.Clone(r.Points)}
	}
	g, err := roads.New(in, roads.Options{})
	if err != nil {
		return dispatch.PlanOptions{}, fmt.Errorf("roads: %w", err)
	}
	return dispatch.PlanOptions{Router: g}, nil
}

// watchlistPolicy is watchlist.DefaultPolicy() with the configuration's overrides.
func watchlistPolicy(w config.Watchlist) (watchlist.Policy, error) {
	p := watchlist.DefaultPolicy()
	seen := map[watchlist.Category]string{}
	for name, o := range w.Categories {
		f := "watchlist.categories." + name
		cat, err := watchlist.ParseCategory(name)
		if err != nil {
			return watchlist.Policy{}, fmt.Errorf("%s: %w", f, err)
		}
		if other, dup := seen[cat]; dup {
			return watchlist.Policy{}, fmt.Errorf("%s: the same category as watchlist.categories.%s", f, other)
		}
		seen[cat] = name
		if o.Threshold != nil {
			p.Threshold[cat] = float32(*o.Threshold)
		}
		if o.Margin != nil {
			p.Margin[cat] = float32(*o.Margin)
		}
		if o.MaxExpiry != nil {
			p.MaxExpiry[cat] = *o.MaxExpiry
		}
		if o.LearnFromConfirmations != nil {
			p.LearnFromConfirmations[cat] = *o.LearnFromConfirmations
		}
		if o.LocalTemplates != nil {
			p.LocalTemplates[cat] = *o.LocalTemplates
		}
	}
	if err := p.Validate(); err != nil {
		return watchlist.Policy{}, fmt.Errorf("watchlist: %w", err)
	}
	return p, nil
}

// Camera finds a camera.
func (d *Deployment) Camera(id string) (Camera, bool) {
	i := slices.IndexFunc(d.Cameras, func(c Camera) bool { return c.ID == id })
	if i < 0 {
		return Camera{}, false
	}
	return d.Cameras[i], true
}

// RuleCameras are the cameras as the alert rules take them.
func (d *Deployment) RuleCameras() []rules.Camera {
	out := make([]rules.Camera, len(d.Cameras))
	for i, c := range d.Cameras {
		out[i] = rules.Camera{ID: c.ID, Name: c.Name, Area: c.Area, Position: c.Position, Zones: c.Zones}
	}
	return out
}

// Topology is a new camera network for a stitcher: positions, neighbours with their transit windows,
// and whether confident links may teach it (a topology learns, so each stitcher gets its own).
func (d *Deployment) Topology() (*stitch.Topology, error) {
	cams := make([]stitch.Camera, len(d.Cameras))
	for i, c := range d.Cameras {
		cams[i] = stitch.Camera{ID: c.ID, Position: c.Position, Neighbours: slices.Clone(c.Neighbours)}
	}
	learn := stitch.DefaultLearning()
	learn.Enabled = d.learn
	t, err := stitch.NewTopology(cams, learn)
	if err != nil {
		return nil, fmt.Errorf("camera topology: %w", err)
	}
	return t, nil
}

// LeaseCameras are the cameras the center gives out to edges: those it can connect to (a camera with
// only a recording is for replay), with the edges each may go to.
func (d *Deployment) LeaseCameras() []lease.Camera {
	var out []lease.Camera
	for _, c := range d.Cameras {
		if c.conf != nil {
			out = append(out, lease.Camera{ID: c.ID, Edges: slices.Clone(c.Edges)})
		}
	}
	return out
}

// CameraPositions are the cameras' positions as the store records them for trajectory queries.
func (d *Deployment) CameraPositions() []store.CameraPosition {
	out := make([]store.CameraPosition, len(d.Cameras))
	for i, c := range d.Cameras {
		out[i] = store.CameraPosition{ID: c.ID, Position: c.Position}
	}
	return out
}

// Recordings lists the cameras' recordings, each at its camera's detection rate.
func (d *Deployment) Recordings() ([]media.Recording, error) {
	var out []media.Recording
	for _, c := range d.Cameras {
		if c.Recording != nil {
			out = append(out, *c.Recording)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no camera in the configuration has a recording (cameras[].recording: {file, start})")
	}
	return out, nil
}
