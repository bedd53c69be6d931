// Package rules turns what the pipeline sees into alert triggers: a watch-list person identified
// (watchlist_hit), an at-risk person seen outside their safe zone (safe_zone_exit), a track dwelling
// in an image zone (loitering), a camera unreachable (camera_offline) or tampered with
// (camera_tampered). Which triggers alert is configurable per kind, watch-list category, camera,
// image zone and schedule (see Rule). The triggers go to the alert engine, which folds repeats
// about the same person or camera into the open alert.
package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"snowlight/alerts"
	"snowlight/camevent"
	"snowlight/geo"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// Persons looks up watch-list entries; the store implements it. The rules read an entry's category,
// expiry and safe zone: a store may leave out its embeddings and photos.
type Persons interface {
	// WatchlistPerson returns the entry with the id; ok is false when there is none.
	WatchlistPerson(ctx context.Context, id string) (p watchlist.Person, ok bool, err error)
}

// Alerter receives triggers; *alerts.Engine implements it.
type Alerter interface {
	Raise(ctx context.Context, t alerts.Trigger) (alerts.Alert, bool, error)
	CameraBack(ctx context.Context, camera string, at time.Time) (int, error)
	Alerts(ctx context.Context, q alerts.Query) ([]alerts.Alert, error)
	Resolve(ctx context.Context, id, user, note string) (alerts.Alert, error)
}

// Options configure an Engine. Zero values take the defaults in brackets.
type Options struct {
	Alerts  Alerter // required
	Persons Persons // required
	// Cameras give positions (for safe zones), names and areas (for the alert's place) and image
	// zones with their dwell times (loitering).
	Cameras []Camera
	// Rules decide which triggers alert; see Rule. Without rules every trigger alerts.
	Rules []Rule
	// Location is the time zone of schedules that name none [UTC].
	Location *time.Location
	// HitWithSafeZone also raises watch-list hits for persons who have a safe zone. By default
	// only leaving the zone alerts for them: an at-risk person seen at home is no news.
	HitWithSafeZone bool
	// LoiterGrace is how long a track may step out of a zone without ending its stay [5 s].
	LoiterGrace time.Duration
	// Refresh is how often, in sighting time, a live sighting that keeps triggering (a better face
	// crop was stored) refreshes its alert's evidence [10 s]. A sighting triggers once when it first
	// qualifies and once more when it ends.
	Refresh time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Camera is a camera as the rules see it.
type Camera struct {
	ID   string
	Name string // for people: the alert's place
	Area string // the management area the alert is dispatched in
	// Position is where the camera is: a person it sees is there (safe zones, dispatch).
	Position geo.LatLon
	Zones    []Zone
}

// Zone is an area of a camera's picture.
type Zone struct {
	ID string
	// Polygon is the zone in pixels of the camera's picture; a person is in it when the middle of
	// their box's bottom edge (where they stand) is.
	Polygon [][2]float64
	// Dwell is how long a person may stay in the zone before loitering alerts; no loitering rule when 0.
	Dwell time.Duration
}

// camera is a camera of the engine.
type camera struct {
	Camera
}

func (c *camera) zone(id string) *Zone {
	for i := range c.Zones {
		if c.Zones[i].ID == id {
			return &c.Zones[i]
		}
	}
	return nil
}

// Engine applies the rules. Its methods are safe for concurrent use. Each call may write to the
// store (through the Alerter), so call it from the pipeline's center or an event loop, not from a
// camera's ingest callback.
type Engine struct {
	o      Options
	cams   map[string]*camera
	policy policy
	log    *slog.Logger

	mu       sync.Mutex
	fired    map[string]*sightingMemory // by sighting id
	pruned   time.Time
	problems map[string]camevent.Event // by camera: the last trouble before it went offline
}

// sightingMemory is what a live sighting already triggered, so the updates of one pass through
// a camera do not flood the alert with repeats.
type sightingMemory struct {
	touched time.Time // clock time of the last update
	fired   map[string]firing
}

type firing struct {
	signature string
	at        time.Time // sighting time
}

// forget is how long a sighting that never ended (its edge went away) is remembered.
const forget = time.Hour

// New checks the options and returns an engine.
func New(o Options) (*Engine, error) {
	if o.Alerts == nil || o.Persons == nil {
		return nil, errors.New("rules: Alerts and Persons are required")
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.LoiterGrace == 0 {
		o.LoiterGrace = 5 * time.Second
	}
	if o.Refresh == 0 {
		o.Refresh = 10 * time.Second
	}
	if o.LoiterGrace < 0 || o.Refresh < 0 {
		return nil, errors.New("rules: negative LoiterGrace or Refresh")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{o: o, cams: map[string]*camera{}, log: log.With("component", "alert-rules"),
		fired: map[string]*sightingMemory{}, problems: map[string]camevent.Event{}}
	for _, c := range o.Cameras {
		if _, dup := e.cams[c.ID]; dup {
			return nil, fmt.Errorf("rules: camera %q listed twice", c.ID)
		}
		e.cams[c.ID] = &camera{c}
	}
	e.policy = make(policy, len(o.Rules))
	for i, r := range o.Rules {
		r.Categories = slices.Clone(r.Categories)
		for j, c := range r.Categories {
			// Rules written in code may use another spelling than decoding gives; unknown names are
			// left for validateRules to report.
			if v, err := watchlist.ParseCategory(string(c)); err == nil {
				r.Categories[j] = v
			}
		}
		if r.Schedule.Location == nil {
			r.Schedule.Location = o.Location
		}
		e.policy[i] = r
	}
	if err := validateRules(e.policy, e.cams); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return e, nil
}

func (e *Engine) place(camID, zone string) alerts.Place {
	p := alerts.Place{Camera: camID, Zone: zone}
	if c := e.cams[camID]; c != nil {
		p.CameraName, p.Position, p.Area = c.Name, c.Position, c.Area
	}
	return p
}

// Sighting applies the rules to a sighting, live (Final false) or final, and raises what it
// triggers. It returns the alerts raised or folded into. A live sighting triggers each rule once
// when it first qualifies, again when its evidence improved (at most every Options.Refresh), and
// once more when it ends.
func (e *Engine) Sighting(ctx context.Context, s tracks.Sighting) ([]alerts.Alert, error) {
	if s.ID == "" || s.Camera == "" {
		return nil, fmt.Errorf("rules: sighting %q without id or camera", s.ID)
	}
	trigs, err := e.Triggers(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []alerts.Alert
	var errs []error
	for _, t := range trigs {
		key, sig := triggerKey(t), signature(t, s.Final)
		if !e.due(s, key, sig, t.At) {
			continue
		}
		t.Key = onceKey(s.ID, key, sig)
		a, created, err := e.o.Alerts.Raise(ctx, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("raise %s for sighting %s: %w", t.Kind, s.ID, err))
			continue
		}
		e.remember(s, key, sig, t.At)
		e.log.Info("rule triggered", "kind", t.Kind, "alert", a.ID, "new", created, "camera", s.Camera, "sighting", s.ID, "final", s.Final)
		out = append(out, a)
	}
	e.mu.Lock()
	if s.Final {
		delete(e.fired, s.ID)
	}
	e.prune()
	e.mu.Unlock()
	return out, errors.Join(errs...)
}

func triggerKey(t alerts.Trigger) string { return string(t.Kind) + "/" + t.Place.Zone }

// onceKey is the alert engine's key of a sighting's trigger (alerts.Trigger.Key): the same sighting
// triggering the same rule with nothing new counts once, also after a restart, when this engine's
// memory of what fired is gone and the bus delivers the sighting again.
func onceKey(sighting, key, sig string) string {
	h := sha256.Sum256([]byte(sig))
	return "sighting/" + sighting + "/" + key + "/" + hex.EncodeToString(h[:8])
}

// eventKey is the trigger key of a camera event: the event happens once.
func eventKey(ev camevent.Event) string {
	return "camera/" + ev.Camera + "/" + string(ev.Kind) + "/" + strconv.FormatInt(ev.Time.UnixNano(), 10)
}

// signature changes when a trigger has something new to add to its alert.
func signature(t alerts.Trigger, final bool) string {
	return fmt.Sprint(t.Evidence.FaceCrops, "|", t.Evidence.Snapshot, "|", final)
}

func (e *Engine) due(s tracks.Sighting, key, sig string, at time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.fired[s.ID]
	if m == nil {
		return true
	}
	f, ok := m.fired[key]
	switch {
	case !ok:
		return true
	case f.signature == sig:
		return false
	case s.Final:
		return true
	}
	return at.Sub(f.at) >= e.o.Refresh
}

func (e *Engine) remember(s tracks.Sighting, key, sig string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.fired[s.ID]
	if m == nil {
		m = &sightingMemory{fired: map[string]firing{}}
		e.fired[s.ID] = m
	}
	m.touched = e.o.Now()
	m.fired[key] = firing{signature: sig, at: at}
}

// prune forgets sightings that stopped updating without ending; e.mu is held.
func (e *Engine) prune() {
	now := e.o.Now()
	if now.Sub(e.pruned) < time.Minute {
		return
	}
	e.pruned = now
	for id, m := range e.fired {
		if now.Sub(m.touched) > forget {
			delete(e.fired, id)
		}
	}
}

// Triggers returns what a sighting triggers under the rules, without raising anything or
// remembering it.
func (e *Engine) Triggers(ctx context.Context, s tracks.Sighting) ([]alerts.Trigger, error) {
	at := s.Exit
	if at.IsZero() {
		at = s.Enter
	}
	cam := e.cams[s.Camera]
	if cam == nil {
		// Person rules still apply (the alert then has no position); zones and safe zones need
		// the camera's configuration.
		e.log.Warn("sighting from a camera the rules do not know", "camera", s.Camera, "sighting", s.ID)
	}
	var out []alerts.Trigger
	if pid := s.PersonID(); pid != "" {
		p, ok, err := e.o.Persons.WatchlistPerson(ctx, pid)
		switch {
		case err != nil:
			return nil, fmt.Errorf("rules: look up person %s of sighting %s: %w", pid, s.ID, err)
		case !ok:
			e.log.Warn("sighting names a person who is not on the watch list", "person", pid, "sighting", s.ID)
		case p.Expired(e.o.Now()) || p.Expired(at):
			e.log.Info("watch-list entry expired: no alert", "person", pid, "expired", p.Expires, "sighting", s.ID)
		default:
			out = append(out, e.personTriggers(&p, s, cam, at)...)
		}
	}
	if cam != nil {
		out = append(out, e.loiterTriggers(s, cam)...)
	}
	return out, nil
}

// personTriggers are the watch-list hit and the safe-zone exit of a sighting of listed person p.
func (e *Engine) personTriggers(p *watchlist.Person, s tracks.Sighting, cam *camera, at time.Time) []alerts.Trigger {
	who := &alerts.Person{ID: p.ID, Name: p.Name, Category: p.Category}
	place := e.place(s.Camera, "")
	ev, match := evidence(s, p.ID)
	sc := scope{category: p.Category, camera: s.Camera, at: at}
	var out []alerts.Trigger
	if len(p.SafeZone) >= 3 && cam != nil {
		pos, zone := cam.Position, p.SafeZone
		if !geo.InZone(zone, pos) {
			sc.kind = alerts.SafeZoneExit
			if ok, _ := e.policy.allows(sc); ok {
				d, nearest := geo.ZoneDistance(zone, pos)
				out = append(out, alerts.Trigger{Kind: alerts.SafeZoneExit, At: at, Person: who, Place: place, Evidence: ev,
					Detail: fmt.Sprintf("%s (%s) seen at %s, %.0f m outside the safe zone (nearest point of the zone %.5f, %.5f)",
						p.Name, p.Category.Label(), placeName(place), d, nearest.Lat, nearest.Lon)})
			}
		}
		if !e.o.HitWithSafeZone {
			return out
		}
	}
	sc.kind = alerts.WatchlistHit
	if ok, _ := e.policy.allows(sc); ok {
		out = append(out, alerts.Trigger{Kind: alerts.WatchlistHit, At: at, Person: who, Place: place, Evidence: ev,
			Detail: fmt.Sprintf("%s (%s) identified at %s: %s", p.Name, p.Category.Label(), placeName(place), match)})
	}
	return out
}

// evidence builds what the human who confirms sees: the sighting, its face crop with the best
// similarity to the person, and its full-body snapshot; and a sentence about the face evidence.
func evidence(s tracks.Sighting, personID string) (alerts.Evidence, string) {
	ev := alerts.Evidence{Sightings: []string{s.ID}}
	var best, threshold float64
	above := 0
	track := ""
	for _, c := range s.Evidence.Candidates {
		if c.PersonID != personID {
			continue
		}
		above = c.Above
		if c.Threshold > 0 { // the template rule: what named the track
			track = fmt.Sprintf(", track template similarity %.2f (threshold %.2f)", c.Score, c.Threshold)
		}
		for _, f := range c.Frames {
			if f.Similarity > best {
				best, threshold = f.Similarity, f.Threshold
			}
		}
	}
	if l := s.Evidence.Local; l != nil && s.PersonID() == personID {
		// The photos did not name this track: say what did, or the photos' low similarities read as
		// a name given below the threshold.
		track = fmt.Sprintf(", named by the person's faces on this camera's sightings %s: track template similarity %.2f to them "+
			"(threshold %.2f)", strings.Join(l.From, ", "), l.Similarity, l.Threshold)
	}
	if s.Face != nil && s.Face.Ref != "" {
		ev.FaceCrops, ev.Scores = []string{s.Face.Ref}, []float32{float32(best)}
	}
	if s.Body != nil && s.Body.Ref != "" {
		ev.Snapshot = s.Body.Ref
	}
	return ev, fmt.Sprintf("best face similarity %.2f (threshold %.2f), %d of %d face frames at or above it%s",
		best, threshold, above, s.Evidence.FaceFrames, track)
}

func placeName(p alerts.Place) string {
	if p.CameraName != "" {
		return p.CameraName
	}
	return p.Camera
}

// loiterTriggers are the loitering triggers of a sighting: one per zone of its camera whose dwell
// time the track's longest stay exceeded.
func (e *Engine) loiterTriggers(s tracks.Sighting, cam *camera) []alerts.Trigger {
	var out []alerts.Trigger
	for _, z := range cam.Zones {
		if z.Dwell <= 0 {
			continue
		}
		st, ok := longestStay(Stays(s.Boxes, z.Polygon, e.o.LoiterGrace))
		if !ok || st.Duration() < z.Dwell {
			continue
		}
		if ok, _ := e.policy.allows(scope{kind: alerts.Loitering, camera: cam.ID, zone: z.ID, at: st.To}); !ok {
			continue
		}
		place := e.place(cam.ID, z.ID)
		ev := alerts.Evidence{Sightings: []string{s.ID}}
		if s.Body != nil && s.Body.Ref != "" {
			ev.Snapshot = s.Body.Ref
		}
		out = append(out, alerts.Trigger{Kind: alerts.Loitering, At: st.To, Place: place, Evidence: ev,
			Detail: fmt.Sprintf("a person (track %d) in zone %s at %s for %v since %s (dwell limit %v)",
				s.TrackID, z.ID, placeName(place), st.Duration().Round(time.Second), st.From.UTC().Format(time.TimeOnly), z.Dwell)})
	}
	return out
}

// CameraEvent acts on what happened to a camera. Offline raises camera_offline, online resolves the
// camera's offline alerts; the trouble before an outage (disconnects, stalls, rejected credentials) goes
// into the offline alert's detail. Tampered raises camera_tampered (a change of what the picture shows
// folds into the open alert), picture normal resolves the camera's open tamper alerts. Other kinds
// change nothing, so every event may be passed.
func (e *Engine) CameraEvent(ctx context.Context, ev camevent.Event) error {
	if ev.Camera == "" {
		return errors.New("rules: camera event without a camera")
	}
	switch ev.Kind {
	case camevent.Online:
		e.mu.Lock()
		delete(e.problems, ev.Camera)
		e.mu.Unlock()
		n, err := e.o.Alerts.CameraBack(ctx, ev.Camera, ev.Time)
		if err != nil {
			return fmt.Errorf("rules: camera %s online: %w", ev.Camera, err)
		}
		if n > 0 {
			e.log.Info("camera back online: offline alerts resolved", "camera", ev.Camera, "resolved", n)
		}
		return nil
	case camevent.Disconnected, camevent.Stalled, camevent.Unauthorized:
		e.mu.Lock()
		e.problems[ev.Camera] = ev
		e.mu.Unlock()
		return nil
	case camevent.Offline:
		return e.offline(ctx, ev)
	case camevent.Tampered:
		if ok, _ := e.policy.allows(scope{kind: alerts.CameraTampered, camera: ev.Camera, at: ev.Time}); !ok {
			return nil
		}
		if _, _, err := e.o.Alerts.Raise(ctx, alerts.Trigger{Kind: alerts.CameraTampered, At: ev.Time,
			Place: e.place(ev.Camera, ""), Detail: ev.Detail, Key: eventKey(ev)}); err != nil {
			return fmt.Errorf("rules: camera %s tampered: %w", ev.Camera, err)
		}
		return nil
	case camevent.PictureNormal:
		return e.pictureNormal(ctx, ev)
	}
	return nil
}

func (e *Engine) offline(ctx context.Context, ev camevent.Event) error {
	if ok, _ := e.policy.allows(scope{kind: alerts.CameraOffline, camera: ev.Camera, at: ev.Time}); !ok {
		return nil
	}
	e.mu.Lock()
	last, had := e.problems[ev.Camera]
	e.mu.Unlock()
	detail := "camera offline: no video"
	switch {
	case had && last.Kind == camevent.Unauthorized:
		detail = "camera offline: it rejects the configured credentials"
	case ev.Detail != "":
		detail = "camera offline: " + ev.Detail // ingest redacts credentials from its errors
	case had && last.Detail != "":
		detail = fmt.Sprintf("camera offline: %s (%s)", last.Kind, last.Detail)
	}
	if _, _, err := e.o.Alerts.Raise(ctx, alerts.Trigger{Kind: alerts.CameraOffline, At: ev.Time, Place: e.place(ev.Camera, ""),
		Detail: detail, Key: eventKey(ev)}); err != nil {
		return fmt.Errorf("rules: camera %s offline: %w", ev.Camera, err)
	}
	return nil
}

// pictureNormal resolves the camera's open tamper alerts.
func (e *Engine) pictureNormal(ctx context.Context, ev camevent.Event) error {
	open, err := e.o.Alerts.Alerts(ctx, alerts.Query{Kinds: []alerts.Kind{alerts.CameraTampered}, Camera: ev.Camera,
		Statuses: []alerts.Status{alerts.Open, alerts.Confirmed, alerts.Dispatched, alerts.OnScene}})
	if err != nil {
		return fmt.Errorf("rules: camera %s picture normal: %w", ev.Camera, err)
	}
	for _, a := range open {
		if _, err := e.o.Alerts.Resolve(ctx, a.ID, alerts.System, "picture normal again at "+ev.Time.UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("rules: camera %s picture normal: %w", ev.Camera, err)
		}
	}
	return nil
}
