package web

import (
	"net/http"
	"time"

	"snowlight/audit"
	"snowlight/auth"
)

// Case evidence exports: a signed bundle of what an investigation found, for a court or another
// agency. Asking for one is recorded (case.export) before it starts, with the case, the reason and the
// subject; the bundle itself carries the case's audit entries. Download links live as long as other
// evidence links.

func (a *api) exportRoutes() []Route {
	exporters := roles(auth.Admin, auth.Investigator)
	return []Route{
		{Pattern: "POST /api/v1/cases/{case}/exports", Name: "exports.start", Policy: Policy{Roles: exporters},
			Handler: http.HandlerFunc(a.startExport)},
		{Pattern: "GET /api/v1/cases/{case}/exports", Name: "exports.list", Policy: Policy{Roles: roles(auth.Admin, auth.Investigator, auth.Auditor), Audit: AuditAccess},
			Handler: http.HandlerFunc(a.listExports)},
		{Pattern: "GET /api/v1/cases/{case}/exports/{id}", Name: "exports.get", Policy: Policy{Roles: exporters, Audit: AuditAccess},
			Handler: http.HandlerFunc(a.getExport)},
		// The public key is no secret: whoever holds a bundle may check it against the server's.
		{Pattern: "GET /api/v1/signing-key", Name: "exports.key", Policy: Policy{Public: true}, Handler: http.HandlerFunc(a.signingKey)},
	}
}

// exportBody asks for a bundle of a person's or a sighting's trajectory in a window.
type exportBody struct {
	Reason   string    `json:"reason"`
	PersonID string    `json:"person_id"`
	Sighting string    `json:"sighting"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Cameras  []string  `json:"cameras"`
}

// startExport answers POST /api/v1/cases/{case}/exports with 202 and the export, running.
func (a *api) startExport(w http.ResponseWriter, r *http.Request) {
	if a.o.Exports == nil {
		WriteError(w, http.StatusServiceUnavailable, "evidence export is not available on this server")
		return
	}
	var b exportBody
	if err := DecodeJSON(r, &b); err != nil {
		Fail(w, r, err)
		return
	}
	c, err := audit.ParseCase(r.PathValue("case"), b.Reason)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	subject := ""
	switch {
	case (b.PersonID == "") == (b.Sighting == ""):
		WriteError(w, http.StatusBadRequest, `name whose trajectory to export: "person_id" (a watch-list person) or "sighting" (a sighting of the person), one of them`)
		return
	case b.PersonID != "" && !validID(b.PersonID), b.Sighting != "" && !validID(b.Sighting):
		WriteError(w, http.StatusBadRequest, "not a valid person or sighting id")
		return
	case b.PersonID != "":
		subject = "person/" + b.PersonID
	default:
		subject = "sighting/" + b.Sighting
	}
	if b.From, b.To, err = a.window(b.From, b.To, 24*time.Hour, maxTrajectoryWindow); err != nil {
		Fail(w, r, err)
		return
	}
	p := principal(r)
	cams, err := a.queryCameras(r.Context(), p, b.Cameras)
	if err != nil {
		Fail(w, r, err)
		return
	}
	// Recorded before it starts: an export that cannot be recorded does not happen.
	if _, err := a.o.Audit.Append(r.Context(), audit.Record{Actor: p.User.Name, Role: string(p.User.Role), Action: "case.export",
		Target: subject, Case: c.Number, Reason: c.Reason,
		Details: map[string]string{"from": b.From.Format(time.RFC3339), "to": b.To.Format(time.RFC3339)}}); err != nil {
		Fail(w, r, err)
		return
	}
	v, err := a.o.Exports.Start(r.Context(), ExportRequest{Case: c.Number, Reason: c.Reason, PersonID: b.PersonID, Sighting: b.Sighting,
		From: b.From, To: b.To, Cameras: cams, Actor: p.User.Name, Role: string(p.User.Role)})
	if err != nil {
		failService(w, r, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, v)
}

func (a *api) listExports(w http.ResponseWriter, r *http.Request) {
	if a.o.Exports == nil {
		WriteJSON(w, http.StatusOK, map[string]any{"exports": []ExportView{}})
		return
	}
	c := r.PathValue("case")
	list, err := a.o.Exports.List(r.Context(), c)
	if err != nil {
		failService(w, r, err)
		return
	}
	if list == nil {
		list = []ExportView{}
	}
	for i := range list {
		// The list says what was exported; the bundle is fetched one by one, by those who may.
		list[i].Bundle = Media{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"case": c, "exports": list})
}

// getExport answers GET /api/v1/cases/{case}/exports/{id}: its state, and once done a download link.
func (a *api) getExport(w http.ResponseWriter, r *http.Request) {
	if a.o.Exports == nil {
		WriteError(w, http.StatusNotFound, "no such export")
		return
	}
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	v, err := a.o.Exports.Get(r.Context(), r.PathValue("case"), id)
	if err != nil {
		failService(w, r, err)
		return
	}
	a.link(r.Context(), &v.Bundle)
	WriteJSON(w, http.StatusOK, v)
}

func (a *api) signingKey(w http.ResponseWriter, r *http.Request) {
	if a.o.Exports == nil {
		WriteError(w, http.StatusNotFound, "this server signs no evidence bundles")
		return
	}
	WriteJSON(w, http.StatusOK, a.o.Exports.SigningKey())
}
