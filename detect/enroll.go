package detect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"snowlight/detect/photo"
)

// EnrolmentRules say what makes a face in an enrolment photo usable. A watch-list name is only as good as
// the photo behind it, so the bar is higher than for detection in video.
type EnrolmentRules struct {
	MinFace  float32 // minimum face height in pixels
	MinScore float32 // minimum detector score
	Limits   photo.Limits
}

// DefaultEnrolmentRules: a face at least 40 pixels tall with a confident detection.
func DefaultEnrolmentRules() EnrolmentRules {
	return EnrolmentRules{MinFace: 40, MinScore: 0.9, Limits: photo.DefaultLimits()}
}

// ErrNoUsableFace and ErrSeveralFaces are wrapped by EmbedPhoto.
var (
	ErrNoUsableFace = errors.New("no usable face")
	ErrSeveralFaces = errors.New("more than one face")
)

// PhotoInput is one enrolment photo as given by the user.
type PhotoInput struct {
	Name string // shown in errors and kept as the photo's source
	Data []byte
}

// EmbedPhoto decodes a user's photo safely, requires exactly one usable face in it and returns that face
// and its embedding. The error names the photo.
func (p *Pipeline) EmbedPhoto(ctx context.Context, in PhotoInput, rules EnrolmentRules) (EnrolmentPhoto, []float32, error) {
	if !p.Recognition() {
		return EnrolmentPhoto{}, nil, fmt.Errorf("enrolment photo %s: face recognition is off (no models "+
			"directory): enrolment needs the face models", in.Name)
	}
	img, _, err := DecodePhoto(in.Data, rules.Limits)
	if err != nil {
		return EnrolmentPhoto{}, nil, fmt.Errorf("enrolment photo %s: %w", in.Name, err)
	}
	defer img.Close()
	if err := ctx.Err(); err != nil {
		return EnrolmentPhoto{}, nil, err
	}
	p.mu.Lock()
	faces, err := p.stillFaces(img)
	p.mu.Unlock()
	if err != nil {
		return EnrolmentPhoto{}, nil, fmt.Errorf("enrolment photo %s: %w", in.Name, err)
	}
	use := usable(faces, rules)
	switch {
	case len(use) == 0:
		return EnrolmentPhoto{}, nil, fmt.Errorf("enrolment photo %s: %w: found %d face(s), none at least "+
			"%.0f px tall with detector score >= %.2f; use a sharp, frontal photo of the person",
			in.Name, ErrNoUsableFace, len(faces), rules.MinFace, rules.MinScore)
	case len(use) > 1:
		var where []string
		for _, f := range use {
			where = append(where, fmt.Sprintf("[%.0f,%.0f %.0fx%.0f]", f.Box.X, f.Box.Y, f.Box.W, f.Box.H))
		}
		return EnrolmentPhoto{}, nil, fmt.Errorf("enrolment photo %s: %w: %d usable faces at %s; an "+
			"enrolment photo must show exactly one person (crop it)", in.Name, ErrSeveralFaces, len(use),
			strings.Join(where, " "))
	}
	f := use[0]
	sum := sha256.Sum256(in.Data)
	return EnrolmentPhoto{Source: in.Name, SHA256: hex.EncodeToString(sum[:]), Face: f.Box, Score: f.Score},
		f.Embedding, nil
}

func usable(faces []Face, rules EnrolmentRules) []Face {
	var out []Face
	for _, f := range faces {
		if f.Score >= rules.MinScore && f.Box.H >= rules.MinFace && len(f.Embedding) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// Enrol builds a watch-list identity from photos, each of which must hold exactly one usable face. The
// first bad photo fails the whole enrolment, so nobody is enrolled from a photo of someone else.
func (p *Pipeline) Enrol(ctx context.Context, name string, cat Category, photos []PhotoInput, rules EnrolmentRules) (Identity, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Identity{}, errors.New("enrol: a name is required")
	}
	if _, err := ParseCategory(string(cat)); err != nil {
		return Identity{}, fmt.Errorf("enrol %s: %w", name, err)
	}
	if len(photos) == 0 {
		return Identity{}, fmt.Errorf("enrol %s: at least one photo is required", name)
	}
	id := Identity{ID: NewIdentityID(), Name: name, Category: cat, EnrolledAt: time.Now().UTC(),
		EmbeddingModel: p.faceEmbSHA()}
	for _, ph := range photos {
		rec, emb, err := p.EmbedPhoto(ctx, ph, rules)
		if err != nil {
			return Identity{}, fmt.Errorf("enrol %s: %w", name, err)
		}
		id.Photos = append(id.Photos, rec)
		id.Embeddings = append(id.Embeddings, emb)
	}
	return id, nil
}

func (p *Pipeline) faceEmbSHA() string {
	if p.faceEmb == nil {
		return ""
	}
	return p.faceEmb.Model().SHA256
}

// EmbeddingModel is the sha256 of the face embedder identities must have been enrolled with ("" when
// recognition is off).
func (p *Pipeline) EmbeddingModel() string { return p.faceEmbSHA() }

// NewIdentityID returns a fresh random identity id such as "p-3f9a1c0b7d2e".
func NewIdentityID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never happens on Linux
	}
	return "p-" + hex.EncodeToString(b[:])
}
