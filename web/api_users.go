package web

import (
	"errors"
	"net/http"
	"strconv"

	"snowlight/auth"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.auth.Users(r.Context())
	if err != nil {
		Fail(w, r, err)
		return
	}
	if us == nil {
		us = []auth.User{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"users": us})
}

type createUserRequest struct {
	Name string    `json:"name"`
	Role auth.Role `json:"role"`
	// Password may be empty: the server then generates one and returns it, once.
	Password string     `json:"password"`
	Scope    auth.Scope `json:"scope"`
}

type createUserResponse struct {
	User     auth.User `json:"user"`
	Password string    `json:"password,omitempty"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := DecodeJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	var resp createUserResponse
	if req.Password == "" {
		pw, err := auth.RandomPassword()
		if err != nil {
			Fail(w, r, err)
			return
		}
		req.Password, resp.Password = pw, pw
	}
	u, err := s.auth.AddUser(r.Context(), auth.NewUser{Name: req.Name, Role: req.Role, Password: req.Password, Scope: req.Scope})
	switch {
	case errors.Is(err, auth.ErrExists):
		WriteError(w, http.StatusConflict, "a user with that name already exists: choose another name")
		return
	case errors.Is(err, auth.ErrInvalid):
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		Fail(w, r, err)
		return
	}
	if err := s.record(r, "user.create", u.Name, map[string]string{"role": string(u.Role), "scope": scopeString(u.Scope)}); err != nil {
		Fail(w, r, err)
		return
	}
	resp.User = u
	WriteJSON(w, http.StatusCreated, resp)
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		WriteError(w, http.StatusBadRequest, "user id must be a positive number")
		return
	}
	if id == p.User.ID {
		WriteError(w, http.StatusBadRequest, "you cannot disable your own account: ask another administrator")
		return
	}
	u, err := s.auth.User(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		WriteError(w, http.StatusNotFound, "no user with that id")
		return
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	if err := s.auth.SetDisabled(r.Context(), id, true); err != nil {
		Fail(w, r, err)
		return
	}
	s.ended.notify()
	if err := s.record(r, "user.disable", u.Name, nil); err != nil {
		Fail(w, r, err)
		return
	}
	u.Disabled = true
	WriteJSON(w, http.StatusOK, map[string]any{"user": u})
}

func scopeString(sc auth.Scope) string {
	s := ""
	add := func(k string, v []string) {
		for _, x := range v {
			if s != "" {
				s += " "
			}
			s += k + ":" + x
		}
	}
	add("camera", sc.Cameras)
	add("area", sc.Areas)
	add("person", sc.Persons)
	return s
}
