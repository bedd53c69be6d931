package web

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"snowlight/geo"
	"snowlight/objstore"
	"snowlight/watchlist"
)

// The product API reads and changes the domain through the interfaces in this file, in terms of the
// view types below, which are the public JSON contract (documented in openapi.json). cmd/snowlight
// implements them over alerts, tracks, detect, store and objstore; tests use in-memory fakes
// (web/fake). The handlers decide who may see what (scopes, guardians, patrol units); the services
// only answer.

// Errors a service returns, wrapped with a message a person can act on (it is shown to them, so it
// must not hold secrets). Any other error is a 500 whose details go only to the log.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")    // the request does not fit the current state (e.g. dispatch before confirm)
	ErrInvalid     = errors.New("invalid")     // the request is malformed or breaks a rule
	ErrUnavailable = errors.New("unavailable") // a dependency is down; try again later
)

// Alerts is the alert engine as the console sees it.
type Alerts interface {
	// List returns the alerts that match f, the most urgent and newest first.
	List(ctx context.Context, f AlertFilter) ([]AlertView, error)
	// Get returns one alert with its evidence and history.
	Get(ctx context.Context, id string) (AlertDetail, error)
	// Act moves an alert through its lifecycle; ErrConflict when the action does not apply to its
	// current status (a biometric match must be confirmed before dispatch).
	Act(ctx context.Context, a AlertAction) (AlertView, error)
	// Path is the person's trajectory around an alert (the hours before it was last seen, in time
	// order); ErrNotFound for no such alert, ErrInvalid for an alert about nobody. It reveals where
	// someone went: only a route that asks for a case and a reason calls it.
	Path(ctx context.Context, id string) (TrajectoryView, error)
	// Subscribe streams alert events with IDs greater than after until ctx ends: when after >= 0,
	// first those replayed from the durable log, at most the newest maxReplay of them; then live
	// events (only those when after < 0). The channel is closed when the subscription ends, including
	// when the subscriber fell behind: the client then resumes with the last ID it saw.
	Subscribe(ctx context.Context, after int64, maxReplay int) (<-chan AlertEvent, error)
}

// AlertFilter narrows a list of alerts. Scope is the caller's visibility, which the service applies
// before Limit so that a page is full of alerts the caller may see; the handler checks again.
type AlertFilter struct {
	Status []string // any of these statuses; all when empty
	Limit  int      // at most this many (the handler bounds it)
	Scope  AlertScope
}

// AlertScope says which alerts a caller may see. All overrides the other fields; otherwise an alert
// is visible if its camera is in Cameras (or "*"), its area in Areas, its person in Persons, or it is
// assigned to the patrol unit Unit.
type AlertScope struct {
	All     bool
	Cameras []string
	Areas   []string
	Persons []string
	Unit    string
}

// Allows reports whether an alert is inside the scope: any of the scope's cameras, areas, guarded
// persons or the unit it was sent to lets the alert through.
func (s AlertScope) Allows(v AlertView) bool {
	switch {
	case s.All:
		return true
	case slices.Contains(s.Cameras, "*") || slices.Contains(s.Cameras, v.Camera):
		return true
	case v.Area != "" && slices.Contains(s.Areas, v.Area):
		return true
	case v.PersonID != "" && slices.Contains(s.Persons, v.PersonID):
		return true
	case s.Unit != "" && v.Patrol == s.Unit:
		return true
	}
	return false
}

// Alert statuses, in lifecycle order.
const (
	StatusOpen       = "open"
	StatusConfirmed  = "confirmed"
	StatusDispatched = "dispatched"
	StatusAcked      = "acknowledged"
	StatusOnScene    = "on_scene"
	StatusResolved   = "resolved"
	StatusDismissed  = "dismissed"
)

// Alert actions.
const (
	ActConfirm  = "confirm"
	ActDispatch = "dispatch"
	ActAck      = "ack"
	ActOnScene  = "on_scene"
	ActResolve  = "resolve"
	ActDismiss  = "dismiss"
)

// AlertView is an alert as the wall shows it.
type AlertView struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`     // watchlist_hit, safe_zone_exit, loitering, camera_offline, camera_tampered
	Severity string    `json:"severity"` // critical, high, normal, low
	Status   string    `json:"status"`
	Title    string    `json:"title"` // one line a person reads first, e.g. "At-risk person outside safe zone"
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`

	Camera     string      `json:"camera,omitempty"` // absent for guardians, who get the name only
	CameraName string      `json:"camera_name,omitempty"`
	Area       string      `json:"area,omitempty"`
	Position   *geo.LatLon `json:"position,omitempty"` // the camera's

	PersonID   string             `json:"person_id,omitempty"`
	PersonName string             `json:"person_name,omitempty"`
	Category   watchlist.Category `json:"category,omitempty"`

	// Score is the evidence score (the best face similarity for a biometric match) and Threshold the
	// list's threshold it passed; both 0 for rules without identity evidence.
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold,omitempty"`
	// Biometric alerts need human confirmation (ConfirmationsRequired distinct people) before dispatch.
	Biometric             bool `json:"biometric"`
	Confirmations         int  `json:"confirmations"`
	ConfirmationsRequired int  `json:"confirmations_required"`

	// Snapshot is the full frame at the alert and Face the person's face crop that matched (both
	// captured by the alert's first camera unless their Camera says otherwise).
	Snapshot Media  `json:"snapshot,omitzero"`
	Face     Media  `json:"face,omitzero"`
	Clip     Clip   `json:"clip,omitzero"`
	Patrol   string `json:"patrol,omitempty"` // the assigned unit
}

// AlertDetail is an alert with everything a human needs to check it.
type AlertDetail struct {
	AlertView
	// EnrolmentPhotos are the watch-list photos of the person (URLs of the authorised photo route).
	EnrolmentPhotos []Media    `json:"enrolment_photos"`
	Crops           []FaceCrop `json:"crops"`
	// Sightings are the sightings that triggered the alert. The person's path through the other
	// cameras is not part of the alert: it is a trajectory query (Alerts.Path) with a case.
	Sightings []SightingView `json:"sightings"`
	// PatrolUnit is the assigned unit with its position; Units every unit, for the map.
	PatrolUnit *PatrolView    `json:"patrol_unit,omitempty"`
	History    []AlertHistory `json:"history"`
	// Notices say what was sent to whom (guardian notified, webhook delivered, escalated to ...).
	Notices []string `json:"notices,omitempty"`
}

// FaceCrop is a face captured by a camera with its similarity to the enrolment. Camera is required:
// a crop from an unknown camera is shown only to those who see every camera.
type FaceCrop struct {
	Image      Media     `json:"image"`
	Similarity float64   `json:"similarity"`
	Time       time.Time `json:"time"`
	Camera     string    `json:"camera"`
}

// AlertHistory is one lifecycle step: who did what when.
type AlertHistory struct {
	Status string    `json:"status"`
	Action string    `json:"action,omitempty"`
	Actor  string    `json:"actor,omitempty"` // a user name, or "system"; absent for guardians
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
	// Camera is where the person was seen again, for the steps that say so (the note names it):
	// such a step is shown only to those who may see that camera.
	Camera string `json:"camera,omitempty"`
}

// AlertAction is a request to move an alert along.
type AlertAction struct {
	ID     string
	Action string // one of the Act* constants
	Actor  string // the user name, recorded in the history
	Role   string
	Note   string
	// Patrol chooses the unit for dispatch; the nearest available unit when empty.
	Patrol string
}

// AlertEvent is one change of one alert on the stream.
type AlertEvent struct {
	ID    int64     // increasing; the SSE id, for resuming
	Type  string    // "alert" for a new alert, "update" for a change
	Alert AlertView //
}

// Media is a snapshot, face crop, photo or clip. Key is the object-store key the services give; the
// handler turns it into URL (a short-lived presigned or signed link) and never shows the key itself.
type Media struct {
	Key string `json:"-"`
	// Camera is the camera that captured the object, when it is not the camera of what carries it
	// (the alert's or the sighting's): the handler links the object only for callers who may see it.
	Camera string `json:"-"`
	URL    string `json:"url,omitempty"`
	// Pending is set when the object exists but is not readable yet (held in the upload spool).
	Pending bool `json:"pending,omitempty"`
}

// Clip is an evidence clip. State is "ready" (URL set), "preparing" (post-roll still recording or
// upload pending), "none" (no clip for this alert) or "failed".
type Clip struct {
	Media
	State string    `json:"state"`
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// Clip states.
const (
	ClipReady     = "ready"
	ClipPreparing = "preparing"
	ClipNone      = "none"
	ClipFailed    = "failed"
)

// Patrols are the units in the street.
type Patrols interface {
	List(ctx context.Context) ([]PatrolView, error)
	Create(ctx context.Context, p PatrolInput) (PatrolView, error)
	// UpdatePosition records where a unit is (and optionally its status); ErrNotFound for no such unit.
	UpdatePosition(ctx context.Context, id string, u PositionUpdate) (PatrolView, error)
}

// PatrolView is a unit as the console shows it.
type PatrolView struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Status   string      `json:"status"` // available, busy, offline
	Area     string      `json:"area,omitempty"`
	Position *geo.LatLon `json:"position,omitempty"`
	Updated  time.Time   `json:"updated,omitzero"`
	// Alert is the alert the unit is assigned to, if any.
	Alert string `json:"alert,omitempty"`
	// Account is the user name of the patrol role account that reports for the unit.
	Account string `json:"account,omitempty"`
}

// Patrol statuses.
const (
	PatrolAvailable = "available"
	PatrolBusy      = "busy"
	PatrolOffline   = "offline"
)

// PatrolInput creates a unit.
type PatrolInput struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Area     string      `json:"area,omitempty"`
	Status   string      `json:"status,omitempty"`
	Position *geo.LatLon `json:"position,omitempty"`
	Account  string      `json:"account,omitempty"`
}

// PositionUpdate is a unit's report of where it is.
type PositionUpdate struct {
	Position geo.LatLon `json:"position"`
	Status   string     `json:"status,omitempty"` // unchanged when empty
	At       time.Time  `json:"at,omitzero"`      // now when zero
}

// Cameras reports the cameras and their health.
type Cameras interface {
	List(ctx context.Context) ([]CameraView, error)
	// Area returns a camera's area ("" if none or unknown), for operators scoped by area.
	Area(camera string) string
	// Edges reports the edges of a distributed deployment and the center's lag behind them; nil in
	// one process.
	Edges(ctx context.Context) (*EdgesView, error)
}

// EdgesView is a distributed deployment's edges and how far the center is behind them.
type EdgesView struct {
	Edges []EdgeView `json:"edges"`
	// Pending are events in the stream the center has not yet been handed, AckPending those handed and
	// not yet applied: the consumer's lag (-1 when NATS did not answer).
	Pending    int64 `json:"pending"`
	AckPending int64 `json:"ack_pending"`
}

// EdgeView is one live edge and its load.
type EdgeView struct {
	ID       string `json:"id"`
	Capacity int    `json:"capacity"`
	Cameras  int    `json:"cameras"`
	// Outbox is how many events wait on the edge for the link or the stream, OutboxAge the age in
	// seconds of the oldest (0 when none): the edge's lag.
	Outbox    int     `json:"outbox"`
	OutboxAge float64 `json:"outbox_age"`
	// Renewed is when the edge last renewed its session (the NATS servers' clock).
	Renewed time.Time `json:"renewed"`
}

// CameraView is a camera and its health. It never carries the camera's URL or credentials.
type CameraView struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Area      string      `json:"area,omitempty"`
	Position  *geo.LatLon `json:"position,omitempty"`
	State     string      `json:"state"` // online, connecting, stalled, offline, unauthorized
	Online    bool        `json:"online"`
	FPS       float64     `json:"fps"`
	Width     int         `json:"width,omitempty"`
	Height    int         `json:"height,omitempty"`
	Codec     string      `json:"codec,omitempty"`
	LastFrame time.Time   `json:"last_frame,omitzero"`
	// LastFrameAge is seconds since the last frame when the view was made (-1 when never).
	LastFrameAge float64 `json:"last_frame_age"`
	// Live says whether the camera can be watched over WebRTC (H.264 in the ring).
	Live bool `json:"live"`
	// Edge holds the camera in a distributed deployment, under lease Epoch since HeldSince (the NATS
	// servers' clock); empty in one process, and while no live edge holds it.
	Edge      string    `json:"edge,omitempty"`
	Epoch     uint64    `json:"epoch,omitempty"`
	HeldSince time.Time `json:"held_since,omitzero"`
}

// Live is the WebRTC live view (*live.Server implements it).
type Live interface {
	// Offer answers a WHEP offer for camera with the SDP answer and the session id.
	Offer(ctx context.Context, camera, offer string) (answer, id string, err error)
	// Close ends the session id of camera.
	Close(camera, id string) error
	// Done returns a channel closed when session id has ended, whatever ended it; closed already for
	// a session that does not exist.
	Done(id string) <-chan struct{}
}

// Watchlist is the persons enrolled for matching.
type Watchlist interface {
	List(ctx context.Context) ([]PersonView, error)
	Get(ctx context.Context, id string) (PersonView, error)
	// Enrol adds a person from photos. The result says per photo whether it had a usable face; when
	// none had, nothing is enrolled and the error wraps ErrNoUsableFace.
	Enrol(ctx context.Context, e Enrolment) (EnrolResult, error)
	Remove(ctx context.Context, id string) error
	// Photo returns enrolment photo i of a person.
	Photo(ctx context.Context, id string, i int) (Photo, error)
}

// ErrNoUsableFace means none of the photos given for enrolment shows one usable face.
var ErrNoUsableFace = errors.New("none of the photos shows one usable face")

// PersonView is a watch-list entry.
type PersonView struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Category        watchlist.Category `json:"category"`
	GuardianContact string             `json:"guardian_contact,omitempty"`
	SafeZone        []geo.LatLon       `json:"safe_zone,omitempty"`
	Expires         time.Time          `json:"expires,omitzero"`
	Expired         bool               `json:"expired"`
	LegalBasis      string             `json:"legal_basis"`
	ApprovedBy      string             `json:"approved_by"`
	EnrolledBy      string             `json:"enrolled_by,omitempty"`
	Enrolled        time.Time          `json:"enrolled,omitzero"`
	// Photos is the number of enrolment photos; PhotoURLs are filled by the handler.
	Photos    int      `json:"photos"`
	PhotoURLs []string `json:"photo_urls,omitempty"`
}

// Enrolment is a request to put a person on the watch list.
type Enrolment struct {
	Name            string
	Category        watchlist.Category
	GuardianContact string
	SafeZone        []geo.LatLon
	Expires         time.Time
	LegalBasis      string
	ApprovedBy      string
	EnrolledBy      string // the user who enrols
	Photos          []PhotoUpload
}

// PhotoUpload is one uploaded photo.
type PhotoUpload struct {
	Name        string
	ContentType string
	Data        []byte
}

// EnrolResult is the outcome of an enrolment.
type EnrolResult struct {
	Person PersonView    `json:"person"`
	Photos []PhotoResult `json:"photos"`
}

// PhotoResult says whether one uploaded photo was used, and if not, why, in words for the person
// who uploaded it ("no face found", "two faces: crop the photo to one person", "face too small").
type PhotoResult struct {
	Name  string `json:"name"`
	Used  bool   `json:"used"`
	Error string `json:"error,omitempty"`
	// Score is the face detector's confidence for the face used.
	Score float64 `json:"score,omitempty"`
}

// Photo is an enrolment photo's bytes.
type Photo struct {
	ContentType string
	Data        []byte
}

// Trajectories answers where people went. Every method reveals identities: the routes that call them
// require a case number and a reason.
type Trajectories interface {
	PersonTrajectory(ctx context.Context, personID string, from, to time.Time) (TrajectoryView, error)
	FromSighting(ctx context.Context, sightingID string, from, to time.Time) (TrajectoryView, error)
	CameraSightings(ctx context.Context, camera string, from, to time.Time) ([]SightingView, error)
	// Latest is the person's most recent sighting; ok is false when there is none.
	Latest(ctx context.Context, personID string) (s SightingView, ok bool, err error)
}

// TrajectoryView is a person's path through the cameras: sightings in time order.
type TrajectoryView struct {
	PersonID  string         `json:"person_id,omitempty"`
	Sighting  string         `json:"sighting,omitempty"` // the seed of a sighting-based query
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Sightings []SightingView `json:"sightings"`
}

// SightingView is one person's pass through one camera.
type SightingView struct {
	ID         string      `json:"id"`
	Trajectory string      `json:"trajectory,omitempty"`
	Camera     string      `json:"camera"`
	CameraName string      `json:"camera_name,omitempty"`
	Position   *geo.LatLon `json:"position,omitempty"`
	Enter      time.Time   `json:"enter"`
	Exit       time.Time   `json:"exit"`
	// Confidence is the link confidence to the previous sighting of the trajectory (0..1); 0 for the
	// first.
	Confidence float64 `json:"confidence"`
	PersonID   string  `json:"person_id,omitempty"`
	// Score is the identity evidence for PersonID (best face similarity).
	Score    float64 `json:"score,omitempty"`
	Snapshot Media   `json:"snapshot,omitzero"`
	Face     Media   `json:"face,omitzero"`
	Clip     Clip    `json:"clip,omitzero"`
}

// MediaStore reads evidence objects and makes short-lived links to them; objstore.Store implements
// it.
type MediaStore interface {
	Get(ctx context.Context, key string) (io.ReadCloser, objstore.Info, error)
	PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// Holds keeps evidence past its retention period for a case: items held are not deleted until the
// case releases them. The service records each hold and release in the audit log itself (with the
// actor, the case and the reason), so the routes that call it add no entry of their own.
type Holds interface {
	// Hold holds the items for the case; every item must exist (ErrNotFound otherwise, and nothing
	// is held). Items the case already holds are returned as they are.
	Hold(ctx context.Context, r HoldRequest) ([]HoldView, error)
	// Release ends the case's holds of the items, or of everything the case holds when there are
	// none; ErrNotFound (and nothing released) when the case does not hold one of them.
	Release(ctx context.Context, r HoldRequest) ([]HoldView, error)
	// List returns holds by id: of one case when Case is set, active ones unless All.
	List(ctx context.Context, f HoldFilter) ([]HoldView, error)
}

// HoldRequest is a hold or a release for a case: Reason says why (at least audit.MinReason
// characters), Actor and Role who asks.
type HoldRequest struct {
	Case, Reason string
	Items        []HoldItem
	Actor, Role  string
}

// Kinds of held items. Holding a trajectory holds each of its sightings (also those it gains later);
// holding an alert holds its evidence and the sightings it names.
const (
	HoldSighting   = "sighting"
	HoldTrajectory = "trajectory"
	HoldAlert      = "alert"
)

// HoldItem names one thing a case holds.
type HoldItem struct {
	Kind string `json:"kind"` // sighting, trajectory or alert
	ID   string `json:"id"`
}

// HoldView is one held item of a case, and its release once released.
type HoldView struct {
	ID   int64    `json:"id"`
	Case string   `json:"case"`
	Item HoldItem `json:"item"`
	// Via names the trajectory hold that listed this sighting ("trajectory/<id>"); empty for an item
	// held by itself.
	Via      string       `json:"via,omitempty"`
	Reason   string       `json:"reason"`
	By       string       `json:"by"`
	At       time.Time    `json:"at"`
	Released *HoldRelease `json:"released,omitempty"`
}

// HoldRelease says who released a hold, when and why.
type HoldRelease struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// HoldFilter selects holds: those of Case (all cases when empty), active ones unless All, with ids
// above After, at most Limit.
type HoldFilter struct {
	Case  string
	All   bool
	After int64
	Limit int
}
