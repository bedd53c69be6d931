package detect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// frameOf is one frame of synthetic persons given to the schedule, at ms milliseconds.
type frameOf struct {
	ms      int
	persons []Person
	want    []reason
}

func person(x, y, w, h, score float32) Person {
	return Person{Box: Box{x, y, w, h}, Score: score}
}

// TestAppearanceSchedule walks the schedule through each rule on synthetic boxes. Every person the
// schedule asks for is recorded as embedded, as the pipeline does when OSNet succeeds.
func TestAppearanceSchedule(t *testing.T) {
	alone := func(x float32) Person { return person(x, 100, 60, 180, 0.9) }
	tests := []struct {
		name   string
		frames []frameOf
	}{
		{"a new person, then once a second", []frameOf{
			{0, []Person{alone(100)}, []reason{reasonNew}},
			{200, []Person{alone(100)}, []reason{skip}},
			{800, []Person{alone(100)}, []reason{skip}},
			{1000, []Person{alone(100)}, []reason{reasonDue}},
			{1200, []Person{alone(100)}, []reason{skip}},
		}},
		{"a walker is followed at their velocity", []frameOf{
			{0, []Person{alone(100)}, []reason{reasonNew}},
			{200, []Person{alone(115)}, []reason{skip}}, // IoU 0.6 with the place, x 0.9: no doubt
			{400, []Person{alone(145)}, []reason{skip}}, // IoU 0.6 with where the velocity put them, 0.33 with the last box
			{600, []Person{alone(175)}, []reason{skip}}, // exactly where the new velocity puts them
		}},
		{"two people close together, every frame", []frameOf{
			{0, []Person{alone(100), alone(500)}, []reason{reasonNew, reasonNew}},
			{200, []Person{alone(100), alone(500)}, []reason{skip, skip}},
			{400, []Person{alone(100), alone(150)}, []reason{reasonNear, reasonNew}}, // someone arrives beside
			{600, []Person{alone(100), alone(150)}, []reason{reasonNear, reasonNear}},
		}},
		{"close to someone hidden behind them", []frameOf{
			{0, []Person{alone(100), alone(150)}, []reason{reasonNew, reasonNew}},
			{200, []Person{alone(100)}, []reason{reasonNear}}, // the other is not found: their place is near
		}},
		{"a doubtful association", []frameOf{
			{0, []Person{alone(100)}, []reason{reasonNew}},
			{200, []Person{person(100, 100, 60, 180, 0.45)}, []reason{skip}}, // below Confident: IoU decides
			{400, []Person{person(100, 100, 60, 180, 0.9)}, []reason{skip}},
			{600, []Person{person(125, 100, 60, 180, 0.8)}, []reason{reasonDoubt}}, // IoU 0.41 x 0.8
			{800, []Person{person(150, 100, 60, 180, 0.9)}, []reason{skip}},        // where they were heading
			{1000, []Person{person(175, 100, 60, 180, 0.45)}, []reason{skip}},      // embedded at 600
			{1600, []Person{person(250, 100, 60, 180, 0.45)}, []reason{reasonDue}}, // a weak one is due too
		}},
		{"a clearly larger view", []frameOf{
			{0, []Person{person(100, 100, 40, 120, 0.9)}, []reason{reasonNew}},
			{200, []Person{person(95, 95, 45, 135, 0.9)}, []reason{skip}},         // 1.27x the area
			{400, []Person{person(92, 90, 50, 150, 0.9)}, []reason{reasonLarger}}, // 1.56x
			{600, []Person{person(90, 88, 52, 156, 0.9)}, []reason{skip}},         // against the new view
		}},
		{"a place is forgotten", []frameOf{
			{0, []Person{alone(100)}, []reason{reasonNew}},
			{200, []Person{alone(100)}, []reason{skip}},
			{2300, []Person{alone(100)}, []reason{reasonNew}}, // unseen for 2.1 s
		}},
		{"the clock goes back", []frameOf{
			{5000, []Person{alone(100)}, []reason{reasonNew}},
			{1000, []Person{alone(100)}, []reason{reasonNew}},
		}},
		{"nobody, then someone", []frameOf{
			{0, nil, nil},
			{200, []Person{alone(100)}, []reason{reasonNew}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newAppearanceMemory(DefaultAppearanceSchedule())
			t0 := time.Unix(1000, 0)
			var want AppearanceStats
			for _, f := range tc.frames {
				at := t0.Add(time.Duration(f.ms) * time.Millisecond)
				got := m.plan(at, f.persons)
				if len(got) != 0 || len(f.want) != 0 {
					require.Equal(t, fmt.Sprint(f.want), fmt.Sprint(got), "at %d ms: reasons", f.ms)
				}
				for i, r := range got {
					if r != skip {
						m.embedded(i, at, f.persons[i].Box)
					}
				}
				want.Persons += len(f.persons)
				for _, r := range f.want {
					m := map[reason]*int{reasonNew: &want.New, reasonNear: &want.Near, reasonDoubt: &want.Doubt,
						reasonLarger: &want.Larger, reasonDue: &want.Due}
					if p := m[r]; p != nil {
						*p++
					}
				}
			}
			assert.Equal(t, want, m.stats)
		})
	}
}

// TestAppearanceScheduleRetriesFailures: a person whose embedding failed (a sliver at the border) is
// asked for again on the next frame, not left without an embedding until the place is due.
func TestAppearanceScheduleRetriesFailures(t *testing.T) {
	m := newAppearanceMemory(DefaultAppearanceSchedule())
	t0 := time.Unix(1000, 0)
	ps := []Person{person(0, 100, 3, 180, 0.9)}
	require.Equal(t, reasonNew, m.plan(t0, ps)[0], "first frame")
	// not recorded as embedded
	assert.Equal(t, reasonDue, m.plan(t0.Add(200*time.Millisecond), ps)[0], "after a failed embedding")
}

// TestAppearanceScheduleZeroEmbedsEveryone: the zero schedule, and no memory at all (Pipeline.Detect),
// embed every person of every frame.
func TestAppearanceScheduleZeroEmbedsEveryone(t *testing.T) {
	ps := []Person{person(100, 100, 60, 180, 0.9), person(400, 100, 60, 180, 0.9)}
	for _, m := range []*appearanceMemory{nil, newAppearanceMemory(AppearanceSchedule{})} {
		for k := range 3 {
			got := m.plan(time.Unix(int64(k), 0), ps)
			assert.Equal(t, fmt.Sprint([]reason{reasonDue, reasonDue}), fmt.Sprint(got), "memory %v frame %d", m != nil, k)
		}
	}
}

// TestCameraSchedulesAppearance runs a camera with the real models over four seconds of vtest at 5 fps
// (the busy street): OSNet runs on fewer persons than it would on every one, every person the schedule
// asked for has a 512-value embedding and the rest none, and each frame's count is what it reports and
// what the metrics count.
func TestCameraSchedulesAppearance(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	cfg := DefaultConfig(modelsDir(t))
	cfg.Metrics = m
	p, err := NewPipeline(cfg)
	require.NoError(t, err)
	defer p.Close()
	gcfg := DefaultGateConfig()
	cam := p.NewCamera("vtest", &gcfg)
	defer cam.Close()
	var persons, embedded int
	sampledFrames(t, vtestPath(t), 5, 4*time.Second, func(i int, at time.Duration, img gocv.Mat) {
		res, err := cam.Process(context.Background(), img, time.Unix(0, 0).Add(at))
		require.NoError(t, err)
		n := 0
		for _, pr := range res.Persons {
			if len(pr.Appearance) != 0 {
				require.Len(t, pr.Appearance, 512, "frame %d: appearance", i)
				n++
			}
		}
		assert.Equal(t, res.Appearances, n, "frame %d: persons embedded, and what the result says", i)
		if i == 0 {
			assert.Len(t, res.Persons, n, "first frame: persons embedded; everyone is new")
		}
		persons += len(res.Persons)
		embedded += n
	})
	st := cam.AppearanceStats()
	t.Logf("%d persons, %d embedded: %+v", persons, embedded, st)
	assert.Equal(t, persons, st.Persons, "stats' persons")
	assert.Equal(t, embedded, st.Embedded(), "stats' embedded")
	assert.Equal(t, float64(embedded), testutil.ToFloat64(m.appear.WithLabelValues("vtest")), "appearance embeddings the metrics count")
	assert.GreaterOrEqual(t, persons, 50, "persons on the busy street")
	assert.Less(t, embedded, persons*9/10, "persons embedded of %d: the schedule should skip some on the busy street", persons)
}
