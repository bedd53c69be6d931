package densitybench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/detect/infer"
	"snowlight/internal/shareddata"
	"snowlight/models"
	"snowlight/testvideos"
)

func TestSearch(t *testing.T) {
	tests := []struct {
		capacity, start, step, limit int
		want                         int
		tried                        []int
	}{
		{7, 2, 2, 24, 7, []int{2, 4, 6, 8, 7}},
		{8, 2, 2, 24, 8, []int{2, 4, 6, 8, 10, 9}},
		{13, 2, 4, 24, 13, []int{2, 6, 10, 14, 12, 13}},
		{0, 2, 2, 24, 0, []int{2, 1}},
		{30, 2, 2, 6, 6, []int{2, 4, 6}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.capacity, tc.start, tc.step), func(t *testing.T) {
			var tried []int
			got, err := search(tc.start, tc.step, tc.limit, func(n int) (bool, error) {
				tried = append(tried, n)
				return n <= tc.capacity, nil
			})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.tried, tried)
		})
	}
}

// TestTrialThroughTheRealPath runs one short trial of one camera: camsim serving the busy street, an
// ingest worker, a pipeline on ONNX Runtime and an edge. Whether it holds depends on the machine's load,
// so the test checks that frames came through and were measured, not the verdict.
func TestTrialThroughTheRealPath(t *testing.T) {
	ctx := context.Background()
	paths, err := testvideos.Ensure(ctx, testvideos.VTest)
	require.NoError(t, err)
	rt, err := infer.OpenONNXRuntime("", 1)
	require.NoError(t, err, "ONNX Runtime's library: run scripts/setup.sh or set %s", infer.LibraryEnv)
	o := DefaultOptions()
	o.ModelsDir, o.Video, o.Engines = shareddata.Dir(t, models.EnvDir, "models"), paths[testvideos.VTest], []infer.Engine{rt}
	o.Start, o.Max, o.Warmup, o.Window = 1, 1, 3*time.Second, 4*time.Second
	rep, err := Run(ctx, o)
	require.NoError(t, err)
	require.Len(t, rep.Trials, 1)
	tr := rep.Trials[0]
	assert.Equal(t, 20, tr.Expected)
	assert.Positive(t, tr.Frames)
	assert.Positive(t, tr.CPUPerCamSec)
	assert.Positive(t, tr.LatencyP50)
	assert.Positive(t, tr.Cores)
	assert.InDelta(t, tr.CPUPerCamSec*float64(tr.Cameras)*o.Window.Seconds()/float64(tr.Frames), tr.CPUPerFrame, 1e-6)
	assert.Positive(t, rep.Projected("onnxruntime"))
	assert.Equal(t, tr.Holds, rep.Held["onnxruntime"] == 1)
	assert.Contains(t, rep.Markdown(), "| onnxruntime | 1 |")
}
