package web

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"snowlight/audit"
	"snowlight/auth"
)

// Case holds keep a case's evidence from the retention job. Placing and releasing them is recorded by
// the Holds service itself (case.hold, case.release, with the case and the reason), so these routes
// record no entry of their own; reading them is recorded like any access to case material.

// maxHoldItems bounds one hold or release request.
const maxHoldItems = 1000

// Pages of holds: 100 by default, at most 1000.
const (
	defaultHoldPage = 100
	maxHoldPage     = 1000
)

func (a *api) holdRoutes() []Route {
	holders := roles(auth.Admin, auth.Investigator)
	readers := roles(auth.Admin, auth.Investigator, auth.Auditor)
	return []Route{
		{Pattern: "POST /api/v1/cases/{case}/holds", Name: "holds.place", Policy: Policy{Roles: holders},
			Handler: http.HandlerFunc(a.placeHolds)},
		{Pattern: "POST /api/v1/cases/{case}/release", Name: "holds.release", Policy: Policy{Roles: holders},
			Handler: http.HandlerFunc(a.releaseHolds)},
		{Pattern: "GET /api/v1/cases/{case}/holds", Name: "holds.case", Policy: Policy{Roles: readers, Audit: AuditAccess},
			Handler: http.HandlerFunc(a.caseHolds)},
		{Pattern: "GET /api/v1/holds", Name: "holds.list", Policy: Policy{Roles: readers, Audit: AuditAccess},
			Handler: http.HandlerFunc(a.listHolds)},
	}
}

// holdBody is the body of a hold or a release.
type holdBody struct {
	Reason string     `json:"reason"`
	Items  []HoldItem `json:"items"`
}

// holdRequest reads the case from the path and the reason and items from the body, answering 400
// itself when any is wrong. needItems is false for a release, where no items means the whole case.
func holdRequest(w http.ResponseWriter, r *http.Request, needItems bool) (HoldRequest, bool) {
	var b holdBody
	if err := DecodeJSON(r, &b); err != nil {
		Fail(w, r, err)
		return HoldRequest{}, false
	}
	c, err := audit.ParseCase(r.PathValue("case"), b.Reason)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return HoldRequest{}, false
	}
	if msg := checkHoldItems(b.Items, needItems); msg != "" {
		WriteError(w, http.StatusBadRequest, msg)
		return HoldRequest{}, false
	}
	p := principal(r)
	return HoldRequest{Case: c.Number, Reason: c.Reason, Items: b.Items, Actor: p.User.Name, Role: string(p.User.Role)}, true
}

// checkHoldItems returns what is wrong with items, or "".
func checkHoldItems(items []HoldItem, need bool) string {
	switch {
	case len(items) == 0 && need:
		return `name what to hold: "items": [{"kind": "sighting", "trajectory" or "alert", "id": ...}]`
	case len(items) > maxHoldItems:
		return "at most " + strconv.Itoa(maxHoldItems) + " items per request: split it"
	}
	for i, it := range items {
		switch it.Kind {
		case HoldSighting, HoldTrajectory, HoldAlert:
		default:
			return "items[" + strconv.Itoa(i) + "].kind " + strconv.Quote(it.Kind) + ": want sighting, trajectory or alert"
		}
		if !validID(it.ID) {
			return "items[" + strconv.Itoa(i) + "].id " + strconv.Quote(it.ID) + " is not a valid id"
		}
	}
	return ""
}

// placeHolds answers POST /api/v1/cases/{case}/holds {"reason", "items": [{"kind", "id"}]}.
func (a *api) placeHolds(w http.ResponseWriter, r *http.Request) {
	req, ok := holdRequest(w, r, true)
	if !ok {
		return
	}
	hs, err := a.o.Holds.Hold(r.Context(), req)
	if err != nil {
		failService(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, map[string]any{"case": req.Case, "holds": nonNil(hs)})
}

// releaseHolds answers POST /api/v1/cases/{case}/release {"reason", "items"?}: without items, every
// hold of the case ends.
func (a *api) releaseHolds(w http.ResponseWriter, r *http.Request) {
	req, ok := holdRequest(w, r, false)
	if !ok {
		return
	}
	hs, err := a.o.Holds.Release(r.Context(), req)
	if err != nil {
		failService(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"case": req.Case, "released": nonNil(hs)})
}

// caseHolds answers GET /api/v1/cases/{case}/holds[?all=1][&after=&limit=].
func (a *api) caseHolds(w http.ResponseWriter, r *http.Request) {
	c := strings.TrimSpace(r.PathValue("case"))
	if !validCase(c) {
		WriteError(w, http.StatusBadRequest, "the case number must be 1 to 256 printable characters")
		return
	}
	a.holdPage(w, r, c)
}

// listHolds answers GET /api/v1/holds[?all=1][&after=&limit=]: the active holds of every case.
func (a *api) listHolds(w http.ResponseWriter, r *http.Request) { a.holdPage(w, r, "") }

func (a *api) holdPage(w http.ResponseWriter, r *http.Request, c string) {
	f := HoldFilter{Case: c}
	var err error
	if f.All, err = boolParam(r, "all"); err != nil {
		Fail(w, r, err)
		return
	}
	if v := r.URL.Query().Get("after"); v != "" {
		if f.After, err = strconv.ParseInt(v, 10, 64); err != nil || f.After < 0 {
			WriteError(w, http.StatusBadRequest, "after must be a hold id (0 or more)")
			return
		}
	}
	if f.Limit, err = intParam(r, "limit", defaultHoldPage, 1, maxHoldPage); err != nil {
		Fail(w, r, err)
		return
	}
	hs, err := a.o.Holds.List(r.Context(), f)
	if err != nil {
		failService(w, r, err)
		return
	}
	page := map[string]any{"holds": nonNil(hs)}
	if c != "" {
		page["case"] = c
	}
	if len(hs) == f.Limit {
		page["next"] = hs[len(hs)-1].ID
	}
	WriteJSON(w, http.StatusOK, page)
}

// validCase accepts what audit.ParseCase accepts as a case number.
func validCase(c string) bool {
	if c == "" || len(c) > 256 || !utf8.ValidString(c) {
		return false
	}
	for _, r := range c {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// boolParam reads an optional flag: 1/true or 0/false.
func boolParam(r *http.Request, name string) (bool, error) {
	switch r.URL.Query().Get(name) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, Errorf(http.StatusBadRequest, "%s must be 1 or 0", name)
}

func nonNil(hs []HoldView) []HoldView {
	if hs == nil {
		return []HoldView{}
	}
	return hs
}
