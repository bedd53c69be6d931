package detect

import (
	"time"

	"snowlight/watchlist"
)

// Person is one detected person.
type Person struct {
	Box   Box     `json:"box"`
	Score float32 `json:"score"`
	// Appearance is the L2-normalised OSNet embedding of the person's crop, for the tracker and
	// cross-camera association; empty when no re-identification model is loaded, appearance embedding is
	// off, or the camera's AppearanceSchedule did not ask for this person on this frame.
	Appearance []float32 `json:"appearance,omitempty"`
}

// Face is one detected face.
type Face struct {
	Box   Box     `json:"box"`
	Score float32 `json:"score"`
	// Landmarks are right eye (on the image's left), left eye, nose tip, right and left mouth corner, the
	// order of the ArcFace alignment template. Valid only when HasLandmarks is true (the cascade fallback
	// finds boxes only).
	Landmarks    [5]Point `json:"landmarks"`
	HasLandmarks bool     `json:"has_landmarks"`
	// Embedding is the L2-normalised MobileFaceNet vector of the aligned face; empty when recognition is off.
	Embedding []float32 `json:"embedding,omitempty"`
	// Quality rates the face for recognition; set with Embedding.
	Quality Quality `json:"quality"`
	// Match is the watch-list person this face was accepted as, nil when unknown.
	Match *watchlist.Match `json:"match,omitempty"`
	// Nearest is the most similar enrolled person even when it was rejected (below threshold or too close
	// to a second person): evidence for a human, never a name.
	Nearest *watchlist.Match `json:"nearest,omitempty"`
}

// Result is what the pipeline found in one frame.
type Result struct {
	Time time.Time `json:"time"`
	// Skipped is true when the motion gate saw nothing moving and the detectors did not run.
	Skipped bool `json:"skipped"`
	// FullPass is true when the detectors ran on the whole frame (periodic pass, first frame, or motion
	// everywhere) rather than only on moving regions.
	FullPass bool     `json:"full_pass"`
	Regions  []Box    `json:"regions,omitempty"` // moving regions the gate reported
	Persons  []Person `json:"persons"`
	Faces    []Face   `json:"faces"`
	// Appearances is how many persons' appearance (OSNet) was embedded on this frame.
	Appearances int    `json:"appearances"`
	Timing      Timing `json:"timing"`
}

// Timing is the wall time each stage took on this frame.
type Timing struct {
	Gate       time.Duration `json:"gate"`
	Persons    time.Duration `json:"persons"`
	Faces      time.Duration `json:"faces"`
	Embed      time.Duration `json:"embed"`
	Appearance time.Duration `json:"appearance"`
}
