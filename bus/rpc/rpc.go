// Package rpc carries the center's requests to the edge that holds (or held) a camera, over NATS
// request/reply on snowlight.rpc.<edge>.<op>: evidence clips and snapshots cut from the edge's ring,
// the WHEP signalling of live view (the console's SDP offer relayed to the owning edge, its answer
// back; the media then flows from the edge to the browser), and enrolment photos embedded by an edge's
// face models (the center has none). The edge side (Serve) answers with handlers the edge's wiring
// provides; the center side (Client) routes by the lease table. The request and reply types are also
// the contract of a process that runs its cameras itself (package edge, `snowlight serve`).
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"snowlight/bus"
	"snowlight/bus/lease"
	"snowlight/watchlist"
)

// Operations, the last token of a request's subject.
const (
	opClip      = "clip"
	opWHEP      = "whep"
	opWHEPClose = "whep-close"
	opWHEPAlive = "whep-alive"
	opEmbed     = "embed"
)

// maxRequest bounds a request's size (an SDP offer is a few KiB); enrolment photos may fill a
// message (bus.MaxPayload).
const maxRequest = 64 << 10

// Interval is a half-open time window [From, To).
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ClipRequest asks an edge for the clip of a camera over a window it held the camera in.
type ClipRequest struct {
	Camera string `json:"camera"`
	// Epoch is the lease under which the edge held the camera for the window; the edge may have
	// handed the camera on since and still have the frames in its ring.
	Epoch uint64 `json:"epoch"`
	Interval
	// Ref names what the clip is evidence for (e.g. "alert/42"), for the object's key and the edge's log.
	Ref string `json:"ref,omitempty"`
	// Snapshot, when set, also asks for a still at its moment (if it falls in the window).
	Snapshot *SnapshotRequest `json:"snapshot,omitempty"`
}

// SnapshotRequest asks for the picture of a moment with boxes drawn on it.
type SnapshotRequest struct {
	At    time.Time `json:"at"`
	Marks []Mark    `json:"marks,omitempty"`
}

// Mark is a box to draw, in the picture's pixels, with its label (never a person's name: names stay
// at the center).
type Mark struct {
	X, Y, W, H int
	Label      string `json:"label,omitempty"`
}

// ClipReply is what the edge cut and uploaded.
type ClipReply struct {
	// Covered are the parts of the window the clip holds (what the ring still had).
	Covered []Interval `json:"covered"`
	// Object is the clip's object-store key; Pending when it is spooled on the edge, not yet uploaded.
	Object  string `json:"object,omitempty"`
	Pending bool   `json:"pending,omitempty"`
	// Start and End are the wall times of the clip's first and last picture (it starts at a
	// keyframe, so usually before the window).
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Snapshot is the still's object key when one was asked for and cut; SnapshotAt the moment of
	// the picture it shows.
	Snapshot   string    `json:"snapshot,omitempty"`
	SnapshotAt time.Time `json:"snapshot_at,omitzero"`
}

// Photo is an enrolment photo as the user gave it.
type Photo struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// EmbedRequest asks an edge's face models for the embeddings of enrolment photos.
type EmbedRequest struct {
	Photos []Photo `json:"photos"`
}

// Embedded is one photo's result: the face found and its embedding, or the Problem in words.
type Embedded struct {
	Photo     watchlist.Photo `json:"photo"`
	Embedding []float32       `json:"embedding,omitempty"`
	Problem   string          `json:"problem,omitempty"`
}

// EmbedReply gives each photo's result, in order, and the embedding model they were made with.
type EmbedReply struct {
	Model  string     `json:"model"`
	Photos []Embedded `json:"photos"`
}

// WHEPOffer is a viewer's SDP offer for a camera's live view.
type WHEPOffer struct {
	Camera string `json:"camera"`
	SDP    string `json:"sdp"`
}

// WHEPAnswer is the edge's SDP answer; Session names the viewer's session for WHEPClose.
type WHEPAnswer struct {
	SDP     string `json:"sdp"`
	Session string `json:"session"`
}

// WHEPClose ends a viewer's session; also what WHEPAlive asks about.
type WHEPClose struct {
	Camera  string `json:"camera"`
	Session string `json:"session"`
}

// whepAlive is WHEPAlive's answer.
type whepAlive struct {
	Alive bool `json:"alive"`
}

// Errors an edge's handlers return and the center's calls wrap.
var (
	// ErrNotHolder: the edge does not hold the camera (it moved); the center asks the new holder.
	ErrNotHolder = errors.New("the edge does not hold the camera")
	// ErrUnknown: the edge knows nothing of the camera or session asked about.
	ErrUnknown = errors.New("unknown camera or session")
	// ErrInvalid: the request is malformed.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: no edge holds the camera, or the edge did not answer in time.
	ErrUnavailable = errors.New("unavailable")
)

var codes = map[string]error{"not_holder": ErrNotHolder, "unknown": ErrUnknown, "invalid": ErrInvalid, "unavailable": ErrUnavailable}

func code(err error) string {
	for c, e := range codes {
		if errors.Is(err, e) {
			return c
		}
	}
	return "unavailable"
}

// reply is every answer's envelope.
type reply struct {
	OK    json.RawMessage `json:"ok,omitempty"`
	Code  string          `json:"code,omitempty"`
	Error string          `json:"error,omitempty"`
}

// EdgeHandlers are the edge's answers; a nil handler answers ErrUnknown.
type EdgeHandlers struct {
	Clip      func(ctx context.Context, r ClipRequest) (ClipReply, error)
	WHEP      func(ctx context.Context, o WHEPOffer) (WHEPAnswer, error)
	WHEPClose func(ctx context.Context, c WHEPClose) error
	// WHEPAlive reports whether a viewer's session is still on.
	WHEPAlive func(session string) bool
	Embed     func(ctx context.Context, r EmbedRequest) (EmbedReply, error)
	// Holds reports whether the edge holds a camera now (Holder.Lease): live view needs the holder.
	Holds func(camera string) bool
	// Timeout bounds one request's handling (default 30 s); Parallel how many run at once (default 8:
	// clips are cut and uploaded; more requests are answered ErrUnavailable at once).
	Timeout  time.Duration
	Parallel int
	Logger   *slog.Logger
}

// Serve answers the center's requests to edge until ctx ends, then waits for the ones running.
func Serve(ctx context.Context, nc *nats.Conn, edge string, h EdgeHandlers) error {
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	if h.Parallel <= 0 {
		h.Parallel = 8
	}
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	slots := make(chan struct{}, h.Parallel)
	var wg sync.WaitGroup
	sub, err := nc.Subscribe(bus.EdgeRPC(edge), func(m *nats.Msg) {
		select {
		case slots <- struct{}{}:
		default:
			respond(m, nil, fmt.Errorf("edge busy with %d requests: %w", h.Parallel, ErrUnavailable), log)
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			rctx, cancel := context.WithTimeout(ctx, h.Timeout)
			defer cancel()
			v, err := h.dispatch(rctx, edge, m)
			respond(m, v, err, log)
		})
	})
	if err != nil {
		return fmt.Errorf("serve requests of %s: %w", edge, err)
	}
	<-ctx.Done()
	sub.Unsubscribe()
	wg.Wait()
	return nil
}

func (h *EdgeHandlers) dispatch(ctx context.Context, edge string, m *nats.Msg) (any, error) {
	if len(m.Data) > maxRequest && m.Subject != bus.RPCSubject(edge, opEmbed) {
		return nil, fmt.Errorf("request of %d bytes: %w", len(m.Data), ErrInvalid)
	}
	decode := func(v any) error {
		if err := json.Unmarshal(m.Data, v); err != nil {
			return fmt.Errorf("%v: %w", err, ErrInvalid)
		}
		return nil
	}
	switch m.Subject {
	case bus.RPCSubject(edge, opClip):
		var r ClipRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := r.check(); err != nil {
			return nil, err
		}
		if h.Clip == nil {
			return nil, ErrUnknown
		}
		return h.Clip(ctx, r)
	case bus.RPCSubject(edge, opWHEP):
		var o WHEPOffer
		if err := decode(&o); err != nil {
			return nil, err
		}
		if h.WHEP == nil || h.Holds == nil {
			return nil, ErrUnknown
		}
		if !h.Holds(o.Camera) {
			return nil, fmt.Errorf("camera %s: %w", o.Camera, ErrNotHolder)
		}
		return h.WHEP(ctx, o)
	case bus.RPCSubject(edge, opWHEPClose):
		var c WHEPClose
		if err := decode(&c); err != nil {
			return nil, err
		}
		if h.WHEPClose == nil {
			return nil, ErrUnknown
		}
		return struct{}{}, h.WHEPClose(ctx, c)
	case bus.RPCSubject(edge, opWHEPAlive):
		var c WHEPClose
		if err := decode(&c); err != nil {
			return nil, err
		}
		if h.WHEPAlive == nil {
			return nil, ErrUnknown
		}
		return whepAlive{h.WHEPAlive(c.Session)}, nil
	case bus.RPCSubject(edge, opEmbed):
		var r EmbedRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if len(r.Photos) == 0 {
			return nil, fmt.Errorf("no photos: %w", ErrInvalid)
		}
		if h.Embed == nil {
			return nil, ErrUnknown
		}
		return h.Embed(ctx, r)
	}
	return nil, fmt.Errorf("operation %s: %w", m.Subject, ErrUnknown)
}

func respond(m *nats.Msg, v any, err error, log *slog.Logger) {
	var r reply
	if err != nil {
		r.Code, r.Error = code(err), err.Error()
	} else if r.OK, err = json.Marshal(v); err != nil {
		r.Code, r.Error = "unavailable", err.Error()
	}
	b, _ := json.Marshal(r)
	if err := m.Respond(b); err != nil {
		log.Warn("answering a request failed", "subject", m.Subject, "err", err)
	}
}

// Owners is what the center routes by: the lease table.
type Owners interface {
	Owner(camera string) (edge string, epoch uint64, ok bool)
	Holders(camera string, from, to time.Time) []lease.Span
	Edges() []lease.EdgeState
}

// Client is the center's side.
type Client struct {
	nc     *nats.Conn
	owners Owners
	// ClipTimeout and WHEPTimeout bound one request (defaults 45 s: a clip waits for its post-roll,
	// and 10 s); EmbedTimeout one edge's embedding of enrolment photos (default 60 s).
	ClipTimeout, WHEPTimeout, EmbedTimeout time.Duration

	next atomic.Uint64 // round robin over edges for Embed
}

// NewClient makes the center's client, routing by owners.
func NewClient(nc *nats.Conn, owners Owners) *Client {
	return &Client{nc: nc, owners: owners, ClipTimeout: 45 * time.Second, WHEPTimeout: 10 * time.Second, EmbedTimeout: time.Minute}
}

func (c *Client) call(ctx context.Context, edge, op string, timeout time.Duration, req, out any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("request %s to %s: %w", op, edge, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, bus.RPCSubject(edge, op), b)
	if err != nil {
		return fmt.Errorf("request %s to %s: %v: %w", op, edge, err, ErrUnavailable)
	}
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return fmt.Errorf("answer to %s from %s: %v: %w", op, edge, err, ErrUnavailable)
	}
	if r.Code != "" {
		e, ok := codes[r.Code]
		if !ok {
			e = ErrUnavailable
		}
		return fmt.Errorf("%s from %s: %s: %w", op, edge, r.Error, e)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.OK, out); err != nil {
		return fmt.Errorf("answer to %s from %s: %v: %w", op, edge, err, ErrUnavailable)
	}
	return nil
}

// Part is a clip one edge cut of the window: Interval is the part of the window it covers, Start and
// End its first and last picture.
type Part struct {
	Edge  string
	Epoch uint64
	Interval
	Object     string
	Pending    bool
	Start, End time.Time
}

// Lost is a part of the window no clip covers, and why.
type Lost struct {
	Interval
	Reason string
}

// Evidence is the answer to a clip request over a window: the clips, what of the window is lost,
// and the snapshot when one was asked for and its moment was covered.
type Evidence struct {
	Parts      []Part
	Lost       []Lost
	Snapshot   string
	SnapshotAt time.Time
}

// Clip asks, for each part of r's window by who held the camera then (the lease history), that edge
// for its clip, and the edge that held the camera at the snapshot's moment for the snapshot. The
// camera may have moved within the window: each holder is asked for its part, and what no holder
// could give is reported lost, with the reason (nobody held it, the edge is gone, its ring no longer
// has it). The error is for a malformed request only.
//
// A request with an empty window (From equal to To) and a snapshot asks for the snapshot alone, which
// needs no post-roll: the edge that held the camera at its moment cuts it.
func (c *Client) Clip(ctx context.Context, r ClipRequest) (Evidence, error) {
	camera, from, to := r.Camera, r.From, r.To
	if err := r.check(); err != nil {
		return Evidence{}, err
	}
	if from.Equal(to) {
		return c.snapshot(ctx, r)
	}
	var ev Evidence
	spans := c.owners.Holders(camera, from, to)
	held := make([]Interval, len(spans))
	for i, s := range spans {
		held[i] = Interval{s.From, s.To}
	}
	for _, gap := range subtract(Interval{from, to}, held) {
		ev.Lost = append(ev.Lost, Lost{Interval: gap, Reason: "no edge held the camera"})
	}
	type result struct {
		span  lease.Span
		reply ClipReply
		err   error
	}
	results := make([]result, len(spans))
	var wg sync.WaitGroup
	for i, s := range spans {
		req := ClipRequest{Camera: camera, Epoch: s.Epoch, Interval: Interval{s.From, s.To}, Ref: r.Ref}
		if r.Snapshot != nil && !r.Snapshot.At.Before(s.From) && r.Snapshot.At.Before(s.To) {
			req.Snapshot = r.Snapshot
		}
		wg.Go(func() {
			var r ClipReply
			err := c.call(ctx, s.Edge, opClip, c.ClipTimeout, req, &r)
			results[i] = result{s, r, err}
		})
	}
	wg.Wait()
	for _, r := range results {
		span := Interval{r.span.From, r.span.To}
		if r.err != nil {
			ev.Lost = append(ev.Lost, Lost{Interval: span, Reason: fmt.Sprintf("edge %s did not answer: %v", r.span.Edge, r.err)})
			continue
		}
		if r.reply.Snapshot != "" {
			ev.Snapshot, ev.SnapshotAt = r.reply.Snapshot, r.reply.SnapshotAt
		}
		covered, gaps := r.reply.Cover(span)
		for _, iv := range covered {
			ev.Parts = append(ev.Parts, Part{Edge: r.span.Edge, Epoch: r.span.Epoch, Interval: iv, Object: r.reply.Object,
				Pending: r.reply.Pending, Start: r.reply.Start, End: r.reply.End})
		}
		for _, gap := range gaps {
			ev.Lost = append(ev.Lost, Lost{Interval: gap, Reason: fmt.Sprintf("not in edge %s's ring", r.span.Edge)})
		}
	}
	sort.Slice(ev.Parts, func(i, j int) bool { return ev.Parts[i].From.Before(ev.Parts[j].From) })
	sort.Slice(ev.Lost, func(i, j int) bool { return ev.Lost[i].From.Before(ev.Lost[j].From) })
	return ev, nil
}

// check refuses a malformed clip request.
func (r ClipRequest) check() error {
	if err := bus.CheckID("camera", r.Camera); err != nil || r.To.Before(r.From) || r.From.Equal(r.To) && r.Snapshot == nil {
		return fmt.Errorf("clip of %q over [%v, %v): %w", r.Camera, r.From, r.To, ErrInvalid)
	}
	return nil
}

// snapshot asks the edge that held the camera at the snapshot's moment for it.
func (c *Client) snapshot(ctx context.Context, r ClipRequest) (Evidence, error) {
	at := r.Snapshot.At
	spans := c.owners.Holders(r.Camera, at, at.Add(time.Nanosecond))
	if len(spans) == 0 {
		return Evidence{}, fmt.Errorf("snapshot of %s at %v: no edge held the camera: %w", r.Camera, at, ErrUnavailable)
	}
	r.Epoch, r.From, r.To = spans[0].Epoch, at, at
	var reply ClipReply
	if err := c.call(ctx, spans[0].Edge, opClip, c.ClipTimeout, r, &reply); err != nil {
		return Evidence{}, err
	}
	return Evidence{Snapshot: reply.Snapshot, SnapshotAt: reply.SnapshotAt}, nil
}

// WHEP relays a viewer's offer to the edge holding the camera and returns its answer and the edge
// (the console's later WHEPClose goes to it). If the camera moves between the lookup and the
// request, the new holder is asked once.
func (c *Client) WHEP(ctx context.Context, o WHEPOffer) (WHEPAnswer, string, error) {
	var err error
	for range 2 {
		edge, _, ok := c.owners.Owner(o.Camera)
		if !ok {
			return WHEPAnswer{}, "", fmt.Errorf("live view of %s: no edge holds the camera: %w", o.Camera, ErrUnavailable)
		}
		var a WHEPAnswer
		if err = c.call(ctx, edge, opWHEP, c.WHEPTimeout, o, &a); err == nil {
			return a, edge, nil
		}
		if !errors.Is(err, ErrNotHolder) {
			break
		}
	}
	return WHEPAnswer{}, "", fmt.Errorf("live view of %s: %w", o.Camera, err)
}

// WHEPClose ends a viewer's session on the edge that answered its offer.
func (c *Client) WHEPClose(ctx context.Context, edge string, cl WHEPClose) error {
	return c.call(ctx, edge, opWHEPClose, c.WHEPTimeout, cl, nil)
}

// WHEPAlive asks the edge that answered a viewer's offer whether the session is still on.
func (c *Client) WHEPAlive(ctx context.Context, edge string, cl WHEPClose) (bool, error) {
	var a whepAlive
	err := c.call(ctx, edge, opWHEPAlive, c.WHEPTimeout, cl, &a)
	return a.Alive, err
}

// Embed asks a live edge (each in turn, the next one when an edge fails) to embed enrolment photos.
func (c *Client) Embed(ctx context.Context, r EmbedRequest) (EmbedReply, error) {
	edges := c.owners.Edges()
	if len(edges) == 0 {
		return EmbedReply{}, fmt.Errorf("embed enrolment photos: no edge is live: %w", ErrUnavailable)
	}
	start := int(c.next.Add(1))
	var err error
	for i := range edges {
		e := edges[(start+i)%len(edges)]
		var out EmbedReply
		if err = c.call(ctx, e.Edge, opEmbed, c.EmbedTimeout, r, &out); err == nil {
			if len(out.Photos) != len(r.Photos) {
				return EmbedReply{}, fmt.Errorf("embed: edge %s answered %d photos of %d: %w", e.Edge, len(out.Photos), len(r.Photos), ErrUnavailable)
			}
			return out, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrInvalid) {
			break
		}
	}
	return EmbedReply{}, fmt.Errorf("embed enrolment photos: %w", err)
}

// Cover splits the window w the edge was asked for into what its clip covers and the gaps its ring
// no longer had, each in order.
func (reply ClipReply) Cover(w Interval) (covered, gaps []Interval) {
	covered = clamp(w, reply.Covered)
	return covered, subtract(w, covered)
}

// subtract returns the parts of w not covered by cov (which may overlap and be in any order).
func subtract(w Interval, cov []Interval) []Interval {
	cov = clamp(w, cov)
	var out []Interval
	at := w.From
	for _, c := range cov {
		if c.From.After(at) {
			out = append(out, Interval{at, c.From})
		}
		if c.To.After(at) {
			at = c.To
		}
	}
	if at.Before(w.To) {
		out = append(out, Interval{at, w.To})
	}
	return out
}

// clamp cuts intervals to w, drops empty ones and sorts them.
func clamp(w Interval, ivs []Interval) []Interval {
	var out []Interval
	for _, iv := range ivs {
		f, t := iv.From, iv.To
		if f.Before(w.From) {
			f = w.From
		}
		if t.After(w.To) {
			t = w.To
		}
		if f.Before(t) {
			out = append(out, Interval{f, t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}
