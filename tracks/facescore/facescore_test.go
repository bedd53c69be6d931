package facescore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadTracks(t *testing.T) {
	got, err := ReadTracks(strings.NewReader("0.000 0 0.5 0.2 0.6 0.4 detection\n\n0.040 1 0.1 0.1 0.2 0.3 forward\n"), 25)
	require.NoError(t, err)
	assert.Equal(t, []TruthFace{{Frame: 1, Track: 0, X0: 0.5, Y0: 0.2, X1: 0.6, Y1: 0.4}, {Frame: 2, Track: 1, X0: 0.1, Y0: 0.1, X1: 0.2, Y1: 0.3}}, got)

	for _, bad := range []string{
		"0.0 0 0.5 0.2 0.6 detection",     // a field short
		"0.0 0 0.5 NaN 0.6 0.4 detection", // not a number
		"0.0 1.5 0.5 0.2 0.6 0.4 x",       // fractional track
		"-1 0 0.5 0.2 0.6 0.4 x",          // negative time
		"0.0 0 0.6 0.2 0.5 0.4 x",         // corners swapped
		"1e300 0 0.5 0.2 0.6 0.4 x",       // time beyond any frame number
	} {
		_, err := ReadTracks(strings.NewReader(bad), 25)
		assert.Error(t, err, bad)
	}
	_, err = ReadTracks(strings.NewReader(""), 0)
	assert.Error(t, err, "frame rate 0")
}

func TestReadIdentities(t *testing.T) {
	got, err := ReadIdentities(strings.NewReader("track,identity\n0,sheldon\n3,not_a_face\n"))
	require.NoError(t, err)
	assert.Equal(t, map[int]string{0: "sheldon", 3: "not_a_face"}, got)
	for _, bad := range []string{"", "id,name\n0,a\n", "track,identity\nx,a\n", "track,identity\n0,\n", "track,identity\n0,a\n0,b\n"} {
		_, err := ReadIdentities(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

// Two frames of a 100x100 clip: ann's track 0 and a stranger's track 1 side by side.
func TestEvaluate(t *testing.T) {
	truth := Truth{Width: 100, Height: 100, Identities: map[int]string{0: "ann", 1: "stranger"}, Faces: []TruthFace{
		{Frame: 1, Track: 0, X0: 0.1, Y0: 0.1, X1: 0.3, Y1: 0.3}, {Frame: 1, Track: 1, X0: 0.6, Y0: 0.1, X1: 0.8, Y1: 0.3},
		{Frame: 2, Track: 0, X0: 0.1, Y0: 0.1, X1: 0.3, Y1: 0.3}, {Frame: 2, Track: 1, X0: 0.6, Y0: 0.1, X1: 0.8, Y1: 0.3},
		{Frame: 3, Track: 0, X0: 0.1, Y0: 0.1, X1: 0.3, Y1: 0.3},
	}}
	faces := []Face{
		{Frame: 1, X: 11, Y: 11, W: 20, H: 20, Identity: "ann"},      // right
		{Frame: 1, X: 61, Y: 10, W: 19, H: 20, Identity: "ann"},      // the stranger named: wrong
		{Frame: 2, X: 10, Y: 10, W: 20, H: 20},                       // found, not named
		{Frame: 2, X: 40, Y: 60, W: 10, H: 10, Identity: "ann"},      // on no labelled track
		{Frame: 3, X: 12, Y: 12, W: 20, H: 20, Identity: "ann"},      // right, and a second box on
		{Frame: 3, X: 14, Y: 14, W: 20, H: 20, Identity: "stranger"}, // the same face: unjudged
	}
	s := Evaluate(truth, faces, []string{"ann", "bob"}, 0.3)
	assert.Equal(t, Person{Frames: 3, Named: 2}, s.People["ann"])
	assert.InDelta(t, 2.0/3, s.People["ann"].Share(), 1e-9)
	assert.Equal(t, Person{}, s.People["bob"], "a gallery person never present")
	assert.Zero(t, s.People["bob"].Share())
	assert.Equal(t, 1, s.Wrong)
	assert.Equal(t, 2, s.Unjudged)
	require.Len(t, s.Tracks, 2)
	assert.Equal(t, Track{Track: 0, Identity: "ann", Frames: 3, Found: 3, Named: 2, WrongNames: map[string]int{}}, s.Tracks[0])
	assert.Equal(t, Track{Track: 1, Identity: "stranger", Frames: 2, Found: 1, WrongNames: map[string]int{"ann": 1}}, s.Tracks[1])
}

func FuzzReadTracks(f *testing.F) {
	f.Add("0.000 0 0.514 0.200 0.665 0.469 detection\n0.040 1 0.514 0.190 0.667 0.463 backward\n")
	f.Add("1e308 2147483648 0 0 1 1 x")
	f.Fuzz(func(t *testing.T, s string) {
		faces, err := ReadTracks(strings.NewReader(s), 25)
		if err != nil {
			return
		}
		for _, tf := range faces {
			require.GreaterOrEqual(t, tf.Frame, 1, "accepted %+v from %q", tf, s)
			require.GreaterOrEqual(t, tf.Track, 0, "accepted %+v from %q", tf, s)
			require.Less(t, tf.X0, tf.X1, "accepted %+v from %q", tf, s)
			require.Less(t, tf.Y0, tf.Y1, "accepted %+v from %q", tf, s)
		}
	})
}
