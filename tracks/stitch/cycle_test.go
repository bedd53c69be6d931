package stitch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/geo"
	"snowlight/tracks"
)

// Two short sightings of one face on neighbouring cameras whose views overlap in time: the transit
// slack lets either continue the other, but links run forward in time, so they form a trajectory of
// two and never a loop (which hung the stitcher on the replayed city5 scenario).
func TestOverlappingSightingsDoNotLoop(t *testing.T) {
	topo, err := NewTopology([]Camera{
		{ID: "A", Position: geo.LatLon{Lat: 50, Lon: 4}, Neighbours: []Neighbour{{Camera: "B", Min: 3 * time.Second, Max: 30 * time.Second}}},
		{ID: "B", Position: geo.LatLon{Lat: 50, Lon: 4.0003}, Neighbours: []Neighbour{{Camera: "A", Min: 3 * time.Second, Max: 30 * time.Second}}},
	}, DefaultLearning())
	require.NoError(t, err)
	st, err := New(DefaultConfig(), topo)
	require.NoError(t, err)
	face := norm(newPeople(1).gauss(128, 1))
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	done := make(chan []tracks.Decision, 1)
	go func() {
		var all []tracks.Decision
		for _, s := range []tracks.Sighting{
			{ID: "p", Camera: "A", Enter: sec(5), Exit: sec(7), FaceEmbedding: face, Final: true},
			{ID: "q", Camera: "B", Enter: sec(4), Exit: sec(8), FaceEmbedding: face, Final: true},
		} {
			ds, err := st.Add(s)
			assert.NoError(t, err)
			all = append(all, ds...)
		}
		done <- all
	}()
	select {
	case ds := <-done:
		last := map[string]tracks.Decision{}
		for _, d := range ds {
			last[d.Sighting] = d
		}
		assert.False(t, last["p"].Link != nil && last["q"].Link != nil, "p and q continue each other: %+v", last)
		assert.Equal(t, "q", last["q"].Trajectory, "decisions %+v, want one trajectory q -> p", last)
		assert.Equal(t, "q", last["p"].Trajectory, "decisions %+v, want one trajectory q -> p", last)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Add did not return: the links loop")
	}
}
