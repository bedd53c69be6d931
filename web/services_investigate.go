package web

import (
	"context"
	"time"
)

// Search finds sightings by appearance (like an example sighting, or an uploaded picture of a person)
// and by clothing colours (a witness's description), in a time window and within cameras. Every call
// reveals where people were: the route that calls it asks for a case and a reason.
type Search interface {
	Sightings(ctx context.Context, q SearchQuery) ([]SearchHit, error)
}

// SearchQuery is one search. At least one of Example, Crop and Colours is set; Example and Crop
// exclude each other.
type SearchQuery struct {
	// Example is the id of a sighting whose appearance to search by; ErrNotFound when there is none or
	// it is not on one of Cameras, ErrInvalid when it has no appearance to search by.
	Example string
	// Crop is an uploaded picture of one person (JPEG or PNG, the whole person).
	Crop []byte
	// Colours is a witness's description, "red top, dark trousers"; ErrInvalid when it names no
	// colour on a garment.
	Colours  string
	From, To time.Time
	// Cameras limits the search (the caller's scope, narrowed by the request); nil means every camera.
	Cameras []string
	Limit   int
}

// SearchHit is one sighting found, best first.
type SearchHit struct {
	Sighting SightingView `json:"sighting"`
	// Score is the appearance similarity to the example (cosine, -1..1); without an example, the
	// colour score.
	Score float64 `json:"score"`
	// Colour is how well the clothes fit the description (0..1; 1 without one).
	Colour float64 `json:"colour"`
	// Clothes names the colours the sighting's body view shows, for a person to check at a glance.
	Clothes *ClothesView `json:"clothes,omitempty"`
}

// ClothesView is what someone wears, as a witness would say it.
type ClothesView struct {
	Upper string `json:"upper"`
	Lower string `json:"lower"`
}

// DescriptionView is how a witness's description was understood: per part of the body, the colour
// names asked for and whether "dark" was.
type DescriptionView struct {
	Text  string   `json:"text"`
	Upper TermView `json:"upper"`
	Lower TermView `json:"lower"`
}

// TermView is what a description asks of one part of the body.
type TermView struct {
	Names []string `json:"names,omitempty"`
	Dark  bool     `json:"dark,omitempty"`
}

// Exports writes case evidence bundles in the background: a signed zip of the trajectory's pictures
// and clips (bystanders' faces hidden), the trajectory and its map, and the case's audit entries.
type Exports interface {
	// Start records the export and starts writing it; the view's Status is running.
	Start(ctx context.Context, r ExportRequest) (ExportView, error)
	// Get returns one export of the case; ErrNotFound when the case has no such export.
	Get(ctx context.Context, caseNumber, id string) (ExportView, error)
	// List returns the case's exports, newest first.
	List(ctx context.Context, caseNumber string) ([]ExportView, error)
	// SigningKey is the public key bundles are signed with.
	SigningKey() SigningKeyView
}

// ExportRequest asks for a bundle of the trajectory of a watch-list person (PersonID) or of the
// person of one sighting (Sighting) in a window.
type ExportRequest struct {
	Case, Reason       string
	PersonID, Sighting string
	From, To           time.Time
	// Cameras limits what the bundle holds to these cameras (the caller's scope); nil: all.
	Cameras     []string
	Actor, Role string
}

// Export statuses.
const (
	ExportRunning = "running"
	ExportDone    = "done"
	ExportFailed  = "failed"
)

// ExportView is one export.
type ExportView struct {
	ID        string    `json:"id"`
	Case      string    `json:"case"`
	Reason    string    `json:"reason"`
	Subject   string    `json:"subject"` // person/<id> or sighting/<id>
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
	Status    string    `json:"status"`
	Finished  time.Time `json:"finished,omitzero"`
	Error     string    `json:"error,omitempty"`
	// Once done: the evidence files, the bundle's size, the SHA-256 of its signed manifest, the
	// signing key's fingerprint and a short-lived link to download it.
	Files          int    `json:"files,omitempty"`
	Size           int64  `json:"size,omitempty"`
	ManifestSHA256 string `json:"manifest_sha256,omitempty"`
	Fingerprint    string `json:"fingerprint,omitempty"`
	Bundle         Media  `json:"bundle,omitzero"`
}

// SigningKeyView is the server's bundle signing key: what `snowlight case verify --public-key` takes
// and what people compare (the fingerprint, also printed by `snowlight version`).
type SigningKeyView struct {
	Algorithm   string `json:"algorithm"` // Ed25519
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
}
