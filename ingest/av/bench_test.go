package av

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
	"golang.org/x/sys/unix"

	"snowlight/media"
)

// reportThreadCPU locks the benchmark to its OS thread; the func it returns reports the thread's CPU time
// per op ("cpu-ns/op"). That counts the libav work done in cgo calls from the benchmark and nothing else, so
// it stays steady on a busy machine where wall time does not; work on other threads (frame threads) is
// not counted.
func reportThreadCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU(b)
	return func() {
		b.ReportMetric(float64(threadCPU(b)-start)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}

func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	require.NoError(b, unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts))
	return time.Duration(ts.Nano())
}

// benchmarkDecode decodes 720p real footage; convert selects whether each picture becomes a BGR Mat.
func benchmarkDecode(b *testing.B, threads int, convert bool) {
	_, pkts := readAUs(b, encodeVtest(b, "720p.mp4", 100, "-bf", "0", "-vf", "scale=1280:720"))
	d, err := NewDecoder(DecoderOptions{Codec: media.H264, Threads: threads})
	require.NoError(b, err)
	defer d.Close()
	b.ResetTimer()
	if threads == 1 {
		defer reportThreadCPU(b)()
	}
	frames := 0
	for i := 0; frames < b.N; i++ {
		p := pkts[i%len(pkts)]
		if i%len(pkts) == 0 {
			d.Reset()
		}
		require.NoError(b, d.Send(p.AU, int64(i)))
		for {
			_, err := d.Receive()
			if errors.Is(err, ErrNeedInput) {
				break
			}
			require.NoError(b, err)
			frames++
			if convert {
				m, err := d.BGR()
				require.NoError(b, err)
				m.Close()
			}
		}
	}
}

func BenchmarkDecode720pBGR(b *testing.B)         { benchmarkDecode(b, 1, true) }
func BenchmarkDecode720pOnly(b *testing.B)        { benchmarkDecode(b, 1, false) }
func BenchmarkDecode720pBGR2Threads(b *testing.B) { benchmarkDecode(b, 2, true) }

// BenchmarkBGR720p converts one decoded 720p picture again and again: into a new Mat (BGR, what every
// caller does) and into a reused one (BGRInto). Against the same benchmark on a build that converted
// straight into the Mat, it gives the cost of converting into the padded buffer and copying the rows out.
func BenchmarkBGR720p(b *testing.B) {
	_, pkts := readAUs(b, encodeVtest(b, "720p.mp4", 1, "-vf", "scale=1280:720"))
	d, err := NewDecoder(DecoderOptions{Codec: media.H264})
	require.NoError(b, err)
	defer d.Close()
	require.NoError(b, d.Send(pkts[0].AU, 0))
	require.NoError(b, d.Drain())
	_, err = d.Receive()
	require.NoError(b, err)
	b.Run("BGR", func(b *testing.B) {
		defer reportThreadCPU(b)()
		for b.Loop() {
			m, err := d.BGR()
			require.NoError(b, err)
			m.Close()
		}
	})
	b.Run("BGRInto", func(b *testing.B) {
		m := gocv.NewMatWithSize(720, 1280, gocv.MatTypeCV8UC3)
		defer m.Close()
		defer reportThreadCPU(b)()
		for b.Loop() {
			require.NoError(b, d.BGRInto(&m))
		}
	})
}
