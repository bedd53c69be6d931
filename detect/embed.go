package detect

import (
	"fmt"
	"image"
	"sync"

	"gocv.io/x/gocv"

	"snowlight/detect/infer"
	"snowlight/models"
)

// Embedder runs an embedding network on one crop at a time (OpenCV 4.6 gives wrong vectors for batches
// larger than one) and returns an L2-normalised vector. Not safe for concurrent use; a mutex keeps calls
// single-flight.
type Embedder struct {
	mu      sync.Mutex
	sess    infer.Session
	model   models.Model
	blob    *blobWriter
	resized gocv.Mat // the crop at the network's input size, reused
}

// NewFaceEmbedder loads and verifies MobileFaceNet from the models directory into the engine (nil:
// OpenCV's).
func NewFaceEmbedder(e infer.Engine, dir string) (*Embedder, error) {
	return newEmbedder(e, dir, models.FaceEmbedder)
}

// NewAppearanceEmbedder loads and verifies OSNet x0.25 (person re-identification) from the models
// directory into the engine (nil: OpenCV's).
func NewAppearanceEmbedder(e infer.Engine, dir string) (*Embedder, error) {
	return newEmbedder(e, dir, models.PersonReID)
}

func newEmbedder(e infer.Engine, dir string, name models.Name) (*Embedder, error) {
	sess, m, err := loadSession(e, dir, name)
	if err != nil {
		return nil, err
	}
	return &Embedder{sess: sess, model: m, blob: newBlobWriter(m.Input), resized: gocv.NewMat()}, nil
}

// Close frees the network.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resized.Close()
	e.blob.Close()
	return e.sess.Close()
}

// Model is the manifest entry of the network; its SHA256 identifies the embedding space, so stored
// embeddings from another model are never compared with these.
func (e *Embedder) Model() models.Model { return e.model }

// Embed resizes the BGR crop to the network input (for faces: pass an aligned 112x112 crop), normalises it
// as the model was trained and returns the unit-length embedding.
func (e *Embedder) Embed(crop gocv.Mat) ([]float32, error) {
	if crop.Empty() || crop.Channels() != 3 {
		return nil, fmt.Errorf("embed %s: need a non-empty 3-channel BGR crop, got %dx%d with %d channels",
			e.model.Name, crop.Cols(), crop.Rows(), crop.Channels())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w, h := e.model.Input.Width, e.model.Input.Height
	if crop.Cols() != w || crop.Rows() != h {
		gocv.Resize(crop, &e.resized, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
		crop = e.resized
	}
	in, err := e.sess.Input(1, 3, h, w)
	if err != nil {
		return nil, fmt.Errorf("embed %s: %w", e.model.Name, err)
	}
	if err := e.blob.write(in, crop); err != nil {
		return nil, fmt.Errorf("embed %s: %w", e.model.Name, err)
	}
	outs, err := e.sess.Run()
	if err != nil {
		return nil, fmt.Errorf("embed %s: %w", e.model.Name, err)
	}
	return l2normalize(append([]float32(nil), outs[0]...)), nil
}

// EmbedFace aligns the face in img by its landmarks and embeds it.
func (e *Embedder) EmbedFace(img gocv.Mat, f Face) ([]float32, error) {
	aligned, err := alignFace(img, f)
	if err != nil {
		return nil, err
	}
	defer aligned.Close()
	return e.Embed(aligned)
}

// alignFace is AlignFace for a detected face, refusing one without landmarks.
func alignFace(img gocv.Mat, f Face) (gocv.Mat, error) {
	if !f.HasLandmarks {
		return gocv.Mat{}, fmt.Errorf("embed face at %v: no landmarks to align by", f.Box)
	}
	return AlignFace(img, f.Landmarks)
}

// EmbedPerson embeds the appearance of the person inside box (clipped to the image).
func (e *Embedder) EmbedPerson(img gocv.Mat, box Box) ([]float32, error) {
	r := box.Clip(img.Cols(), img.Rows()).Rect().Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if r.Dx() < 4 || r.Dy() < 4 {
		return nil, fmt.Errorf("embed person at %v: box too small inside the %dx%d image", box, img.Cols(), img.Rows())
	}
	crop := img.Region(r)
	defer crop.Close()
	return e.Embed(crop)
}
