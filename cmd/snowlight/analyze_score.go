package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"snowlight/tracks/facescore"
)

// truthScorer scores analyze's names against labelled face tracks (--truth, --truth-identities): the
// command that reproduces the figures in docs/ACCURACY.md.
type truthScorer struct {
	truth  facescore.Truth
	people []string
	faces  []facescore.Face
}

// truthFPS is the frame rate the track files' times are converted with; tbbt.mp4 is 25 fps.
const truthFPS = 25

func newTruthScorer(tracksPath, identitiesPath string, people []string) (*truthScorer, error) {
	tf, err := os.Open(tracksPath)
	if err != nil {
		return nil, fmt.Errorf("--truth: %w", err)
	}
	defer tf.Close()
	faces, err := facescore.ReadTracks(tf, truthFPS)
	if err != nil {
		return nil, fmt.Errorf("--truth %s: %w", tracksPath, err)
	}
	idf, err := os.Open(identitiesPath)
	if err != nil {
		return nil, fmt.Errorf("--truth-identities: %w", err)
	}
	defer idf.Close()
	ids, err := facescore.ReadIdentities(idf)
	if err != nil {
		return nil, fmt.Errorf("--truth-identities %s: %w", identitiesPath, err)
	}
	return &truthScorer{truth: facescore.Truth{Faces: faces, Identities: ids}, people: people}, nil
}

// add takes one named frame of a w x h video.
func (s *truthScorer) add(rec frameRecord, w, h int) {
	s.truth.Width, s.truth.Height = w, h
	for _, f := range rec.Faces {
		s.faces = append(s.faces, facescore.Face{Frame: rec.Frame, X: f.Box[0], Y: f.Box[1], W: f.Box[2], H: f.Box[3],
			Identity: f.Identity})
	}
}

// scoreMinIoU is the overlap a found face needs with a labelled one: the labelled boxes (pyannote's)
// are drawn looser than YuNet's.
const scoreMinIoU = 0.3

func (s *truthScorer) score() facescore.Score {
	return facescore.Evaluate(s.truth, s.faces, s.people, scoreMinIoU)
}

// report writes the score: a JSON line {"score": ...} or tables.
func (s *truthScorer) report(w io.Writer, asJSON bool) error {
	sc := s.score()
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]facescore.Score{"score": sc})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PERSON\tTRACK FRAMES\tNAMED\tSHARE")
	for _, p := range s.people {
		ps := sc.People[p]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\n", p, ps.Frames, ps.Named, ps.Share())
	}
	fmt.Fprintf(tw, "wrong names\t%d\t\t\nnamed faces on no labelled track\t%d\t\t\n\n", sc.Wrong, sc.Unjudged)
	fmt.Fprintln(tw, "TRACK\tIDENTITY\tFRAMES\tFOUND\tNAMED\tWRONG")
	for _, t := range sc.Tracks {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%v\n", t.Track, t.Identity, t.Frames, t.Found, t.Named, t.WrongNames)
	}
	return tw.Flush()
}
