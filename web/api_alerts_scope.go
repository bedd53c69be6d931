package web

import (
	"context"
	"fmt"
	"slices"

	"snowlight/auth"
)

// What a caller sees of an alert depends on their role and scope twice over: whether they see the
// alert at all (canSee), and, inside an alert they see, which cameras' evidence they see
// (seesCamera). An alert names one camera, but its evidence can come from others: the person was
// seen again elsewhere, or the snapshot was taken where the alert began. An operator assigned one
// camera must not learn from the alert where else the person went; that is a trajectory query, which
// takes a case and a reason. Guardians get a projection of their own (guardianAlert).

// alertViewer is what one caller may see of the alerts.
type alertViewer struct {
	p    auth.Principal
	unit string // the patrol unit the caller reports for
	area func(camera string) string
}

func (a *api) viewer(ctx context.Context, p auth.Principal) (alertViewer, error) {
	v := alertViewer{p: p, area: a.o.Cameras.Area}
	if p.User.Role == auth.Patrol {
		units, err := a.o.Patrols.List(ctx)
		if err != nil {
			return v, fmt.Errorf("find the unit of patrol account %s: %w", p.User.Name, err)
		}
		for _, u := range units {
			if u.Account == p.User.Name {
				v.unit = u.ID
				break
			}
		}
	}
	return v, nil
}

func (v alertViewer) scope() AlertScope {
	s := v.p.User.Scope
	switch v.p.User.Role {
	case auth.Admin, auth.Investigator:
		return AlertScope{All: true}
	case auth.Operator:
		return AlertScope{Cameras: slices.Clone(s.Cameras), Areas: slices.Clone(s.Areas)}
	case auth.Guardian:
		return AlertScope{Persons: slices.Clone(s.Persons)}
	case auth.Patrol:
		// A patrol account with no unit sees nothing: an empty unit matches no alert.
		return AlertScope{Unit: v.unit}
	}
	return AlertScope{}
}

// canSee is the handler's own check of every alert it returns, whatever the service filtered.
func (v alertViewer) canSee(al AlertView) bool {
	switch v.p.User.Role {
	case auth.Admin, auth.Investigator:
		return true
	case auth.Operator:
		area := al.Area
		if area == "" && al.Camera != "" {
			area = v.area(al.Camera)
		}
		return v.p.CanSeeCamera(al.Camera, area)
	case auth.Guardian:
		return al.PersonID != "" && v.p.CanSeePerson(al.PersonID)
	case auth.Patrol:
		return v.unit != "" && al.Patrol == v.unit
	}
	return false
}

// seesCamera reports whether the caller, who may see alert al, may see its evidence from camera:
// admins and investigators from every camera, operators from the cameras of their scope, the patrol
// sent to the alert from the alert's own camera (where it is going). An unknown camera ("") is seen
// only by those who see every camera. Guardians see no camera's evidence: guardianAlert gives them
// their person's face and nothing else.
func (v alertViewer) seesCamera(al AlertView, camera string) bool {
	switch v.p.User.Role {
	case auth.Admin, auth.Investigator:
		return true
	case auth.Operator:
		return camera != "" && v.p.CanSeeCamera(camera, v.area(camera))
	case auth.Patrol:
		return camera != "" && camera == al.Camera
	}
	return false
}

// scopeAlert links the alert's pictures and clip, each only if the caller may see the camera that
// captured it; guardians get guardianAlert instead.
func (a *api) scopeAlert(ctx context.Context, v alertViewer, al *AlertView) {
	if v.p.User.Role == auth.Guardian {
		*al = a.guardianAlert(ctx, *al)
		return
	}
	a.linkEvidence(ctx, v, *al, al.Camera, &al.Snapshot, &al.Face, &al.Clip)
}

// linkEvidence links the pictures and the clip of something owner captured, each if the caller may
// see the camera that captured it (the object's own when it names one, else owner), and drops the
// others.
func (a *api) linkEvidence(ctx context.Context, v alertViewer, al AlertView, owner string, snapshot, face *Media, clip *Clip) {
	for _, m := range []*Media{snapshot, face} {
		if v.seesCamera(al, capturedBy(*m, owner)) {
			a.link(ctx, m)
		} else {
			*m = Media{}
		}
	}
	if v.seesCamera(al, capturedBy(clip.Media, owner)) {
		a.linkClip(ctx, clip)
	} else {
		*clip = Clip{State: ClipNone}
	}
}

// capturedBy is the camera of an object: its own when the service named one, else owner's.
func capturedBy(m Media, owner string) string {
	if m.Camera != "" {
		return m.Camera
	}
	return owner
}

// scopeDetail narrows an alert's evidence to the cameras the caller may see and links what is left.
func (a *api) scopeDetail(ctx context.Context, v alertViewer, d *AlertDetail) {
	al := d.AlertView
	a.scopeAlert(ctx, v, &d.AlertView)
	d.Crops = slices.DeleteFunc(d.Crops, func(c FaceCrop) bool { return !v.seesCamera(al, capturedBy(c.Image, c.Camera)) })
	for i := range d.Crops {
		a.link(ctx, &d.Crops[i].Image)
	}
	d.Sightings = a.scopeSightings(ctx, v, al, d.Sightings)
	for i, h := range d.History {
		if h.Camera != "" && !v.seesCamera(al, h.Camera) {
			// What happened and when, not where: the note names the place.
			d.History[i].Note, d.History[i].Camera = "", ""
		}
	}
}

// scopeSightings keeps the sightings of alert al on cameras the caller may see, and links their
// evidence.
func (a *api) scopeSightings(ctx context.Context, v alertViewer, al AlertView, ss []SightingView) []SightingView {
	ss = slices.DeleteFunc(ss, func(s SightingView) bool { return !v.seesCamera(al, s.Camera) })
	for i := range ss {
		s := &ss[i]
		a.linkEvidence(ctx, v, al, s.Camera, &s.Snapshot, &s.Face, &s.Clip)
	}
	return ss
}

// guardianAlert is what a guardian sees of an alert about their person: what happened, its status,
// when, at which camera (by name), and, once staff confirmed that it is their person, the face that
// matched. Not the full frame or the clip (others are in them), not the unit sent or where the
// camera is on the map, not who worked the alert.
func (a *api) guardianAlert(ctx context.Context, al AlertView) AlertView {
	g := AlertView{ID: al.ID, Rule: al.Rule, Severity: al.Severity, Status: al.Status, Title: al.Title,
		Created: al.Created, Updated: al.Updated, CameraName: al.CameraName, PersonID: al.PersonID,
		PersonName: al.PersonName, Category: al.Category, Biometric: al.Biometric}
	if g.CameraName == "" {
		g.CameraName = al.Camera
	}
	if confirmed(al.Status) {
		g.Face = Media{Key: al.Face.Key}
		a.link(ctx, &g.Face)
	}
	return g
}

// confirmed reports whether a person has confirmed the alert's match: until then its face may be a
// stranger's, and after a dismissal it was.
func confirmed(status string) bool {
	switch status {
	case StatusConfirmed, StatusDispatched, StatusAcked, StatusOnScene, StatusResolved:
		return true
	}
	return false
}

// guardianDetail is a guardian's alert: guardianAlert and the steps taken, without who took them or
// their notes.
func (a *api) guardianDetail(ctx context.Context, d AlertDetail) AlertDetail {
	g := AlertDetail{AlertView: a.guardianAlert(ctx, d.AlertView), EnrolmentPhotos: []Media{}, Crops: []FaceCrop{},
		Sightings: []SightingView{}, History: []AlertHistory{}}
	for _, h := range d.History {
		g.History = append(g.History, AlertHistory{Status: h.Status, Action: h.Action, At: h.At})
	}
	return g
}
