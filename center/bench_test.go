package center_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"snowlight/center"
	"snowlight/tracks"

	"github.com/stretchr/testify/require"
)

// BenchmarkCenterHandle measures the center's cost per final sighting: two JPEG snapshots into the
// local object store, the sighting into SQLite, the stitcher, and its decisions back into SQLite.
// People walk along a line of ten cameras, so most sightings are linked to an earlier one.
//
//	go test -run '^$' -bench CenterHandle -benchtime 2000x ./center/
func BenchmarkCenterHandle(b *testing.B) {
	parts := newRig(b, lineOfCameras(10))
	links := 0
	parts.cfg.OnEvent = func(e center.Event) {
		if e.Decision != nil && e.Decision.Link != nil && !e.Decision.Revised {
			links++
		}
	}
	c, err := center.New(parts.cfg)
	require.NoError(b, err)
	r := rand.New(rand.NewPCG(1, 2))
	face := func(person int) []float32 {
		v := make([]float32, 128)
		pr := rand.New(rand.NewPCG(uint64(person), 7))
		var n float64
		for i := range v {
			v[i] = float32(pr.NormFloat64() + 0.5*r.NormFloat64())
			n += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	jpeg := make([]byte, 12<<10)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		// Person i/10 passes camera i%10 at 20 s intervals, 5 s in view; a new person every 10 s.
		person, cam := i/10, i%10
		enter := t0.Add(time.Duration(person)*10*time.Second + time.Duration(cam)*20*time.Second)
		s := tracks.Sighting{ID: tracks.SightingID(fmt.Sprintf("c%d", cam), enter, uint64(person)), Camera: fmt.Sprintf("c%d", cam),
			TrackID: uint64(person), Enter: enter, Exit: enter.Add(5 * time.Second), Final: true, FaceEmbedding: face(person),
			Boxes: []tracks.TimedBox{{Time: enter, Box: tracks.Box{W: 100, H: 300}, Score: 0.9}}}
		binaryStamp(jpeg, i)
		s.Face = &tracks.Snapshot{Time: enter, JPEG: append([]byte("f"), jpeg...)}
		s.Body = &tracks.Snapshot{Time: enter, JPEG: append([]byte("b"), jpeg...)}
		require.NoError(b, c.Handle(ctx, tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: s.Camera, Frame: s.Exit, Sighting: s}))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sightings/s")
	b.ReportMetric(float64(links)/float64(b.N), "links/sighting")
	require.GreaterOrEqual(b, c.Stats().Decisions, b.N, "decisions for the sightings")
}

// binaryStamp makes each snapshot's content unique, so every one is a new object.
func binaryStamp(b []byte, i int) {
	for k := 0; k < 8; k++ {
		b[k] = byte(i >> (8 * k))
	}
}
