package ingest

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"snowlight/media"
)

func rssMiB(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// Thousands of frames through the depacketizer, decoder and BGR conversion, with some frames dropped
// because the consumer is slow: memory stays flat (Mats closed, pictures freed, bookkeeping bounded).
func TestPipelineDoesNotLeak(t *testing.T) {
	aus := realAUs(t, 250)
	if aus == nil {
		t.Skip("test videos unavailable")
	}
	p := newPipeline(t)
	defer p.close()
	p.w.clock.newSession(90000)
	pkts := packetize(t, aus)
	var ts uint32
	n := 0
	run := func(frames int) {
		for i := 0; i < frames/len(aus); i++ {
			for _, pkt := range pkts {
				q := *pkt
				q.Timestamp += ts
				nalus, key, err := p.dp.push(&q)
				if err != nil {
					continue
				}
				p.dec.decode(media.AccessUnit{PTS: time.Duration(q.Timestamp) * time.Second / 90000, NALUs: nalus, Keyframe: key})
				n++
				if n%10 < 7 { // now and then the consumer is too slow and the decoder drops frames
					p.drain()
				}
			}
			ts += uint32(len(aus) * 3600)
		}
	}
	run(500)
	base := rssMiB(t)
	run(3000)
	grown := rssMiB(t) - base
	s := p.w.Status()
	t.Logf("%d frames decoded, %d dropped by the consumer; RSS grew %.1f MiB", s.FramesDecoded, s.DroppedConsumer, grown)
	assert.GreaterOrEqual(t, s.FramesDecoded, uint64(3000), "frames decoded")
	assert.LessOrEqual(t, grown, 24.0, "MiB the RSS grew over 3000 frames")
	assert.LessOrEqual(t, len(p.dec.meta), 64, "entries the decoder's bookkeeping holds")
}
