package retention

import (
	"fmt"
	"time"
)

// Policy says how long each kind of data is kept. Zero fields take the defaults.
type Policy struct {
	// Unlisted keeps sightings (and their face and body snapshots) of people on no active watch-list
	// entry this long after they left the camera [72h].
	Unlisted time.Duration
	// Alerts keeps a final (resolved or dismissed) alert, its events, evidence objects and the
	// sightings it names this long after its last change [90 days]. Open alerts are kept.
	Alerts time.Duration
	// Listed keeps sightings of people on an active watch-list entry that no alert names [Alerts].
	Listed time.Duration
	// ExpiredGrace keeps an expired watch-list entry's embeddings and photos this long after expiry,
	// so a renewal needs no new enrolment [7 days]. The entry itself (who, legal basis, approver,
	// expiry) stays as the record that it existed.
	ExpiredGrace time.Duration
	// LiveTrajectory protects a trajectory's first sighting while the trajectory gained a sighting
	// this recently: its id names the trajectory, and the stitcher's decisions name it until the
	// stitcher forgets the trajectory's last sighting. It must exceed the stitcher's memory (its
	// longest transit window times its hops, plus the revision time) [24h].
	LiveTrajectory time.Duration
	// Notifications keeps delivered or abandoned notifications (alert notices) [Alerts].
	Notifications time.Duration
}

// Defaults.
const (
	DefaultUnlisted       = 72 * time.Hour
	DefaultAlerts         = 90 * 24 * time.Hour
	DefaultExpiredGrace   = 7 * 24 * time.Hour
	DefaultLiveTrajectory = 24 * time.Hour
)

// withDefaults fills zero fields and checks the rest.
func (p Policy) withDefaults() (Policy, error) {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&p.Unlisted, DefaultUnlisted)
	set(&p.Alerts, DefaultAlerts)
	set(&p.Listed, p.Alerts)
	set(&p.ExpiredGrace, DefaultExpiredGrace)
	set(&p.LiveTrajectory, DefaultLiveTrajectory)
	set(&p.Notifications, p.Alerts)
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"unlisted", p.Unlisted}, {"alerts", p.Alerts}, {"listed", p.Listed}, {"expired grace", p.ExpiredGrace},
		{"live trajectory", p.LiveTrajectory}, {"notifications", p.Notifications}} {
		if f.d < 0 {
			return p, fmt.Errorf("%w: retention period %s is negative (%v)", ErrInvalid, f.name, f.d)
		}
	}
	return p, nil
}

// cutoffs turns the periods into instants at now.
type cutoffs struct {
	now, unlisted, listed, alerts, grace, live, notifications time.Time
}

func (p Policy) at(now time.Time) cutoffs {
	return cutoffs{now: now, unlisted: now.Add(-p.Unlisted), listed: now.Add(-p.Listed), alerts: now.Add(-p.Alerts),
		grace: now.Add(-p.ExpiredGrace), live: now.Add(-p.LiveTrajectory), notifications: now.Add(-p.Notifications)}
}
