package tracks

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Combine names how face matches over a track's frames are combined into an identity.
type Combine int

const (
	// LogLikelihood sums per-frame log-likelihood ratios: a match above the list's threshold adds
	// evidence in proportion to its margin, one below subtracts, a face that resembles someone else
	// more never adds, and a face that did not resemble the candidate at all subtracts AbsentLLR.
	LogLikelihood Combine = iota
	// Vote counts frames in which the candidate is the best match above the list's threshold.
	Vote
)

func (c Combine) String() string {
	switch c {
	case LogLikelihood:
		return "loglikelihood"
	case Vote:
		return "vote"
	}
	return fmt.Sprintf("Combine(%d)", int(c))
}

// IdentityConfig tunes how face matches become an identity.
type IdentityConfig struct {
	Method Combine
	// MinFrames is how many frames must have matched a person above the list's threshold before the
	// track may take that identity, whatever the method; one lucky frame is never enough.
	MinFrames int
	// LogLikelihood: a frame adds Slope*(similarity - threshold), clamped to ±MaxFrameLLR, or
	// subtracts AbsentLLR when the face's candidates did not include the person (a far or blurred
	// face often matches nobody, so this costs less than a clear mismatch); the track takes the
	// identity when the sum reaches Decision (natural log odds; 3 is about 20:1).
	Slope, MaxFrameLLR, AbsentLLR, Decision float64
	// Margin is how far the winner's summed log-likelihood ratio must lead the runner-up's; with
	// Vote the winner must simply have more votes. Two people the faces cannot tell apart give no
	// identity.
	Margin float64
	// Vote: the candidate must be the best match in at least VoteFraction of the frames in which
	// the track's face was seen.
	VoteFraction float64
	// MaxEvidence bounds the frames kept per candidate; the most similar are kept.
	MaxEvidence int
}

// DefaultIdentityConfig returns the log-likelihood method with settings that need two clear or
// several marginal matches.
func DefaultIdentityConfig() IdentityConfig {
	return IdentityConfig{
		Method: LogLikelihood, MinFrames: 2,
		Slope: 25, MaxFrameLLR: 2.5, AbsentLLR: 1, Decision: 3, Margin: 2,
		VoteFraction: 0.5, MaxEvidence: 32,
	}
}

func (c IdentityConfig) validate() error {
	switch {
	case c.Method != LogLikelihood && c.Method != Vote:
		return fmt.Errorf("identity: unknown method %v", c.Method)
	case c.MinFrames < 1:
		return fmt.Errorf("identity: MinFrames %d < 1", c.MinFrames)
	case c.Method == LogLikelihood && (c.Slope <= 0 || c.MaxFrameLLR <= 0 || c.AbsentLLR < 0 || c.Decision <= 0 || c.Margin < 0):
		return fmt.Errorf("identity: Slope, MaxFrameLLR and Decision must be positive, AbsentLLR not negative")
	case c.Method == Vote && (c.VoteFraction <= 0 || c.VoteFraction > 1):
		return fmt.Errorf("identity: VoteFraction %v outside (0,1]", c.VoteFraction)
	case c.MaxEvidence < c.MinFrames:
		return fmt.Errorf("identity: MaxEvidence %d below MinFrames %d", c.MaxEvidence, c.MinFrames)
	}
	return nil
}

// FaceEvidence is one frame in which the track's face matched a watch-list person.
type FaceEvidence struct {
	Time       time.Time `json:"time"`
	Similarity float64   `json:"similarity"`
	Threshold  float64   `json:"threshold"`
	Box        Box       `json:"face_box"`
}

// Candidate is everything a track's frames say about one watch-list person.
type Candidate struct {
	PersonID string `json:"person_id"`
	// Score is the combined evidence: the summed log-likelihood ratio, or the number of votes.
	Score float64 `json:"score"`
	// Listed counts frames whose face had the person among its candidates, Above those where the
	// match reached the list's threshold, and Best those where the person was the best match.
	Listed int `json:"frames_listed"`
	Above  int `json:"frames_above"`
	Best   int `json:"frames_best"`
	// Frames are the strongest matching frames, most similar first, for the human who confirms.
	Frames []FaceEvidence `json:"frames"`
}

// Evidence is the identity evidence gathered on a track.
type Evidence struct {
	// FaceFrames counts frames in which the track's face was seen and embedded.
	FaceFrames int         `json:"face_frames"`
	Candidates []Candidate `json:"candidates,omitempty"`
	// PersonID is the identity the evidence supports under the tracker's rule, "" while none does.
	PersonID string `json:"person_id,omitempty"`
	// Decided is when the evidence first passed the rule for PersonID.
	Decided time.Time `json:"decided,omitzero"`
}

// evidence accumulates face matches for one track.
type evidence struct {
	cfg IdentityConfig
	Evidence
	llr map[string]float64 // per candidate, summed over the frames that listed it
}

func newEvidence(cfg IdentityConfig) *evidence {
	return &evidence{cfg: cfg, llr: map[string]float64{}}
}

// add records one frame's face.
func (e *evidence) add(t time.Time, f *Face) {
	if f == nil || len(f.Embedding) == 0 && len(f.Matches) == 0 {
		return
	}
	e.FaceFrames++
	best := ""
	bestSim := math.Inf(-1)
	for _, m := range f.Matches {
		if m.Similarity > bestSim {
			best, bestSim = m.PersonID, m.Similarity
		}
	}
	seen := map[string]bool{}
	for _, m := range f.Matches {
		if seen[m.PersonID] {
			continue
		}
		seen[m.PersonID] = true
		c := e.candidate(m.PersonID, true)
		c.Listed++
		if m.Similarity >= m.Threshold {
			c.Above++
		}
		if m.PersonID == best {
			c.Best++
		}
		c.Frames = append(c.Frames, FaceEvidence{Time: t, Similarity: m.Similarity, Threshold: m.Threshold, Box: f.Box})
		slices.SortStableFunc(c.Frames, func(a, b FaceEvidence) int { return cmp.Compare(b.Similarity, a.Similarity) })
		if len(c.Frames) > e.cfg.MaxEvidence {
			c.Frames = c.Frames[:e.cfg.MaxEvidence]
		}
		llr := e.cfg.Slope * (m.Similarity - m.Threshold)
		if m.PersonID != best {
			// A face that resembles another person more is evidence against this one, however
			// close it came.
			llr = min(llr, 0)
		}
		e.llr[m.PersonID] += clamp(llr, e.cfg.MaxFrameLLR)
	}
	e.decide(t)
}

func (e *evidence) candidate(id string, create bool) *Candidate {
	for i := range e.Candidates {
		if e.Candidates[i].PersonID == id {
			return &e.Candidates[i]
		}
	}
	if !create {
		return nil
	}
	e.Candidates = append(e.Candidates, Candidate{PersonID: id})
	return &e.Candidates[len(e.Candidates)-1]
}

// decide applies the rule; the identity may change or lapse as evidence arrives.
func (e *evidence) decide(t time.Time) {
	for i := range e.Candidates {
		c := &e.Candidates[i]
		switch e.cfg.Method {
		case LogLikelihood:
			c.Score = e.llr[c.PersonID] - e.cfg.AbsentLLR*float64(e.FaceFrames-c.Listed)
		case Vote:
			c.Score = float64(c.Best)
		}
	}
	slices.SortStableFunc(e.Candidates, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
	winner := ""
	if len(e.Candidates) > 0 {
		c := &e.Candidates[0]
		lead := math.Inf(1)
		if len(e.Candidates) > 1 {
			lead = c.Score - e.Candidates[1].Score
		}
		pass := c.Above >= e.cfg.MinFrames
		switch e.cfg.Method {
		case LogLikelihood:
			pass = pass && c.Score >= e.cfg.Decision && lead >= e.cfg.Margin
		case Vote:
			pass = pass && float64(c.Best) >= e.cfg.VoteFraction*float64(e.FaceFrames) && lead > 0
		}
		if pass {
			winner = c.PersonID
		}
	}
	if winner != e.PersonID {
		e.PersonID = winner
		e.Decided = time.Time{}
		if winner != "" {
			e.Decided = t
		}
	}
}

// snapshot returns a deep copy that stays valid as the track goes on.
func (e *evidence) snapshot() Evidence {
	out := e.Evidence
	out.Candidates = nil
	for _, c := range e.Candidates {
		c.Frames = slices.Clone(c.Frames)
		out.Candidates = append(out.Candidates, c)
	}
	return out
}

func clamp(v, limit float64) float64 { return math.Max(-limit, math.Min(limit, v)) }

func sqrtArea(b Box) float64 { return math.Sqrt(math.Max(0, b.W*b.H)) }
