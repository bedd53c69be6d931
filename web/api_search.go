package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"snowlight/auth"
	"snowlight/colour"
)

// Search bounds: a window of a month at most (what the index is sized for), a picture of a person of
// a few megabytes, a page of hits a person can look through.
const (
	maxSearchWindow  = 31 * 24 * time.Hour
	maxCropBytes     = 4 << 20
	defaultHitsLimit = 30
	maxHitsLimit     = 200
)

func (a *api) searchRoutes() []Route {
	investigators := roles(auth.Admin, auth.Investigator)
	return []Route{
		// Finding a person's other sightings reveals where they went: a case and a reason, recorded.
		{Pattern: "POST /api/v1/search/sightings", Name: "search.sightings", Policy: Policy{Roles: investigators, Audit: AuditCase},
			Handler: http.HandlerFunc(a.searchSightings), MaxBodyBytes: maxCropBytes*4/3 + 64<<10},
		// Reading a description back touches no data.
		{Pattern: "POST /api/v1/search/describe", Name: "search.describe", Policy: Policy{Roles: investigators},
			Handler: http.HandlerFunc(a.describe)},
	}
}

// searchBody is a search request: an example sighting or a picture (base64 in JSON), a description,
// or an example with a description; a window, cameras and how many hits.
type searchBody struct {
	Example string    `json:"example"`
	Crop    []byte    `json:"crop"`
	Colours string    `json:"colours"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Cameras []string  `json:"cameras"`
	Limit   int       `json:"limit"`
}

// searchSightings answers POST /api/v1/search/sightings?case=&reason= with the hits, best first, each
// with its sighting's links, and the description as understood.
func (a *api) searchSightings(w http.ResponseWriter, r *http.Request) {
	if a.o.Search == nil {
		WriteError(w, http.StatusServiceUnavailable, "search is not available on this server")
		return
	}
	var b searchBody
	if err := DecodeJSON(r, &b); err != nil {
		Fail(w, r, err)
		return
	}
	q := SearchQuery{Example: b.Example, Crop: b.Crop, Colours: b.Colours, From: b.From, To: b.To, Limit: b.Limit}
	if q.Limit == 0 {
		q.Limit = defaultHitsLimit
	}
	var desc *DescriptionView
	switch {
	case b.Example != "" && len(b.Crop) > 0:
		WriteError(w, http.StatusBadRequest, `search by an "example" sighting or by a "crop", not both`)
		return
	case b.Example == "" && len(b.Crop) == 0 && b.Colours == "":
		WriteError(w, http.StatusBadRequest, `say what to look for: an "example" sighting id, a "crop" (a picture of the person) or "colours" ("red top, dark trousers")`)
		return
	case b.Example != "" && !validID(b.Example):
		WriteError(w, http.StatusBadRequest, "example is not a valid sighting id")
		return
	case len(b.Crop) > maxCropBytes:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("the picture is larger than %d MB: crop it to the person", maxCropBytes>>20))
		return
	case q.Limit < 1 || q.Limit > maxHitsLimit:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", maxHitsLimit))
		return
	}
	var err error
	if q.From, q.To, err = a.window(q.From, q.To, 24*time.Hour, maxSearchWindow); err != nil {
		Fail(w, r, err)
		return
	}
	if b.Colours != "" {
		d, err := describe(b.Colours)
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		desc = &d
	}
	cams, err := a.queryCameras(r.Context(), principal(r), b.Cameras)
	if err != nil {
		Fail(w, r, err)
		return
	}
	q.Cameras = cams
	hits, err := a.o.Search.Sightings(r.Context(), q)
	if err != nil {
		failService(w, r, err)
		return
	}
	if hits == nil {
		hits = []SearchHit{}
	}
	for i := range hits {
		s := &hits[i].Sighting
		a.link(r.Context(), &s.Snapshot)
		a.link(r.Context(), &s.Face)
		a.linkClip(r.Context(), &s.Clip)
	}
	// The guard recorded the case before the search; this says what was looked for and found.
	what := map[string]string{"from": q.From.Format(time.RFC3339), "to": q.To.Format(time.RFC3339), "hits": strconv.Itoa(len(hits))}
	switch {
	case q.Example != "":
		what["example"] = q.Example
	case len(q.Crop) > 0:
		sum := sha256.Sum256(q.Crop)
		what["picture_sha256"] = hex.EncodeToString(sum[:])
	}
	if q.Colours != "" {
		what["colours"] = q.Colours
	}
	if q.Cameras != nil {
		what["cameras"] = strings.Join(q.Cameras, ",")
	}
	if err := a.record(r, "search.result", "sightings", what); err != nil {
		Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"hits": hits, "from": q.From, "to": q.To, "description": desc})
}

// describe answers POST /api/v1/search/describe {"text"} with how the description is understood, so
// the console can show it before searching.
func (a *api) describe(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Text string `json:"text"`
	}
	if err := DecodeJSON(r, &b); err != nil {
		Fail(w, r, err)
		return
	}
	d, err := describe(b.Text)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	WriteJSON(w, http.StatusOK, d)
}

// maxDescription bounds a description: a witness's sentence, not a document.
const maxDescription = 500

func describe(text string) (DescriptionView, error) {
	if len(text) > maxDescription {
		return DescriptionView{}, fmt.Errorf("the description is longer than %d characters", maxDescription)
	}
	q, err := colour.ParseQuery(text)
	if err != nil {
		return DescriptionView{}, err
	}
	term := func(t colour.Term) TermView {
		v := TermView{Dark: t.Dark}
		for _, n := range colour.Names() {
			if t.Has(n) {
				v.Names = append(v.Names, n.String())
			}
		}
		return v
	}
	return DescriptionView{Text: q.String(), Upper: term(q.Upper), Lower: term(q.Lower)}, nil
}

// queryCameras is the cameras an identity-revealing query of p may cover: every camera p can see,
// narrowed to the cameras and areas of p's scope when it names any (an investigator of one
// district), and to asked when given; nil means every camera. Unknown cameras asked for are refused.
func (a *api) queryCameras(ctx context.Context, p auth.Principal, asked []string) ([]string, error) {
	all, err := a.o.Cameras.List(ctx)
	if err != nil {
		return nil, err
	}
	sc := p.User.Scope
	scoped := len(sc.Cameras) > 0 && !slices.Contains(sc.Cameras, auth.AllCameras) || len(sc.Areas) > 0
	var out []string
	everything := true
	for _, c := range all {
		ok := p.CanSeeCamera(c.ID, c.Area)
		if ok && scoped {
			ok = slices.Contains(sc.Cameras, c.ID) || c.Area != "" && slices.Contains(sc.Areas, c.Area)
		}
		if ok && len(asked) > 0 {
			ok = slices.Contains(asked, c.ID)
		}
		if ok {
			out = append(out, c.ID)
		} else {
			everything = false
		}
	}
	for _, c := range asked {
		if !slices.ContainsFunc(all, func(v CameraView) bool { return v.ID == c }) {
			return nil, Errorf(http.StatusBadRequest, "unknown camera %q", c)
		}
	}
	if everything {
		return nil, nil
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}
