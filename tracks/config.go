package tracks

import (
	"fmt"
	"log/slog"
	"time"
)

// Config tunes a Tracker. DefaultConfig gives ByteTrack's published settings expressed in wall time.
type Config struct {
	// Camera names the camera in the sightings.
	Camera string

	// HighScore splits detections: at or above it they take part in the first association and may
	// start tracks; between LowScore and HighScore they may only continue tracks (ByteTrack's
	// second association), and below LowScore they are ignored.
	HighScore, LowScore float64
	// NewTrackScore is the least score of a detection that starts a track.
	NewTrackScore float64
	// Association gates, as the least IoU a pair needs: first association (high detections with
	// confirmed and lost tracks), second (low detections with tracks still unmatched), tentative
	// (new tracks with the high detections left over).
	MatchIoU, LowMatchIoU, TentativeMatchIoU float64
	// RecoverBuffer enables a last association of lost tracks with the confident detections left,
	// on boxes widened by this fraction of their size on every side (Cascaded Buffered IoU), against
	// both the prediction and the last observed box; RecoverIoU gates it. 0 disables it.
	RecoverBuffer, RecoverIoU float64
	// GateSigma widens both boxes of every pair, before their IoU is taken, by this many standard
	// deviations of the track's velocity times the reference intervals by which the step since the
	// previous update exceeds one: a young track is
	// unsure of its person's speed, which matters at low detection rates and is negligible at full
	// frame rate.
	GateSigma float64
	// FuseScore weighs the first association's IoU by the detection score, as ByteTrack does.
	FuseScore bool

	// ConfirmHits is how many consecutive matches confirm a tentative track.
	ConfirmHits int
	// TentativeMaxAge is how long a tentative track survives without a match (0: the first miss
	// removes it); LostMaxAge is how long a confirmed track may stay unseen before it ends.
	TentativeMaxAge, LostMaxAge time.Duration
	// FrameInterval is the reference interval of the motion model: velocities are per interval and
	// the process noise is calibrated for one. Predictions over longer gaps scale with wall time.
	FrameInterval time.Duration

	// Appearance adds BoT-SORT's appearance cost to the first association when tracks and detections
	// carry appearance embeddings: a pair's cost is the lesser of its IoU distance and half its cosine
	// distance, the latter counting only when below AppearanceMaxDist and the boxes overlap by at least
	// AppearanceMinIoU.
	Appearance        bool
	AppearanceMaxDist float64
	AppearanceMinIoU  float64
	// AppearanceMomentum smooths a track's appearance embedding (the weight of the old one).
	AppearanceMomentum float64
	// MinAppearance, when above zero, keeps a detection whose appearance embedding's cosine with the
	// track's is below it from continuing the track, in every association: a face tracker's guard
	// against carrying one person's track onto another's face at a shot cut or where two cross. A
	// track or detection without an embedding is not held to it.
	MinAppearance float64

	Identity IdentityConfig
	// MaxBoxes bounds the boxes a sighting keeps.
	MaxBoxes int
	// Logger receives crop-encoding failures; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns ByteTrack's MOT17 settings (track_thresh 0.5, a 30-frame buffer at 30 fps)
// in wall time, with one change measured on TUD-Stadtmitte (docs/ACCURACY.md): the first association
// asks for IoU 0.5 rather than 0.2, which keeps identities through crossings. The score thresholds
// belong to the detector: set them for the one in use. The lost-track recovery pass (RecoverBuffer)
// is off: it helps when the high-score band holds only clear views and hurts when it does not.
func DefaultConfig() Config {
	return Config{
		HighScore: 0.5, LowScore: 0.1, NewTrackScore: 0.6,
		MatchIoU: 0.5, LowMatchIoU: 0.5, TentativeMatchIoU: 0.3,
		RecoverBuffer: 0, RecoverIoU: 0.2, GateSigma: 1,
		FuseScore:   true,
		ConfirmHits: 2, TentativeMaxAge: 0, LostMaxAge: time.Second,
		FrameInterval:     time.Second / 30,
		AppearanceMaxDist: 0.25, AppearanceMinIoU: 0.5, AppearanceMomentum: 0.9,
		Identity: DefaultIdentityConfig(),
		MaxBoxes: 256,
	}
}

func (c Config) validate() error {
	between := func(name string, v float64) error {
		if v < 0 || v > 1 {
			return fmt.Errorf("tracker: %s %v outside [0,1]", name, v)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"MatchIoU", c.MatchIoU}, {"LowMatchIoU", c.LowMatchIoU}, {"TentativeMatchIoU", c.TentativeMatchIoU},
		{"AppearanceMinIoU", c.AppearanceMinIoU}, {"RecoverIoU", c.RecoverIoU}, {"AppearanceMomentum", c.AppearanceMomentum},
		{"MinAppearance", c.MinAppearance},
	} {
		if err := between(f.name, f.v); err != nil {
			return err
		}
	}
	switch {
	case c.RecoverBuffer < 0 || c.GateSigma < 0:
		return fmt.Errorf("tracker: negative box buffer")
	case c.LowScore > c.HighScore:
		return fmt.Errorf("tracker: LowScore %v above HighScore %v", c.LowScore, c.HighScore)
	case c.ConfirmHits < 1:
		return fmt.Errorf("tracker: ConfirmHits %d < 1", c.ConfirmHits)
	case c.TentativeMaxAge < 0 || c.LostMaxAge < 0:
		return fmt.Errorf("tracker: negative track age")
	case c.FrameInterval <= 0:
		return fmt.Errorf("tracker: FrameInterval %v must be positive", c.FrameInterval)
	case c.MaxBoxes < 2:
		return fmt.Errorf("tracker: MaxBoxes %d < 2", c.MaxBoxes)
	}
	return c.Identity.validate()
}
