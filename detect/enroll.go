package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"snowlight/detect/photo"
	"snowlight/watchlist"
)

// EnrolmentRules say what makes a face in an enrolment photo usable. A watch-list name is only as good as
// the photo behind it, so the bar is higher than for detection in video.
type EnrolmentRules struct {
	MinFace    float32 // minimum face height in pixels
	MinScore   float32 // minimum detector score
	MinQuality float32 // minimum Quality.Value: refuses blurred and turned-away faces
	Limits     photo.Limits
}

// DefaultEnrolmentRules: a face at least 40 pixels tall with a confident detection, of quality at
// least 0.3 (every labelled photo of the evaluation sets reaches 0.44; a face turned half way to
// profile or an upscaled thumbnail does not).
func DefaultEnrolmentRules() EnrolmentRules {
	return EnrolmentRules{MinFace: 40, MinScore: 0.9, MinQuality: 0.3, Limits: photo.DefaultLimits()}
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

// ReadPhotoFile reads an enrolment photo from a file, refusing one larger than maxBytes before reading
// it (the decoder refuses it anyway; a huge file should not be read into memory first).
func ReadPhotoFile(path string, maxBytes int) (PhotoInput, error) {
	st, err := os.Stat(path)
	if err != nil {
		return PhotoInput{}, fmt.Errorf("read photo: %w", err)
	}
	if st.Size() > int64(maxBytes) {
		return PhotoInput{}, fmt.Errorf("photo %s: %d bytes, limit %d", path, st.Size(), maxBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return PhotoInput{}, fmt.Errorf("read photo: %w", err)
	}
	return PhotoInput{Name: path, Data: data}, nil
}

// EmbedPhoto decodes a user's photo safely, requires exactly one usable face in it and returns the
// photo's record (its hash, the face's box and score) and the face's embedding. The error names the
// photo.
func (p *Pipeline) EmbedPhoto(ctx context.Context, in PhotoInput, rules EnrolmentRules) (watchlist.Photo, []float32, error) {
	f, err := p.enrolmentFace(ctx, in, rules)
	if err != nil {
		return watchlist.Photo{}, nil, err
	}
	sum := sha256.Sum256(in.Data)
	face := watchlist.Box{X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H}
	return watchlist.Photo{Source: in.Name, SHA256: hex.EncodeToString(sum[:]), Face: face, Score: f.Score},
		f.Embedding, nil
}

// enrolmentFace finds the one usable face of an enrolment photo.
func (p *Pipeline) enrolmentFace(ctx context.Context, in PhotoInput, rules EnrolmentRules) (Face, error) {
	if !p.Recognition() {
		return Face{}, fmt.Errorf("enrolment photo %s: face recognition is off (no models "+
			"directory): enrolment needs the face models", in.Name)
	}
	h, err := photo.Inspect(in.Data, rules.Limits)
	if err != nil {
		return Face{}, fmt.Errorf("enrolment photo %s: %w", in.Name, err)
	}
	release, err := p.photos.acquire(ctx, photoMemory(h))
	if err != nil {
		return Face{}, fmt.Errorf("enrolment photo %s: waiting for memory to decode it: %w", in.Name, err)
	}
	defer release()
	img, _, err := DecodePhoto(in.Data, rules.Limits)
	if err != nil {
		return Face{}, fmt.Errorf("enrolment photo %s: %w", in.Name, err)
	}
	defer img.Close()
	if err := ctx.Err(); err != nil {
		return Face{}, err
	}
	p.mu.Lock()
	faces, err := p.stillFaces(img)
	p.mu.Unlock()
	if err != nil {
		return Face{}, fmt.Errorf("enrolment photo %s: %w", in.Name, err)
	}
	use := usable(faces, rules)
	switch {
	case len(use) == 0:
		var found []string
		for _, f := range faces {
			found = append(found, fmt.Sprintf("%.0f px, score %.2f, quality %s", f.Box.H, f.Score, f.Quality))
		}
		return Face{}, fmt.Errorf("enrolment photo %s: %w: found %d face(s) [%s], none at least "+
			"%.0f px tall with detector score >= %.2f and quality >= %.2f; use a sharp, frontal photo of the person",
			in.Name, ErrNoUsableFace, len(faces), strings.Join(found, "; "), rules.MinFace, rules.MinScore, rules.MinQuality)
	case len(use) > 1:
		var where []string
		for _, f := range use {
			where = append(where, fmt.Sprintf("[%.0f,%.0f %.0fx%.0f]", f.Box.X, f.Box.Y, f.Box.W, f.Box.H))
		}
		return Face{}, fmt.Errorf("enrolment photo %s: %w: %d usable faces at %s; an "+
			"enrolment photo must show exactly one person (crop it)", in.Name, ErrSeveralFaces, len(use),
			strings.Join(where, " "))
	}
	return use[0], nil
}

// photoMemory is what decoding a photo and searching it takes at its peak: the decoder's (see
// photo.Header) and the BGR picture MatFromImage builds and copies into its Mat.
func photoMemory(h photo.Header) int64 {
	return h.PeakBytes + 6*int64(h.Width)*int64(h.Height)
}

func usable(faces []Face, rules EnrolmentRules) []Face {
	var out []Face
	for _, f := range faces {
		if f.Score >= rules.MinScore && f.Box.H >= rules.MinFace && f.Quality.Value() >= rules.MinQuality && len(f.Embedding) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// Enrol builds a watch-list entry from photos, each of which must hold exactly one usable face. The
// first bad photo fails the whole enrolment, so nobody is enrolled from a photo of someone else. The
// entry has a fresh id, the enrolment time and the embedder's model; the caller adds who enrolled it,
// why and until when before storing it.
func (p *Pipeline) Enrol(ctx context.Context, name string, cat watchlist.Category, photos []PhotoInput, rules EnrolmentRules) (watchlist.Person, error) {
	return p.enrol(ctx, name, cat, photos, rules, nil)
}

// enrol is Enrol; with skip set, a photo that cannot be used is passed to skip and left out instead of
// failing the enrolment, which fails only when no photo is left.
func (p *Pipeline) enrol(ctx context.Context, name string, cat watchlist.Category, photos []PhotoInput, rules EnrolmentRules,
	skip func(PhotoInput, error)) (watchlist.Person, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return watchlist.Person{}, errors.New("enrol: a name is required")
	}
	if !cat.Valid() { // callers parse what users typed with watchlist.ParseCategory
		return watchlist.Person{}, fmt.Errorf("enrol %s: unknown watch-list category %q (want at_risk, missing or suspect)", name, cat)
	}
	if len(photos) == 0 {
		return watchlist.Person{}, fmt.Errorf("enrol %s: at least one photo is required", name)
	}
	person := watchlist.Person{ID: watchlist.NewID(), Name: name, Category: cat, Enrolled: time.Now().UTC(),
		EmbeddingModel: p.faceEmbSHA()}
	for _, ph := range photos {
		rec, emb, err := p.EmbedPhoto(ctx, ph, rules)
		if err != nil && (skip == nil || ctx.Err() != nil) {
			return watchlist.Person{}, fmt.Errorf("enrol %s: %w", name, err)
		}
		if err != nil {
			skip(ph, err)
			continue
		}
		person.Photos = append(person.Photos, rec)
		person.Embeddings = append(person.Embeddings, emb)
	}
	if len(person.Embeddings) == 0 {
		return watchlist.Person{}, fmt.Errorf("enrol %s: none of the %d photos holds a usable face", name, len(photos))
	}
	return person, nil
}

func (p *Pipeline) faceEmbSHA() string {
	if p.faceEmb == nil {
		return ""
	}
	return p.faceEmb.Model().SHA256
}

// EmbeddingModel is the sha256 of the face embedder watch-list entries must have been enrolled with
// ("" when recognition is off).
func (p *Pipeline) EmbeddingModel() string { return p.faceEmbSHA() }
