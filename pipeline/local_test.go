package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/tracks"
	"snowlight/watchlist"
)

func unitVec(v ...float32) []float32 { return watchlist.Mean([][]float32{v}) }

// The local namer on made-up embeddings: Alice's photo is (1,0,0,0), Bob's (0,1,0,0); in the footage
// Alice's good face is (0,0,1,0), far from her photo, and her small faces later lie near it.
func TestLocalNamer(t *testing.T) {
	pol := watchlist.DefaultPolicy()
	m, err := watchlist.NewMatcher([]watchlist.Person{
		{ID: "alice", Name: "Alice", Category: watchlist.Missing, Embeddings: [][]float32{unitVec(1, 0, 0, 0)}},
		{ID: "bob", Name: "Bob", Category: watchlist.Missing, Embeddings: [][]float32{unitVec(0, 1, 0, 0)}},
	}, pol, "", time.Now())
	require.NoError(t, err)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	track := func(id string, from, to int, person string, quality float64, tpl []float32) tracks.Sighting {
		return tracks.Sighting{ID: id, Enter: at(from), Exit: at(to), Face: &tracks.Snapshot{Quality: quality},
			Evidence: tracks.Evidence{PersonID: person, Template: tpl}}
	}
	alice := track("alice-close", 0, 10, "alice", 0.6, unitVec(0.5, 0, 1, 0)) // the photos named her
	later := track("later", 60, 70, "", 0.1, unitVec(0, 0.1, 1, 0.2))         // her small face, unnamed
	type want struct {
		person string
		from   []string
	}
	tests := []struct {
		name  string
		learn []tracks.Sighting
		cfg   LocalConfig
		probe []tracks.Sighting // considered in order; the first is judged
		want  want
	}{
		{"named by her face earlier in the footage", []tracks.Sighting{alice}, DefaultLocalConfig(), []tracks.Sighting{later},
			want{"alice", []string{"alice-close"}}},
		{"and by one later in it", []tracks.Sighting{track("alice-close", 100, 110, "alice", 0.6, unitVec(0.5, 0, 1, 0))},
			DefaultLocalConfig(), []tracks.Sighting{later}, want{"alice", []string{"alice-close"}}},
		{"nothing learnt", nil, DefaultLocalConfig(), []tracks.Sighting{later}, want{}},
		{"a teacher's face below the enrolment bar", []tracks.Sighting{track("alice-close", 0, 10, "alice", 0.2, unitVec(0.5, 0, 1, 0))},
			DefaultLocalConfig(), []tracks.Sighting{later}, want{}},
		{"beyond the window", []tracks.Sighting{alice}, LocalConfig{MinQuality: 0.3, Window: 40 * time.Second},
			[]tracks.Sighting{track("later", 51, 60, "", 0.1, unitVec(0, 0.1, 1, 0.2))}, want{}},
		{"she is on another track at the same time", []tracks.Sighting{alice, track("alice-now", 65, 80, "alice", 0.1, unitVec(1, 0, 0, 0))},
			DefaultLocalConfig(), []tracks.Sighting{later}, want{}},
		{"two tracks at once would both be her", []tracks.Sighting{alice}, DefaultLocalConfig(),
			[]tracks.Sighting{later, track("beside", 68, 75, "", 0.1, unitVec(0, 0, 1, 0.1))}, want{}},
		{"unlike her local face", []tracks.Sighting{alice}, DefaultLocalConfig(),
			[]tracks.Sighting{track("other", 60, 70, "", 0.1, unitVec(0, 0.3, 0.4, 1))}, want{}},
		{"two teachers make one template", []tracks.Sighting{alice, track("alice-again", 20, 30, "alice", 0.5, unitVec(0, 0, 1, 0.5))},
			DefaultLocalConfig(), []tracks.Sighting{later}, want{"alice", []string{"alice-close", "alice-again"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := NewLocalNamer(tc.cfg)
			for _, s := range tc.learn {
				n.Learn(s)
			}
			for _, s := range tc.probe {
				n.Consider(m, s)
			}
			match, how := n.Name(tc.probe[0])
			if tc.want.person == "" {
				assert.Nil(t, match)
				assert.Nil(t, how)
				return
			}
			require.NotNil(t, match)
			assert.Equal(t, tc.want.person, match.PersonID)
			assert.True(t, match.Local)
			assert.ElementsMatch(t, tc.want.from, how.From)
			assert.InDelta(t, match.Similarity, how.Similarity, 1e-6)
			assert.InDelta(t, pol.Threshold[watchlist.Missing], how.Threshold, 1e-6)
		})
	}

	t.Run("a face of the track reached someone else's threshold", func(t *testing.T) {
		n := NewLocalNamer(DefaultLocalConfig())
		n.Learn(alice)
		s := later
		s.Evidence.Candidates = []tracks.Candidate{{PersonID: "bob", Above: 1}, {PersonID: "alice"}}
		n.Consider(m, s)
		match, _ := n.Name(s)
		assert.Nil(t, match)
	})
	t.Run("only the photos' names teach", func(t *testing.T) {
		n := NewLocalNamer(DefaultLocalConfig())
		named := alice
		named.Evidence.Local = &tracks.LocalName{Similarity: 0.9}
		n.Learn(named)
		n.Consider(m, later)
		match, _ := n.Name(later)
		assert.Nil(t, match)
	})
	t.Run("forgotten after the window", func(t *testing.T) {
		n := NewLocalNamer(LocalConfig{MinQuality: 0.3, Window: time.Minute})
		n.Learn(alice)
		n.Forget(at(71))
		n.Consider(m, later)
		match, _ := n.Name(later)
		assert.Nil(t, match)
	})
	t.Run("no watch list", func(t *testing.T) {
		n := NewLocalNamer(DefaultLocalConfig())
		n.Learn(alice)
		n.Consider(nil, later)
		match, _ := n.Name(later)
		assert.Nil(t, match)
	})
}
