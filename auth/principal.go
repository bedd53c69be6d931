package auth

import (
	"context"
	"slices"
)

// Principal is the authenticated caller of a request: the user and how they proved it.
type Principal struct {
	User User
	Kind CredentialKind
	// credential is the stored hash of the session or token used, so Logout can end exactly that one.
	credential string
}

type principalKey struct{}

// NewContext returns ctx carrying p. The web server calls it after authentication; handlers read it back
// with FromContext.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of the request, if it was authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// CanSeeCamera reports whether the principal may see a camera's video, detections and alerts. Admins and
// investigators see every camera; operators those in their scope (by id, by the camera's area, or all
// with "*"); patrols, guardians and auditors see cameras only through what is dispatched or shown to
// them, which the handler decides.
func (p Principal) CanSeeCamera(camera, area string) bool {
	switch p.User.Role {
	case Admin, Investigator:
		return true
	case Operator:
		s := p.User.Scope
		return slices.Contains(s.Cameras, AllCameras) || slices.Contains(s.Cameras, camera) ||
			area != "" && slices.Contains(s.Areas, area)
	}
	return false
}

// CanSeePerson reports whether the principal may see a watch-list person's alerts and whereabouts.
// Guardians see only the persons they guard; patrols see persons through their dispatches, which the
// handler decides; auditors see none.
func (p Principal) CanSeePerson(person string) bool {
	switch p.User.Role {
	case Admin, Investigator, Operator:
		return true
	case Guardian:
		return slices.Contains(p.User.Scope.Persons, person)
	}
	return false
}
