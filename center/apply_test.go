package center_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/ledger"
	"snowlight/center"
	"snowlight/tracks"
)

// A batch is applied in one transaction with its ledger claims: an event delivered again changes
// nothing but is reported Again (its sighting given back, for the rules to redo what they may not
// have finished), an interim sighting arriving after its final one is dropped, and one bad event
// in a batch holds back no other.
func TestApplyBatchIdempotent(t *testing.T) {
	ctx := t.Context()
	r := newRig(t, twoCameras())
	c, events := r.recording(t)

	face, first, interim := annAtC1()
	started := center.Item{Event: tracks.SightingEvent{Kind: tracks.SightingStarted, Camera: "c1", Frame: interim.Exit, Sighting: interim},
		Key: "sighting/" + first.ID, Version: ledger.Version{Epoch: 7, Seq: 1}}
	ended := center.Item{Event: tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "c1", Frame: first.Exit, Sighting: withFinal(first)},
		Key: "sighting/" + first.ID, Version: ledger.Version{Epoch: 7, Seq: 2}}
	bad := center.Item{Event: tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "c9", Frame: t0, Sighting: withFinal(sighting("c9", 2, 1, 3, nil, ""))},
		Key: "sighting/c9", Version: ledger.Version{Epoch: 1, Seq: 1}}
	second := withFinal(sighting("c2", 1, 20, 28, face, ""))
	other := center.Item{Event: tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "c2", Frame: second.Exit, Sighting: second},
		Key: "sighting/" + second.ID, Version: ledger.Version{Epoch: 3, Seq: 5}}

	res := c.Apply(ctx, []center.Item{started, ended, bad, other})
	require.Len(t, res, 4)
	for _, i := range []int{0, 1, 3} {
		require.NoError(t, res[i].Err, "item %d", i)
		assert.Equal(t, ledger.Fresh, res[i].Outcome, "item %d", i)
	}
	assert.ErrorContains(t, res[2].Err, `camera "c9" is not in the topology`)
	require.NotNil(t, res[1].Sighting)
	assert.True(t, res[1].Sighting.Final)
	assert.NotEmpty(t, res[1].Sighting.Face.Ref, "the result carries the stored keys")

	tr, err := r.db.Follow(ctx, second.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Len(t, tr.Steps, 2, "c2 linked to c1 within one batch")
	n := len(*events)

	// The bus delivers it all again, the interim sighting last.
	res = c.Apply(ctx, []center.Item{ended, other, started})
	assert.Equal(t, ledger.Again, res[0].Outcome)
	assert.Equal(t, ledger.Again, res[1].Outcome)
	assert.Equal(t, ledger.Superseded, res[2].Outcome)
	require.NotNil(t, res[0].Sighting)
	assert.Equal(t, first.ID, res[0].Sighting.ID)
	assert.Nil(t, res[2].Sighting)
	assert.Len(t, *events, n, "nothing reported twice")
	s, err := r.db.Sighting(ctx, first.ID)
	require.NoError(t, err)
	assert.True(t, s.Final, "the interim sighting did not replace the final one")
	st := c.Stats()
	assert.Equal(t, 1, st.Interim)
	assert.Equal(t, 2, st.Sightings)
	assert.Equal(t, 2, st.Again)
	assert.Equal(t, 1, st.Dropped)
}
