package tracks

import (
	"context"
	"time"
)

// Link says that one sighting continues the trajectory of an earlier one, and how sure the stitcher
// was.
type Link struct {
	From string `json:"from"` // the earlier sighting
	To   string `json:"to"`   // the sighting that continues it
	// Score is the log-odds that both sightings show the same person; Confidence is the same as a
	// probability.
	Score      float64   `json:"score"`
	Confidence float64   `json:"confidence"`
	Evidence   LinkParts `json:"evidence"`
	Decided    time.Time `json:"decided"`
}

// LinkParts breaks a link's score into its evidence, each a log-likelihood ratio, with the raw
// measurements a human can check.
type LinkParts struct {
	Prior      float64 `json:"prior"`
	Transit    float64 `json:"transit"`
	Face       float64 `json:"face"`
	Appearance float64 `json:"appearance"`
	Identity   float64 `json:"identity"`

	TransitSeconds float64 `json:"transit_seconds"`
	// Hops is the number of topology edges the transit spans (2 or more: cameras passed unseen).
	Hops int `json:"hops,omitempty"`
	// Similarities are NaN-free: HasFace/HasAppearance say whether they were measured.
	FaceSimilarity       float64 `json:"face_similarity,omitempty"`
	HasFace              bool    `json:"has_face"`
	AppearanceSimilarity float64 `json:"appearance_similarity,omitempty"`
	HasAppearance        bool    `json:"has_appearance"`
}

// Decision is the stitcher's current view of one sighting: the trajectory it belongs to and the link
// that brought it there. A later sighting can revise an earlier decision (a better continuation was
// found, or a trajectory was re-rooted); the latest decision for a sighting replaces the previous.
type Decision struct {
	Sighting string `json:"sighting"`
	// Trajectory is the global person id: the id of the trajectory's first sighting.
	Trajectory string `json:"trajectory"`
	// Link is the link from the previous sighting of the trajectory, nil for its first sighting.
	Link *Link `json:"link,omitempty"`
	// Revised is true when this replaces an earlier decision for the same sighting.
	Revised bool `json:"revised"`
}

// Step is one sighting as the trajectory queries return it: where, when, who, and how it was
// linked to the step before.
type Step struct {
	Sighting   string    `json:"sighting"`
	Trajectory string    `json:"trajectory"`
	Camera     string    `json:"camera"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	HasPos     bool      `json:"has_position"`
	Enter      time.Time `json:"enter"`
	Exit       time.Time `json:"exit"`
	PersonID   string    `json:"person_id,omitempty"`
	// Box is the person's box in the best full-body view.
	Box     Box    `json:"box"`
	FaceRef string `json:"face_ref,omitempty"`
	BodyRef string `json:"body_ref,omitempty"`
	// Link joins this step to the previous one of its trajectory (nil for a trajectory's first).
	Link *Link `json:"link,omitempty"`
}

// Trajectory is one person's path through the camera network: their sightings in time order, each
// with the link that joined it to the one before.
type Trajectory struct {
	// ID is the global person id: the id of the first sighting.
	ID string `json:"id"`
	// PersonID is the watch-list identity most of the identified steps carry, "" when none is.
	PersonID string `json:"person_id,omitempty"`
	Steps    []Step `json:"steps"`
}

// MajorityPerson returns the identity most steps carry ("" when none), ties to the earliest.
func MajorityPerson(steps []Step) string {
	count := map[string]int{}
	best, n := "", 0
	for _, s := range steps {
		if s.PersonID == "" {
			continue
		}
		count[s.PersonID]++
		if c := count[s.PersonID]; c > n {
			best, n = s.PersonID, c
		}
	}
	return best
}

// Archive keeps sightings and their links and answers the investigator's questions. The store
// package implements it on SQLite; results are ordered by enter time.
type Archive interface {
	// SaveSighting stores a sighting; saving the same id again replaces it (interim sightings are
	// followed by the final one). Snapshot bytes are not stored here: save them to the object store
	// and set the snapshots' Ref first.
	SaveSighting(ctx context.Context, s Sighting) error
	// ApplyDecisions records the stitcher's decisions in order.
	ApplyDecisions(ctx context.Context, ds []Decision) error
	// PersonTrajectory returns the trajectories in which the watch-list person was identified,
	// with their steps between from and to.
	PersonTrajectory(ctx context.Context, personID string, from, to time.Time) ([]Trajectory, error)
	// Follow starts from one sighting and follows its links backward and forward, within from..to.
	Follow(ctx context.Context, sightingID string, from, to time.Time) (Trajectory, error)
	// AtCamera returns what one camera saw between from and to, at most limit steps.
	AtCamera(ctx context.Context, camera string, from, to time.Time, limit int) ([]Step, error)
}
