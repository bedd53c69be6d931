package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// Error is an error with the HTTP status it should produce and a message a person can act on. Handlers
// return it through Fail; any other error becomes a 500 whose details go to the log, not the client.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// WriteJSON writes v as the JSON response body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: could not encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// WriteError writes {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// Fail answers a request with err: an *Error's status and message, or 500 with a generic message (the
// error itself goes to the access log).
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	if he, ok := errors.AsType[*Error](err); ok {
		WriteError(w, he.Status, he.Msg)
		return
	}
	if info := infoFrom(r.Context()); info != nil {
		info.err = err
	}
	WriteError(w, http.StatusInternalServerError, "internal error: the server logged the details; try again or tell an administrator")
}

// DecodeJSON reads one JSON value of the request body into v. It requires Content-Type
// application/json (which a cross-site HTML form cannot send), refuses unknown fields, and maps a
// too-large body to 413.
func DecodeJSON(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, "send the body as JSON with Content-Type: application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		if err == nil {
			return Errorf(http.StatusBadRequest, "the body must hold one JSON value, found more")
		}
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return Errorf(http.StatusRequestEntityTooLarge, "request body too large")
	}
	if errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "the request body is empty: send a JSON object")
	}
	return Errorf(http.StatusBadRequest, "bad JSON body: %v", err)
}
