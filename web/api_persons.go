package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"snowlight/auth"
	"snowlight/watchlist"
)

// Limits of an enrolment.
const (
	maxPhotos      = 10
	maxPhotoBytes  = 10 << 20
	maxZonePoints  = 200
	maxEntryLength = 500
)

func (a *api) personRoutes() []Route {
	keepers := roles(auth.Admin, auth.Operator, auth.Investigator)
	return []Route{
		{Pattern: "GET /api/v1/persons", Name: "persons.list", Policy: Policy{Roles: keepers, Audit: AuditAccess}, Handler: http.HandlerFunc(a.listPersons)},
		{Pattern: "GET /api/v1/persons/{id}", Name: "persons.get", Policy: Policy{Roles: keepers, Audit: AuditAccess}, Handler: http.HandlerFunc(a.getPerson)},
		// Watch-list changes need a case and a reason (recorded before and after the change).
		{Pattern: "POST /api/v1/persons", Name: "persons.enrol", Policy: Policy{Roles: keepers, Audit: AuditCase},
			Handler: http.HandlerFunc(a.enrol), MaxBodyBytes: a.o.MaxEnrolBytes},
		{Pattern: "DELETE /api/v1/persons/{id}", Name: "persons.remove", Policy: Policy{Roles: keepers, Audit: AuditCase},
			Handler: http.HandlerFunc(a.removePerson)},
		{Pattern: "GET /api/v1/persons/{id}/photos/{n}", Name: "persons.photo",
			Policy:  Policy{Roles: roles(auth.Admin, auth.Operator, auth.Investigator, auth.Guardian), Audit: AuditAccess, Scope: PersonInPath("id")},
			Handler: http.HandlerFunc(a.personPhoto)},
	}
}

func photoURL(person string, i int) string {
	return "/api/v1/persons/" + url.PathEscape(person) + "/photos/" + strconv.Itoa(i)
}

func withPhotoURLs(p PersonView) PersonView {
	p.PhotoURLs = nil
	for i := range p.Photos {
		p.PhotoURLs = append(p.PhotoURLs, photoURL(p.ID, i))
	}
	return p
}

func (a *api) listPersons(w http.ResponseWriter, r *http.Request) {
	ps, err := a.o.Watchlist.List(r.Context())
	if err != nil {
		failService(w, r, err)
		return
	}
	out := make([]PersonView, 0, len(ps))
	for _, p := range ps {
		out = append(out, withPhotoURLs(p))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"persons": out})
}

func (a *api) getPerson(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	p, err := a.o.Watchlist.Get(r.Context(), id)
	if err != nil {
		failService(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, withPhotoURLs(p))
}

// enrol answers POST /api/v1/persons, a multipart form: name, category, guardian_contact,
// legal_basis, approved_by, expires (RFC 3339 or YYYY-MM-DD), safe_zone (JSON [{"lat","lon"}, ...])
// and one or more files named photo. 201 with the person and a verdict per photo; 422 with the
// verdicts when no photo had a usable face.
func (a *api) enrol(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		WriteError(w, http.StatusUnsupportedMediaType, "send the enrolment as multipart/form-data with the photos as files named photo")
		return
	}
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the photos are too large together: send at most %d MiB", a.o.MaxEnrolBytes>>20))
			return
		}
		WriteError(w, http.StatusBadRequest, "could not read the form: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	e, err := a.parseEnrolment(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	e.EnrolledBy = principal(r).User.Name
	res, err := a.o.Watchlist.Enrol(r.Context(), e)
	if errors.Is(err, ErrNoUsableFace) {
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":  "nobody was enrolled: none of the photos shows one usable face; see photos for the reason per photo and upload clearer, frontal photos",
			"photos": res.Photos,
		})
		return
	}
	if err != nil {
		failService(w, r, err)
		return
	}
	used := 0
	for _, p := range res.Photos {
		if p.Used {
			used++
		}
	}
	if err := a.record(r, "watchlist.enrol", res.Person.ID, map[string]string{"name": res.Person.Name, "category": string(res.Person.Category),
		"legal_basis": res.Person.LegalBasis, "approved_by": res.Person.ApprovedBy, "expires": res.Person.Expires.UTC().Format(time.RFC3339),
		"photos": fmt.Sprintf("%d of %d used", used, len(res.Photos))}); err != nil {
		Fail(w, r, err)
		return
	}
	res.Person = withPhotoURLs(res.Person)
	WriteJSON(w, http.StatusCreated, res)
}

func (a *api) parseEnrolment(r *http.Request) (Enrolment, error) {
	f := r.MultipartForm
	val := func(k string) string {
		if v := f.Value[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	e := Enrolment{Name: val("name"), GuardianContact: val("guardian_contact"),
		LegalBasis: val("legal_basis"), ApprovedBy: val("approved_by")}
	bad := func(format string, args ...any) (Enrolment, error) {
		return Enrolment{}, Errorf(http.StatusBadRequest, format, args...)
	}
	var catErr error
	e.Category, catErr = watchlist.ParseCategory(val("category"))
	switch {
	case e.Name == "" || len(e.Name) > watchlist.MaxNameLength:
		return bad("give the person's name (1 to %d characters)", watchlist.MaxNameLength)
	case catErr != nil:
		return bad("category must be at_risk, missing or suspect")
	case e.LegalBasis == "" || len(e.LegalBasis) > maxEntryLength:
		return bad("give the legal basis or authorisation reference for this entry (legal_basis)")
	case e.ApprovedBy == "" || len(e.ApprovedBy) > 200:
		return bad("give who approved this entry (approved_by)")
	case len(e.GuardianContact) > maxEntryLength:
		return bad("guardian_contact is too long (at most %d characters)", maxEntryLength)
	}
	exp := val("expires")
	if exp == "" {
		return bad("give an expiry date (expires): entries stop matching when they expire")
	}
	var err error
	if e.Expires, err = time.Parse(time.RFC3339, exp); err != nil {
		if e.Expires, err = time.Parse(time.DateOnly, exp); err != nil {
			return bad("expires must be a date such as 2025-12-31 or an RFC 3339 time")
		}
		e.Expires = e.Expires.Add(24*time.Hour - time.Second) // the end of that day
	}
	if !e.Expires.After(a.o.Now()) {
		return bad("expires must be in the future")
	}
	if z := val("safe_zone"); z != "" {
		if err := json.Unmarshal([]byte(z), &e.SafeZone); err != nil {
			return bad(`safe_zone must be JSON such as [{"lat":52.1,"lon":4.3}, ...]`)
		}
		if len(e.SafeZone) < 3 || len(e.SafeZone) > maxZonePoints {
			return bad("a safe zone needs 3 to %d points, got %d", maxZonePoints, len(e.SafeZone))
		}
		for _, p := range e.SafeZone {
			if !validLatLon(p) {
				return bad("safe_zone point %v is not a valid latitude/longitude", p)
			}
		}
	}
	files := f.File["photo"]
	if len(files) == 0 {
		return bad("add at least one photo of the person's face (files named photo)")
	}
	if len(files) > maxPhotos {
		return bad("at most %d photos at a time", maxPhotos)
	}
	for _, fh := range files {
		if fh.Size > maxPhotoBytes {
			return bad("photo %s is larger than %d MiB", fh.Filename, maxPhotoBytes>>20)
		}
		fd, err := fh.Open()
		if err != nil {
			return Enrolment{}, fmt.Errorf("open uploaded photo: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(fd, maxPhotoBytes+1))
		fd.Close()
		if err != nil {
			return Enrolment{}, fmt.Errorf("read uploaded photo: %w", err)
		}
		ct := http.DetectContentType(data)
		if ct != "image/jpeg" && ct != "image/png" {
			return bad("photo %s is not a JPEG or PNG image", fh.Filename)
		}
		e.Photos = append(e.Photos, PhotoUpload{Name: fh.Filename, ContentType: ct, Data: data})
	}
	return e, nil
}

func (a *api) removePerson(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	if err := a.o.Watchlist.Remove(r.Context(), id); err != nil {
		failService(w, r, err)
		return
	}
	if err := a.record(r, "watchlist.remove", id, nil); err != nil {
		Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) personPhoto(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= 1000 {
		WriteError(w, http.StatusBadRequest, "photo number must be 0 or more")
		return
	}
	ph, err := a.o.Watchlist.Photo(r.Context(), id, n)
	if err != nil {
		failService(w, r, err)
		return
	}
	writePhoto(w, ph)
}

// writePhoto answers with an enrolment photo, typed by its content (anything but an image as bytes).
func writePhoto(w http.ResponseWriter, ph Photo) {
	ct := http.DetectContentType(ph.Data)
	if !strings.HasPrefix(ct, "image/") {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(ph.Data)))
	w.Write(ph.Data)
}
