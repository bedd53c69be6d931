package tracks

import (
	"fmt"
	"math"
	"slices"
	"time"

	"snowlight/colour"
)

// Sighting is one person's pass through one camera: what the edge tells the center. It is a plain
// value (JSON-serialisable, no pointers into tracker state) so the in-process channel and a message
// bus carry the same thing.
type Sighting struct {
	// ID is unique across cameras and restarts: camera, enter time and the tracker's track id.
	ID      string    `json:"id"`
	Camera  string    `json:"camera"`
	TrackID uint64    `json:"track_id"`
	Enter   time.Time `json:"enter"`
	Exit    time.Time `json:"exit"`
	// Boxes trace the track over time, thinned evenly to at most Config.MaxBoxes.
	Boxes []TimedBox `json:"boxes"`
	// Face and Body are the best views of the face and of the whole person, nil when none.
	Face *Snapshot `json:"face,omitempty"`
	Body *Snapshot `json:"body,omitempty"`
	// FaceEmbedding averages the best faces' embeddings; AppearanceEmbedding averages every
	// appearance embedding of the track. Both L2-normalised, nil when none was seen.
	FaceEmbedding       []float32 `json:"face_embedding,omitempty"`
	AppearanceEmbedding []float32 `json:"appearance_embedding,omitempty"`
	// Colours are the clothing colours of the Body view (zero when unknown): what a search by a
	// witness's description matches.
	Colours  colour.Description `json:"colours,omitzero"`
	Evidence Evidence           `json:"evidence"`
	// Final is false for the interim copies a live track gives out.
	Final bool `json:"final"`
}

// PersonID is the watch-list identity the evidence supports, "" when none.
func (s *Sighting) PersonID() string { return s.Evidence.PersonID }

// TimedBox is the track's box at one moment.
type TimedBox struct {
	Time  time.Time `json:"t"`
	Box   Box       `json:"box"`
	Score float64   `json:"score"`
}

// Snapshot is one chosen view: where and when it was taken and its JPEG bytes (at the edge) or the
// object-store key they were saved under (once stored).
type Snapshot struct {
	Time    time.Time `json:"time"`
	Box     Box       `json:"box"`
	Quality float64   `json:"quality"`
	JPEG    []byte    `json:"jpeg,omitempty"`
	Ref     string    `json:"ref,omitempty"`
}

// SightingID builds the sighting id of a track.
func SightingID(camera string, enter time.Time, track uint64) string {
	return fmt.Sprintf("%s-%d-%d", camera, enter.UnixMilli(), track)
}

// faceKeep is how many of the best faces the sighting's face embedding averages.
const faceKeep = 5

// sightingBuilder gathers a confirmed track's sighting as frames arrive.
type sightingBuilder struct {
	boxes  []TimedBox
	stride int // keep every stride-th box; doubles whenever the buffer fills
	seen   int
	max    int

	face, body *Snapshot
	colours    colour.Description // of body
	faces      []scoredEmbedding  // the best faceKeep faces
	appSum     []float64
	appN       int
}

type scoredEmbedding struct {
	quality float64
	emb     []float32
}

func newSightingBuilder(maxBoxes int) *sightingBuilder {
	return &sightingBuilder{stride: 1, max: maxBoxes}
}

func (b *sightingBuilder) add(t time.Time, box Box, d *Detection, onCropErr func(kind string, err error)) {
	if b.seen%b.stride == 0 {
		b.boxes = append(b.boxes, TimedBox{Time: t, Box: box, Score: d.Score})
		if len(b.boxes) > b.max {
			// Halve the resolution: keep every other box, then keep every 2·stride-th from now.
			kept := b.boxes[:0]
			for i, x := range b.boxes {
				if i%2 == 0 {
					kept = append(kept, x)
				}
			}
			b.boxes = kept
			b.stride *= 2
		}
	}
	b.seen++

	if q := d.quality(); b.body == nil || q > b.body.Quality {
		s := &Snapshot{Time: t, Box: d.Box, Quality: q}
		if d.Crops != nil {
			jpeg, err := d.Crops.BodyJPEG()
			if err != nil {
				onCropErr("body", err)
			}
			s.JPEG = jpeg
			b.colours = d.Crops.BodyColours()
		}
		b.body = s
	}
	if f := d.Face; f != nil {
		q := f.quality()
		if b.face == nil || q > b.face.Quality {
			s := &Snapshot{Time: t, Box: f.Box, Quality: q}
			if d.Crops != nil {
				jpeg, err := d.Crops.FaceJPEG()
				if err != nil {
					onCropErr("face", err)
				}
				s.JPEG = jpeg
			}
			b.face = s
		}
		if len(f.Embedding) > 0 {
			b.addFace(q, f.Embedding)
		}
	}
	if len(d.Appearance) > 0 {
		if b.appSum == nil {
			b.appSum = make([]float64, len(d.Appearance))
		}
		if len(d.Appearance) == len(b.appSum) {
			for i, v := range d.Appearance {
				b.appSum[i] += float64(v)
			}
			b.appN++
		}
	}
}

func (b *sightingBuilder) addFace(q float64, emb []float32) {
	if len(b.faces) > 0 && len(emb) != len(b.faces[0].emb) {
		return
	}
	if len(b.faces) == faceKeep {
		worst := 0
		for i := range b.faces {
			if b.faces[i].quality < b.faces[worst].quality {
				worst = i
			}
		}
		if q <= b.faces[worst].quality {
			return
		}
		b.faces = slices.Delete(b.faces, worst, worst+1)
	}
	b.faces = append(b.faces, scoredEmbedding{q, slices.Clone(emb)})
}

// build returns the sighting so far; it copies everything it hands out.
func (b *sightingBuilder) build(camera string, id uint64, enter, exit time.Time, ev Evidence, final bool) Sighting {
	s := Sighting{
		ID: SightingID(camera, enter, id), Camera: camera, TrackID: id,
		Enter: enter, Exit: exit, Boxes: slices.Clone(b.boxes), Evidence: ev, Final: final,
	}
	if b.face != nil {
		f := *b.face
		s.Face = &f
	}
	if b.body != nil {
		f := *b.body
		s.Body = &f
		s.Colours = b.colours
	}
	if len(b.faces) > 0 {
		sum := make([]float64, len(b.faces[0].emb))
		for _, f := range b.faces {
			for i, v := range f.emb {
				sum[i] += float64(v)
			}
		}
		s.FaceEmbedding = normalise(sum)
	}
	if b.appN > 0 {
		s.AppearanceEmbedding = normalise(b.appSum)
	}
	return s
}

func normalise(v []float64) []float32 {
	var n float64
	for _, x := range v {
		n += x * x
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	if n == 0 {
		return out
	}
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out
}
