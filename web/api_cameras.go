package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"snowlight/auth"
	"snowlight/live"
)

func (a *api) cameraRoutes() []Route {
	watchers := roles(auth.Admin, auth.Operator, auth.Investigator)
	inScope := CameraInPath("id", a.o.Cameras.Area)
	return []Route{
		{Pattern: "GET /api/v1/cameras", Name: "cameras.list", Policy: Policy{Roles: watchers}, Handler: http.HandlerFunc(a.listCameras)},
		// WHEP (RFC 9725): the SDP offer in, the answer out, the session's URL in Location for DELETE.
		{Pattern: "POST /api/v1/cameras/{id}/whep", Name: "cameras.whep", Policy: Policy{Roles: watchers, Scope: inScope},
			Handler: http.HandlerFunc(a.whepOffer), MaxBodyBytes: maxOffer},
		{Pattern: "DELETE /api/v1/cameras/{id}/whep/{session}", Name: "cameras.whep.close", Policy: Policy{Roles: watchers, Scope: inScope},
			Handler: http.HandlerFunc(a.whepClose)},
	}
}

// maxOffer bounds an SDP offer; browsers send a few kilobytes.
const maxOffer = 64 << 10

// listCameras answers GET /api/v1/cameras with the cameras the caller may watch and their health.
func (a *api) listCameras(w http.ResponseWriter, r *http.Request) {
	cams, err := a.o.Cameras.List(r.Context())
	if err != nil {
		failService(w, r, err)
		return
	}
	p := principal(r)
	out := make([]CameraView, 0, len(cams))
	for _, c := range cams {
		area := c.Area
		if area == "" {
			area = a.o.Cameras.Area(c.ID)
		}
		if p.CanSeeCamera(c.ID, area) {
			c.Live = c.Live && a.o.Live != nil
			out = append(out, c)
		}
	}
	body := map[string]any{"cameras": out}
	edges, err := a.o.Cameras.Edges(r.Context())
	if err != nil {
		failService(w, r, err)
		return
	}
	if edges != nil {
		body["edges"] = edges.Edges
		body["lag"] = map[string]int64{"pending": edges.Pending, "ack_pending": edges.AckPending}
	}
	WriteJSON(w, http.StatusOK, body)
}

// whepOffer answers POST /api/v1/cameras/{id}/whep: a live view, at most MaxLivePerUser per user,
// recorded when it starts and when it ends (superviseLive), and ended with the login that opened it.
func (a *api) whepOffer(w http.ResponseWriter, r *http.Request) {
	cam, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	if a.o.Live == nil {
		WriteError(w, http.StatusServiceUnavailable, "live view is not enabled on this server")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		WriteError(w, http.StatusUnsupportedMediaType, "send the WHEP offer as Content-Type: application/sdp")
		return
	}
	offer, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, decodeError(err))
		return
	}
	p := principal(r)
	if !a.live.users.take(p.User.ID, a.o.MaxLivePerUser) {
		tooMany(w, "live views", a.o.MaxLivePerUser)
		return
	}
	answer, id, err := a.o.Live.Offer(r.Context(), cam, string(offer))
	if err != nil {
		a.live.users.give(p.User.ID)
	}
	switch {
	case errors.Is(err, live.ErrNoCamera):
		WriteError(w, http.StatusNotFound, "no camera "+cam+" on this server")
		return
	case errors.Is(err, live.ErrNoVideo):
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, "camera "+cam+" has sent no video yet: it may be offline; try again shortly")
		return
	case errors.Is(err, live.ErrTooMany):
		w.Header().Set("Retry-After", "10")
		WriteError(w, http.StatusServiceUnavailable, "too many live viewers: close a live view or try again later")
		return
	case errors.Is(err, live.ErrBadOffer):
		WriteError(w, http.StatusBadRequest, "the browser's SDP offer was refused: it must offer to receive H.264 video")
		return
	case err != nil:
		failService(w, r, err)
		return
	}
	v := &liveView{id: id, camera: cam, p: p, start: a.o.Now()}
	a.live.add(v)
	go a.superviseLive(loginOf(r), v)
	if err := a.record(r, "live.start", cam, map[string]string{"session": id}); err != nil {
		// Nobody watches unrecorded.
		a.live.ending(v, "its start could not be recorded")
		a.o.Live.Close(cam, id)
		Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/api/v1/cameras/"+url.PathEscape(cam)+"/whep/"+url.PathEscape(id))
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
}

// whepClose answers DELETE /api/v1/cameras/{id}/whep/{session}: a viewer ends their own live view (an
// admin any); superviseLive records the end.
func (a *api) whepClose(w http.ResponseWriter, r *http.Request) {
	cam, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	sess, ok := pathID(w, r, "session")
	if !ok {
		return
	}
	if a.o.Live == nil {
		WriteError(w, http.StatusServiceUnavailable, "live view is not enabled on this server")
		return
	}
	v, ok := a.live.get(sess, cam, principal(r))
	if !ok {
		WriteError(w, http.StatusNotFound, "no such live session of yours (it may have ended already)")
		return
	}
	a.live.ending(v, "closed by "+principal(r).User.Name)
	if err := a.o.Live.Close(cam, sess); err != nil {
		if errors.Is(err, live.ErrNoSession) {
			WriteError(w, http.StatusNotFound, "no such live session (it may have ended already)")
			return
		}
		failService(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
