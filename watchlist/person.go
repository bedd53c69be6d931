package watchlist

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"snowlight/geo"
	"time"
)

// Person is one entry of the watch list: who is searched for and in which category, the enrolment
// evidence their face is matched against, and what the law and the alert rules need to know.
type Person struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category Category `json:"category"`
	// Threshold, when above zero, replaces the category's similarity threshold for this person (a
	// person whose photos are poor may need a stricter one).
	Threshold float32 `json:"threshold,omitempty"`

	// Photos are the enrolment photos; when there are any, Embeddings[i] was computed from Photos[i].
	Photos     []Photo     `json:"photos,omitempty"`
	Embeddings [][]float32 `json:"embeddings,omitempty"`
	// EmbeddingModel is the sha256 of the face embedder that produced Embeddings: vectors of another
	// model live in another space and must never be compared.
	EmbeddingModel string `json:"embedding_model"`

	Enrolled   time.Time `json:"enrolled"`
	EnrolledBy string    `json:"enrolled_by,omitempty"`
	// LegalBasis and ApprovedBy say why and on whose authority this person may be searched for;
	// Expires is when the entry stops matching (zero: never).
	LegalBasis string    `json:"legal_basis,omitempty"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	Expires    time.Time `json:"expires,omitzero"`

	// GuardianContact says whom to call about an at-risk or missing person (free text: names and
	// numbers). SafeZone is the area (a polygon of at least 3 points) an at-risk person should stay
	// inside; empty when they have none.
	GuardianContact string       `json:"guardian_contact,omitempty"`
	SafeZone        []geo.LatLon `json:"safe_zone,omitempty"`
	// Negatives are embeddings of faces a human judged not to be this person (a dismissed alert): a
	// face must resemble the enrolment more than it resembles any of them to be matched to the person.
	Negatives [][]float32 `json:"negatives,omitempty"`
	// Confirmed are embeddings of faces operators confirmed as this person (a confirmed alert): where
	// the category learns from confirmations (Policy.LearnFromConfirmations) they join the enrolment
	// in the person's template, bringing the cameras' view of the person into it.
	Confirmed [][]float32 `json:"confirmed,omitempty"`
}

// Photo records one enrolment photo: where it came from, its hash, and where the face used was.
type Photo struct {
	Source string  `json:"source"` // the file name or path it was given as
	SHA256 string  `json:"sha256"` // of the image bytes
	Face   Box     `json:"face"`   // in the photo's pixels, after EXIF orientation
	Score  float32 `json:"score"`  // the face detector's confidence
	// Ref is where the image is kept when the Store does not hold its bytes itself: an object-store
	// key. Empty when the Store keeps the bytes with the entry (Store.Photo returns them).
	Ref string `json:"ref,omitempty"`
}

// Box is a rectangle in image pixels: top-left corner, width and height.
type Box struct {
	X float32 `json:"x"`
	Y float32 `json:"y"`
	W float32 `json:"w"`
	H float32 `json:"h"`
}

// Expired reports whether the entry has expired at t.
func (p *Person) Expired(t time.Time) bool { return !p.Expires.IsZero() && !t.Before(p.Expires) }

// idPattern keeps ids safe in URLs, object keys, file names and logs.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// MaxNameLength bounds a person's name.
const MaxNameLength = 200

// Validate checks an entry before it is stored: an id, a name and a valid category; at least one
// embedding, all of one length and finite, one per photo when there are photos; a threshold in
// [0, 1]; the enrolment time; a safe zone of at least 3 valid points when there is one. Legal
// requirements (basis, approval, expiry) are the enrolling side's to enforce: see Policy.CheckEntry.
func (p *Person) Validate() error {
	switch {
	case !idPattern.MatchString(p.ID):
		return fmt.Errorf("watch-list entry: id %q must be 1 to 64 letters, digits, '_', '.' or '-'", p.ID)
	case p.Name == "" || len(p.Name) > MaxNameLength:
		return fmt.Errorf("watch-list entry %s: a name of 1 to %d bytes is required", p.ID, MaxNameLength)
	case !p.Category.Valid():
		return fmt.Errorf("watch-list entry %s: unknown category %q", p.ID, p.Category)
	case !(p.Threshold >= 0 && p.Threshold <= 1):
		return fmt.Errorf("watch-list entry %s: threshold %v outside [0, 1]", p.ID, p.Threshold)
	case len(p.Embeddings) == 0:
		return fmt.Errorf("watch-list entry %s: no embeddings", p.ID)
	case len(p.Photos) > 0 && len(p.Photos) != len(p.Embeddings):
		return fmt.Errorf("watch-list entry %s: %d photos for %d embeddings", p.ID, len(p.Photos), len(p.Embeddings))
	case p.Enrolled.IsZero():
		return fmt.Errorf("watch-list entry %s: the enrolment time is required", p.ID)
	case len(p.SafeZone) > 0 && len(p.SafeZone) < 3:
		return fmt.Errorf("watch-list entry %s: a safe zone needs at least 3 points, got %d", p.ID, len(p.SafeZone))
	}
	for i, e := range p.Embeddings {
		if len(e) == 0 || len(e) != len(p.Embeddings[0]) {
			return fmt.Errorf("watch-list entry %s: embedding %d has %d values, the first %d", p.ID, i, len(e), len(p.Embeddings[0]))
		}
		for _, x := range e {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("watch-list entry %s: embedding %d is not finite", p.ID, i)
			}
		}
	}
	for i, ph := range p.Photos {
		if ph.Face.W < 0 || ph.Face.H < 0 {
			return fmt.Errorf("watch-list entry %s: photo %d has a negative face box", p.ID, i)
		}
	}
	for _, pt := range p.SafeZone {
		if !(math.Abs(pt.Lat) <= 90 && math.Abs(pt.Lon) <= 180) {
			return fmt.Errorf("watch-list entry %s: safe zone point %v,%v is not a latitude/longitude", p.ID, pt.Lat, pt.Lon)
		}
	}
	return nil
}

// NewID returns a fresh random person id such as "p-3f9a1c0b7d2e".
func NewID() string {
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error since Go 1.24)
	return "p-" + hex.EncodeToString(b[:])
}

// ErrNotFound is wrapped when an id is not on the watch list (or a photo index is not one of the entry's).
var ErrNotFound = errors.New("no such person on the watch list")

// ErrExists is wrapped when a new entry's id is already taken.
var ErrExists = errors.New("id already on the watch list")
