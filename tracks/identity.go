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
	// Template compares the track's face template with each person: the quality-weighted mean of the
	// track's face embeddings, whose cosine with a person's template is the weighted sum of the frames'
	// similarities to that person divided by the length of the weighted embedding sum. The track takes
	// the best person when that similarity reaches the person's threshold (the weighted mean of the
	// frames' thresholds) and leads every other person by the person's margin, over at least MinFrames
	// frames: the rule one face is named by, applied to the whole track. A frame whose candidates do
	// not list the person counts as similarity 0 to them. Frames of one track are not
	// independent evidence (a look-alike resembles the person in every frame), so the track is held to
	// the single face's thresholds; what it gains is that turned, blurred and small frames no longer
	// decide alone (docs/ACCURACY.md).
	Template Combine = iota
	// LogLikelihood sums per-frame log-likelihood ratios: a match above the list's threshold adds
	// evidence in proportion to its margin, one below subtracts, a face that resembles someone else
	// more never adds, and a face that did not resemble the candidate at all subtracts AbsentLLR.
	LogLikelihood
	// Vote counts frames in which the candidate is the best match above the list's threshold.
	Vote
)

func (c Combine) String() string {
	switch c {
	case Template:
		return "template"
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
	// track may take that identity (with Template: how many frames' faces the template holds); one
	// lucky frame is never enough.
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

// DefaultIdentityConfig returns the template method over at least two frames; the settings of the
// other methods need two clear or several marginal matches.
func DefaultIdentityConfig() IdentityConfig {
	return IdentityConfig{
		Method: Template, MinFrames: 2,
		Slope: 25, MaxFrameLLR: 2.5, AbsentLLR: 1, Decision: 3, Margin: 2,
		VoteFraction: 0.5, MaxEvidence: 32,
	}
}

func (c IdentityConfig) validate() error {
	switch {
	case c.Method != Template && c.Method != LogLikelihood && c.Method != Vote:
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
	// Score is the combined evidence: the template's similarity, the summed log-likelihood ratio, or
	// the number of votes.
	Score float64 `json:"score"`
	// Threshold is, with Template, the similarity Score must reach.
	Threshold float64 `json:"threshold,omitempty"`
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
	// Local is set when PersonID was given not by the enrolment photos but by the person's local
	// template: the faces the photos named in the same camera's or video's footage
	// (pipeline.LocalNamer). The tracker never sets it.
	Local *LocalName `json:"local,omitempty"`
	// Template is what the Template rule compares: the quality-weighted mean of the track's face
	// embeddings, L2-normalised (nil before any, or under another Method). Local templates are made
	// of and compared with it (pipeline.LocalNamer).
	Template []float32 `json:"template,omitempty"`
}

// LocalName is how a local template named a track.
type LocalName struct {
	// Similarity is the track's face template's to the person's local template, Threshold what it
	// had to reach (the person's, as for their photos).
	Similarity float64 `json:"similarity"`
	Threshold  float64 `json:"threshold"`
	// From are the sightings the photos named whose faces make the local template.
	From []string `json:"from"`
}

// evidence accumulates face matches for one track.
type evidence struct {
	cfg IdentityConfig
	Evidence
	llr map[string]float64 // per candidate, summed over the frames that listed it
	// Template: the quality-weighted sum of the embeddings, and per candidate the weighted sums of
	// similarity and threshold over the frames that listed it, their weight, and its margin.
	embSum  []float64
	weighed int
	tpl     map[string]*templateSums
}

type templateSums struct{ sim, threshold, weight, margin float64 }

func newEvidence(cfg IdentityConfig) *evidence {
	return &evidence{cfg: cfg, llr: map[string]float64{}, tpl: map[string]*templateSums{}}
}

// add records one frame's face.
func (e *evidence) add(t time.Time, f *Face) {
	if f == nil || len(f.Embedding) == 0 && len(f.Matches) == 0 {
		return
	}
	e.FaceFrames++
	w := f.weight()
	if e.cfg.Method == Template && w > 0 && len(f.Embedding) > 0 && (e.embSum == nil || len(e.embSum) == len(f.Embedding)) {
		if e.embSum == nil {
			e.embSum = make([]float64, len(f.Embedding))
		}
		for i, x := range f.Embedding {
			e.embSum[i] += w * float64(x)
		}
		e.weighed++
		for j, m := range f.Matches {
			// A face lists a handful of candidates (the most similar few): a scan finds a repeated
			// one without a map per frame.
			if slices.ContainsFunc(f.Matches[:j], func(o FaceMatch) bool { return o.PersonID == m.PersonID }) {
				continue
			}
			ts := e.tpl[m.PersonID]
			if ts == nil {
				ts = &templateSums{}
				e.tpl[m.PersonID] = ts
			}
			ts.sim += w * m.Similarity
			ts.threshold += w * m.Threshold
			ts.weight += w
			ts.margin = m.Margin
		}
	}
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
	norm := 0.0
	for _, x := range e.embSum {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range e.Candidates {
		c := &e.Candidates[i]
		switch e.cfg.Method {
		case Template:
			c.Score, c.Threshold = -1, 1
			if ts := e.tpl[c.PersonID]; ts != nil && norm > 0 && ts.weight > 0 {
				c.Score, c.Threshold = ts.sim/norm, ts.threshold/ts.weight
			}
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
		case Template:
			if len(e.Candidates) == 1 {
				lead = c.Score + 1 // as a single face's: the margin is to "nobody" at similarity -1
			}
			margin := 0.0
			if ts := e.tpl[c.PersonID]; ts != nil {
				margin = ts.margin
			}
			pass = e.weighed >= e.cfg.MinFrames && c.Score >= c.Threshold && lead >= margin && lead > 0
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
	out.Template = nil
	if e.weighed > 0 {
		out.Template = normalise(e.embSum)
	}
	out.Candidates = nil
	for _, c := range e.Candidates {
		c.Frames = slices.Clone(c.Frames)
		out.Candidates = append(out.Candidates, c)
	}
	return out
}

func clamp(v, limit float64) float64 { return math.Max(-limit, math.Min(limit, v)) }

func sqrtArea(b Box) float64 { return math.Sqrt(math.Max(0, b.W*b.H)) }
