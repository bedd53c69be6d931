package av

import (
	"errors"
	"testing"
)

// benchmarkDecode decodes 720p real footage; convert selects whether each picture becomes a BGR Mat.
func benchmarkDecode(b *testing.B, threads int, convert bool) {
	_, pkts := readAUs(b, encodeVtest(b, "720p.mp4", 100, "-bf", "0", "-vf", "scale=1280:720"))
	d, err := NewDecoder(DecoderOptions{Codec: H264, Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ResetTimer()
	frames := 0
	for i := 0; frames < b.N; i++ {
		p := pkts[i%len(pkts)]
		if i%len(pkts) == 0 {
			d.Reset()
		}
		if err := d.Send(p.AU, int64(i)); err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := d.Receive(); errors.Is(err, ErrNeedInput) {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			frames++
			if convert {
				m, err := d.BGR()
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		}
	}
}

func BenchmarkDecode720pBGR(b *testing.B)         { benchmarkDecode(b, 1, true) }
func BenchmarkDecode720pOnly(b *testing.B)        { benchmarkDecode(b, 1, false) }
func BenchmarkDecode720pBGR2Threads(b *testing.B) { benchmarkDecode(b, 2, true) }
