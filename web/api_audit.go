package web

import (
	"net/http"
	"strconv"
	"time"

	"snowlight/audit"
)

type auditPage struct {
	Entries []audit.Entry `json:"entries"`
	// Next is the "after" value for the following page; 0 when this page is the last.
	Next int64 `json:"next,omitempty"`
}

// readAudit answers GET /api/v1/audit?after=&limit=&actor=&action=&case=&from=&to= (times RFC 3339).
func (s *Server) readAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Case: q.Get("case")}
	var err error
	if v := q.Get("after"); v != "" {
		if f.After, err = strconv.ParseInt(v, 10, 64); err != nil || f.After < 0 {
			WriteError(w, http.StatusBadRequest, "after must be an entry id (0 or more)")
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > audit.MaxPage {
			WriteError(w, http.StatusBadRequest, "limit must be between 1 and "+strconv.Itoa(audit.MaxPage))
			return
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				WriteError(w, http.StatusBadRequest, t.name+" must be an RFC 3339 time such as 2025-01-31T08:00:00Z")
				return
			}
		}
	}
	es, err := s.audit.List(r.Context(), f)
	if err != nil {
		Fail(w, r, err)
		return
	}
	page := auditPage{Entries: es}
	if page.Entries == nil {
		page.Entries = []audit.Entry{}
	}
	limit := f.Limit
	if limit == 0 {
		limit = audit.DefaultPage
	}
	if len(es) == limit {
		page.Next = es[len(es)-1].ID
	}
	WriteJSON(w, http.StatusOK, page)
}

// verifyAudit answers GET /api/v1/audit/verify[?anchor=ID:HASH] with the chain's verification report.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	var anchor audit.Head
	if v := r.URL.Query().Get("anchor"); v != "" {
		var err error
		if anchor, err = audit.ParseHead(v); err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	rep, err := s.audit.Verify(r.Context(), anchor)
	if err != nil {
		Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, struct {
		OK bool `json:"ok"`
		audit.Report
	}{rep.OK(), rep})
}
