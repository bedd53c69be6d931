package detect

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/tracks"
	"snowlight/watchlist"
)

// TestTrackThresholdCalibration holds the track rule (tracks' template rule, which names a track by
// the quality-weighted mean of its faces) to the false-match budgets of the categories, on impostor
// tracks: every labelled identity's faces, in order and in windows of 1, 2, 3 and 5, shown as one
// track to a watch list holding one other identity (all its photos: the template an impostor is
// most likely to pass, with no second person to fail the margin against). Genuine tracks are the same
// windows of an identity's other faces against its first photo. Frames of a track are not independent,
// so the budget is per track, as it is per face for a single face.
func TestTrackThresholdCalibration(t *testing.T) {
	byID, ids := byIdentity(allLabelled(t))
	pol := watchlist.DefaultPolicy()
	named := func(gallery watchlist.Person, faces []labelled) (bool, float64) {
		m, err := watchlist.NewMatcher([]watchlist.Person{gallery}, pol, "", time.Now())
		require.NoError(t, err)
		cfg := tracks.DefaultConfig()
		cfg.ConfirmHits, cfg.Identity.MinFrames = 1, 1
		tr, err := tracks.NewTracker(cfg)
		require.NoError(t, err)
		t0 := time.Unix(0, 0)
		for i, f := range faces {
			tf := &tracks.Face{Score: 0.95, Embedding: f.v, Quality: float64(f.quality.Value())}
			for _, c := range m.Rank(f.v) {
				tf.Matches = append(tf.Matches, tracks.FaceMatch{PersonID: c.Person.ID, Similarity: float64(c.Similarity),
					Threshold: float64(c.Threshold), Margin: float64(c.Margin)})
			}
			tr.Update(t0.Add(time.Duration(i)*time.Second/5), []tracks.Detection{{Box: tracks.Box{X: 10, Y: 10, W: 80, H: 80},
				Score: 0.95, Face: tf}})
		}
		s := tr.Finish()
		require.Len(t, s, 1)
		ev := s[0].Evidence
		require.NotEmpty(t, ev.Candidates)
		return ev.PersonID != "", ev.Candidates[0].Score
	}
	cats := watchlist.Categories()
	type count struct{ tracks, named, highestAt int }
	impostor, genuine := map[watchlist.Category]*count{}, map[watchlist.Category]*count{}
	for _, c := range cats {
		impostor[c], genuine[c] = &count{}, &count{}
	}
	highest, highestWhat := -1.0, ""
	for _, a := range ids {
		for _, c := range cats {
			all := identityFrom(a, a, c)
			for _, f := range byID[a] {
				all.Embeddings = append(all.Embeddings, f.v)
			}
			for _, b := range ids {
				if b == a {
					continue
				}
				for _, w := range trackWindows(byID[b]) {
					ok, sim := named(all, w)
					impostor[c].tracks++
					if ok {
						impostor[c].named++
						t.Logf("impostor track named at %s: %d faces of %s as %s, similarity %.3f", c, len(w), b, a, sim)
					}
					if sim > highest {
						highest, highestWhat = sim, fmt.Sprintf("%d faces of %s against %s", len(w), b, a)
					}
				}
			}
			if len(byID[a]) < 2 {
				continue
			}
			first := identityFrom(a, a, c, byID[a][0].v)
			for _, w := range trackWindows(byID[a][1:]) {
				ok, _ := named(first, w)
				genuine[c].tracks++
				if ok {
					genuine[c].named++
				}
			}
		}
	}
	t.Logf("highest impostor track similarity %.3f (%s)", highest, highestWhat)
	budget := map[watchlist.Category]float64{watchlist.AtRisk: 5e-4, watchlist.Missing: 1e-4, watchlist.Suspect: 2e-5}
	for _, c := range cats {
		fmr := float64(impostor[c].named) / float64(impostor[c].tracks)
		tmr := float64(genuine[c].named) / float64(genuine[c].tracks)
		t.Logf("category %s (threshold %.2f): impostor tracks named %d of %d (%.1e), genuine tracks named %d of %d (%.3f)",
			c, pol.Threshold[c], impostor[c].named, impostor[c].tracks, fmr, genuine[c].named, genuine[c].tracks, tmr)
		assert.LessOrEqual(t, fmr, budget[c], "%s: impostor tracks named", c)
	}
	assert.GreaterOrEqual(t, impostor[watchlist.Missing].tracks, 20000, "the impostor tracks shrank")
	assert.GreaterOrEqual(t, float64(genuine[watchlist.Missing].named)/float64(genuine[watchlist.Missing].tracks), 0.95,
		"genuine tracks named at the missing threshold")
}

// byIdentity groups labelled faces by identity, the identities in the order they first appear.
func byIdentity(set []labelled) (map[string][]labelled, []string) {
	byID := map[string][]labelled{}
	var ids []string
	for _, l := range set {
		if byID[l.identity] == nil {
			ids = append(ids, l.identity)
		}
		byID[l.identity] = append(byID[l.identity], l)
	}
	return byID, ids
}

// trackWindows are the tracks the calibrations make of one identity's faces: all of them in order,
// and windows of 1, 2, 3 and 5.
func trackWindows(faces []labelled) [][]labelled {
	out := [][]labelled{faces}
	for _, k := range []int{1, 2, 3, 5} {
		for i := 0; i+k <= len(faces) && k < len(faces); i += k {
			out = append(out, faces[i:i+k])
		}
	}
	return out
}

// trackTemplate is what the track rule compares: the quality-weighted mean of a track's faces.
func trackTemplate(faces []labelled) []float32 {
	sum := make([]float32, len(faces[0].v))
	for _, f := range faces {
		for i, x := range f.v {
			sum[i] += f.quality.Value() * x
		}
	}
	return watchlist.Mean([][]float32{sum})
}

// TestLocalTemplateCalibration holds local templates (pipeline.LocalNamer: a person's faces that the
// photos named in the same footage, a second template the matcher compares with) to the budgets of
// the categories. Each identity with at least four labelled faces is enrolled from its first face
// alone, the track of its second and third faces is taken as one the photos named there (its local
// template), and every other identity's faces, whole and in windows as in
// TestTrackThresholdCalibration, are impostor tracks against that watch list of one; the identity's
// own further faces are genuine tracks, named with the local template or without it. The counts are
// logged per set of the enrolled identity too, so that one set's ease does not hide another's errors.
func TestLocalTemplateCalibration(t *testing.T) {
	byID, ids := byIdentity(allLabelled(t))
	pol := watchlist.DefaultPolicy()
	type count struct{ tracks, named, photos int }
	type key struct {
		cat watchlist.Category
		set string // "" for all
	}
	impostor, genuine := map[key]*count{}, map[key]*count{}
	add := func(m map[key]*count, k key, named, photos bool) {
		for _, k := range []key{k, {cat: k.cat}} {
			if m[k] == nil {
				m[k] = &count{}
			}
			m[k].tracks++
			m[k].named += b2i(named)
			m[k].photos += b2i(photos)
		}
	}
	highest, highestWhat := float32(-1), ""
	var sets []string
	for _, c := range watchlist.Categories() {
		for _, a := range ids {
			faces := byID[a]
			if len(faces) < 4 {
				continue
			}
			from := labelledSetOf(faces[0].source)
			if !slices.Contains(sets, from) {
				sets = append(sets, from)
			}
			m, err := watchlist.NewMatcher([]watchlist.Person{identityFrom(a, a, c, faces[0].v)}, pol, "", time.Now())
			require.NoError(t, err)
			local := map[string][]float32{a: trackTemplate(faces[1:3])}
			judge := func(w []labelled, counts map[key]*count) {
				tpl := trackTemplate(w)
				withLocal, _ := m.MatchWith(tpl, local)
				photos, _ := m.Match(tpl)
				add(counts, key{c, from}, withLocal != nil, photos != nil)
			}
			for _, w := range trackWindows(faces[3:]) {
				judge(w, genuine)
			}
			for _, b := range ids {
				if b == a {
					continue
				}
				for _, w := range trackWindows(byID[b]) {
					judge(w, impostor)
					if sim := watchlist.Cosine(trackTemplate(w), local[a]); sim > highest {
						highest, highestWhat = sim, fmt.Sprintf("%d faces of %s against %s's local template", len(w), b, a)
					}
				}
			}
		}
	}
	t.Logf("highest impostor similarity to a local template %.3f (%s)", highest, highestWhat)
	budget := map[watchlist.Category]float64{watchlist.AtRisk: 5e-4, watchlist.Missing: 1e-4, watchlist.Suspect: 2e-5}
	for _, c := range watchlist.Categories() {
		for _, s := range append([]string{""}, sets...) {
			imp, gen := impostor[key{c, s}], genuine[key{c, s}]
			t.Logf("category %s (threshold %.2f), enrolled from %s: impostor tracks named %d of %d (%.1e; by the photo alone %d), "+
				"genuine tracks named %d of %d (%.3f; by the photo alone %d, %.3f)", c, pol.Threshold[c], cmp.Or(s, "all sets"),
				imp.named, imp.tracks, float64(imp.named)/float64(imp.tracks), imp.photos, gen.named, gen.tracks,
				float64(gen.named)/float64(gen.tracks), gen.photos, float64(gen.photos)/float64(gen.tracks))
		}
		imp := impostor[key{cat: c}]
		assert.LessOrEqual(t, float64(imp.named)/float64(imp.tracks), budget[c], "%s: impostor tracks named", c)
	}
	assert.GreaterOrEqual(t, impostor[key{cat: watchlist.Missing}].tracks, 20000, "the impostor tracks shrank")
	assert.Len(t, sets, 3, "orl, face-api and face_recognition identities enrolled")
}

// labelledSetOf names the shared/eval set a labelled face comes from, by its path.
func labelledSetOf(path string) string {
	for _, s := range []string{"orl_att_faces", "face-api", "face_recognition"} {
		if strings.Contains(filepath.ToSlash(path), "/"+s+"/") {
			return s
		}
	}
	return "other"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTemplateCalibration compares the two ways of matching a face against several enrolment photos
// per person: the best photo's similarity (the rule until the mean was measured here) and the
// similarity to the mean of the photos (watchlist.Person.Template). Every identity with more than m
// labelled faces is enrolled from its first m; its other faces are the genuine probes, every other
// identity's faces the impostors. The best of m photos gives an impostor m chances; the mean does not.
func TestTemplateCalibration(t *testing.T) {
	set := allLabelled(t)
	byID := map[string][][]float32{}
	var ids []string
	for _, l := range set {
		if byID[l.identity] == nil {
			ids = append(ids, l.identity)
		}
		byID[l.identity] = append(byID[l.identity], l.v)
	}
	thr := watchlist.DefaultPolicy().Threshold[watchlist.Missing]
	for m := 1; m <= 4; m++ {
		type rates struct{ gen, genAbove, imp, impAbove int }
		var best, mean rates
		for _, a := range ids {
			if len(byID[a]) <= m {
				continue
			}
			enrolled := identityFrom(a, a, watchlist.Missing, byID[a][:m]...)
			tpl := enrolled.Template(false)
			for _, b := range ids {
				probes := byID[b]
				if b == a {
					probes = probes[m:]
				}
				for _, v := range probes {
					top := float32(-1)
					for _, e := range enrolled.Embeddings {
						top = max(top, watchlist.Cosine(v, e))
					}
					for _, r := range []struct {
						rates *rates
						sim   float32
					}{{&best, top}, {&mean, watchlist.Cosine(v, tpl)}} {
						if a == b {
							r.rates.gen++
							if r.sim >= thr {
								r.rates.genAbove++
							}
						} else {
							r.rates.imp++
							if r.sim >= thr {
								r.rates.impAbove++
							}
						}
					}
				}
			}
		}
		for _, r := range []struct {
			name string
			r    rates
		}{{"best photo", best}, {"mean template", mean}} {
			t.Logf("%d enrolment photos, %s, at %.2f: FMR %.1e (%d of %d), TMR %.3f (%d of %d)", m, r.name, thr,
				float64(r.r.impAbove)/float64(r.r.imp), r.r.impAbove, r.r.imp, float64(r.r.genAbove)/float64(r.r.gen), r.r.genAbove, r.r.gen)
		}
		assert.LessOrEqual(t, float64(mean.impAbove)/float64(mean.imp), 1e-4, "%d photos: the mean template keeps the missing budget", m)
	}
}
