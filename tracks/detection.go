package tracks

import "snowlight/colour"

// Detection is one person found in one frame, the tracker's input. Only Box and Score are required.
// The perception stage fills the rest when it ran the face and appearance models on this person.
type Detection struct {
	Box   Box
	Score float64
	// Face is the person's face when one was found inside the box.
	Face *Face
	// Appearance is the person's whole-body re-identification embedding (OSNet), L2-normalised.
	Appearance []float32
	// Crops, when set, encodes JPEG crops of this detection from its frame. The tracker calls it only
	// during Update and only when this detection is the best view of its track so far, so the caller
	// pays for encoding a handful of times per track rather than every frame.
	Crops CropSource
}

// Face is a face found inside a person detection.
type Face struct {
	Box   Box
	Score float64 // detector confidence
	// Quality rates the face for recognition, in (0, 1] (larger, sharper, more frontal is higher): the
	// weight of its frame in the identity evidence and how views of the face are ranked. Zero when the
	// perception stage did not rate it: the frame then counts fully, and views rank by Score times
	// the face's size.
	Quality float64
	// Embedding is the face recognition embedding, L2-normalised; nil when none was computed.
	Embedding []float32
	// Matches are the watch-list candidates for this face, best first.
	Matches []FaceMatch
}

// FaceMatch is one watch-list candidate for a face.
type FaceMatch struct {
	PersonID   string  `json:"person_id"`
	Similarity float64 `json:"similarity"` // cosine similarity of the embeddings
	// Threshold is the similarity at which the person's watch list accepts a match, and Margin how far
	// ahead of every other person the person must be.
	Threshold float64 `json:"threshold"`
	Margin    float64 `json:"margin,omitempty"`
}

// CropSource encodes crops of a detection's frame; see Detection.Crops.
type CropSource interface {
	FaceJPEG() ([]byte, error)
	BodyJPEG() ([]byte, error)
	// BodyColours names the clothing colours of the person's box, from the frame's pixels before any
	// JPEG loss; the zero Description when it cannot tell.
	BodyColours() colour.Description
}

// quality ranks full-body views: a confident, large detection is the most useful snapshot.
func (d *Detection) quality() float64 { return d.Score * sqrtArea(d.Box) }

// weight is the face's weight in the identity evidence.
func (f *Face) weight() float64 {
	if f.Quality > 0 {
		return min(f.Quality, 1)
	}
	return 1
}

func (f *Face) quality() float64 {
	if f.Quality > 0 {
		return f.Quality
	}
	return f.Score * sqrtArea(f.Box)
}
