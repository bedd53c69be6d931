package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/objstore"
	"snowlight/web/console"
)

// APIOptions configures the product's API and console routes (ProductRoutes).
type APIOptions struct {
	Alerts       Alerts
	Patrols      Patrols
	Cameras      Cameras
	Watchlist    Watchlist
	Trajectories Trajectories
	Holds        Holds
	Media        MediaStore
	// Search and Exports serve investigation (search by example and description, evidence bundles);
	// their routes answer 503 when nil.
	Search  Search
	Exports Exports
	// Live serves WHEP; the live-view routes answer 503 when nil.
	Live Live
	// Signer checks the signed links of the local object store, served under ObjectsPath; links are
	// refused (404) when nil, as with MinIO, whose presigned URLs point at MinIO itself.
	Signer *objstore.Signer
	Audit  Recorder // required: handlers record the changes they make (*audit.Log)
	Log    *slog.Logger
	Now    func() time.Time
	// LinkExpiry is how long the media links in API answers live [10 min].
	LinkExpiry time.Duration
	// MaxEnrolBytes bounds an enrolment request with its photos [32 MiB].
	MaxEnrolBytes int64
	// Heartbeat is the interval of keep-alive comments on the alert stream [15 s].
	Heartbeat time.Duration
	// MaxStreamsPerUser bounds the alert streams one user holds open [4] (one per console tab), and
	// MaxLivePerUser their live views [8] (the live page starts four by itself); past them, 429.
	MaxStreamsPerUser, MaxLivePerUser int
	// MaxReplay is how many missed events an alert stream that resumes is sent at most [500]: the
	// newest; a console that missed more reloads its lists anyway.
	MaxReplay int
}

// Recorder appends to the audit log; *audit.Log implements it.
type Recorder interface {
	Append(ctx context.Context, r audit.Record) (audit.Entry, error)
}

// ObjectsPath is where signed links to locally stored evidence point; give it to objstore.NewSigner.
const ObjectsPath = "/api/v1/objects"

// api holds the product handlers.
type api struct {
	o       APIOptions
	log     *slog.Logger
	streams perUser   // alert streams open, per user
	live    liveViews // live views open
}

// ProductRoutes returns the product's JSON API (alerts, patrols, cameras and live view, watch list,
// trajectories, case holds, guardian view, media links, the OpenAPI document) and the console, for New.
func ProductRoutes(o APIOptions) ([]Route, error) {
	var missing []string
	for name, ok := range map[string]bool{"Alerts": o.Alerts != nil, "Patrols": o.Patrols != nil, "Cameras": o.Cameras != nil,
		"Watchlist": o.Watchlist != nil, "Trajectories": o.Trajectories != nil, "Holds": o.Holds != nil, "Media": o.Media != nil, "Audit": o.Audit != nil} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("web: APIOptions.%s required", strings.Join(missing, ", APIOptions."))
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LinkExpiry <= 0 {
		o.LinkExpiry = 10 * time.Minute
	}
	if o.MaxEnrolBytes <= 0 {
		o.MaxEnrolBytes = 32 << 20
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.MaxStreamsPerUser <= 0 {
		o.MaxStreamsPerUser = 4
	}
	if o.MaxLivePerUser <= 0 {
		o.MaxLivePerUser = 8
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = 500
	}
	a := &api{o: o, log: o.Log}
	con, err := console.New()
	if err != nil {
		return nil, err
	}
	var routes []Route
	for _, part := range [][]Route{a.alertRoutes(), a.patrolRoutes(), a.cameraRoutes(), a.personRoutes(),
		a.trajectoryRoutes(), a.holdRoutes(), a.guardianRoutes(), a.mediaRoutes(), a.docRoutes(), a.searchRoutes(),
		a.exportRoutes(), a.assignmentRoutes(), consoleRoutes(con)} {
		routes = append(routes, part...)
	}
	return routes, nil
}

func roles(rs ...auth.Role) []auth.Role { return rs }

// principal is the caller of a request that passed the guard.
func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

// failService answers a request with a service error: the sentinel errors become their statuses with
// the service's message; anything else is a 500.
func failService(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrNoUsableFace):
		WriteError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		WriteError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		Fail(w, r, err)
	}
}

// record appends an audit entry for a change the handler made.
func (a *api) record(r *http.Request, action, target string, details map[string]string) error {
	_, err := a.o.Audit.Append(r.Context(), AuditRecord(r, action, target, details))
	return err
}

// timeWindow reads from and to (RFC 3339) from the query and checks them as window does.
func (a *api) timeWindow(r *http.Request, def, max time.Duration) (from, to time.Time, err error) {
	q := r.URL.Query()
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			return from, to, Errorf(http.StatusBadRequest, "to must be an RFC 3339 time such as 2025-03-01T08:00:00Z")
		}
	}
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			return from, to, Errorf(http.StatusBadRequest, "from must be an RFC 3339 time such as 2025-03-01T07:00:00Z")
		}
	}
	return a.window(from, to, def, max)
}

// window fills the open ends of a time window (to: now; from: def before to) and checks it: from before
// to, and at most max long (a whole number of days).
func (a *api) window(from, to time.Time, def, max time.Duration) (time.Time, time.Time, error) {
	if to.IsZero() {
		to = a.o.Now()
	}
	if from.IsZero() {
		from = to.Add(-def)
	}
	switch {
	case !from.Before(to):
		return from, to, Errorf(http.StatusBadRequest, "from must be before to")
	case to.Sub(from) > max:
		return from, to, Errorf(http.StatusBadRequest, "the time window is longer than %d days: narrow it", int(max.Hours()/24))
	}
	return from, to, nil
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, Errorf(http.StatusBadRequest, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// validID accepts the ids the services hand out: 1 to 128 printable ASCII characters without '/'.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '/' {
			return false
		}
	}
	return true
}

// pathID reads an id path parameter, answering 400 itself when it is not a valid id.
func pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	if !validID(id) {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s %q is not a valid id", name, id))
		return "", false
	}
	return id, true
}
